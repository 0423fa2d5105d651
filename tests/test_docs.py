"""Every Python block of README.md and docs/**/*.md runs as written, so no snippet rots.

A page's ```` ```python ```` blocks run in order in one namespace (a later block uses
the names of an earlier one), in a temporary working directory. An HTML comment on the
line right before a block changes that, visibly in the page's source:

- ``<!-- skip: REASON -->``: the block never runs (e.g. it needs a real cluster); every
  skip is listed in :data:`SKIPPED` with its reason, so adding one is a reviewed change;
- ``<!-- test: ray -->``: the block runs alone, in its own namespace, in a test marked
  ``ray`` (it starts a local Ray instance, as the Ray backend's tests do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# page (relative to the repository) -> the reasons of its skipped blocks, in page order
SKIPPED: dict[str, list[str]] = {
    "docs/guides/backends.md": ["joins a Ray cluster that is already running (address='auto')"],
}

_BLOCK = re.compile(
    r"^(?:<!--\s*(?P<kind>[a-z]+):\s*(?P<value>.*?)\s*-->\n)?```python[^\n]*\n(?P<code>.*?)^```\s*$",
    re.M | re.S,
)
_ANY_PYTHON_FENCE = re.compile(r"^\s*```python", re.M)


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is, its code, and its marker (if any)."""

    page: str
    line: int
    code: str
    kind: str | None = None
    value: str = ""

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(text: str, page: str) -> list[Block]:
    """The Python blocks of a page's ``text``, checked for a valid marker."""
    found = []
    for match in _BLOCK.finditer(text):
        code_start = match.start("code")
        line = text.count("\n", 0, code_start) + 1
        block = Block(page, line, match["code"], match["kind"], match["value"] or "")
        if block.kind not in (None, "skip", "test"):
            raise ValueError(f"{block.where}: unknown marker <!-- {block.kind}: ... -->")
        if block.kind == "test" and block.value != "ray":
            raise ValueError(f"{block.where}: the only test marker is <!-- test: ray -->")
        if block.kind == "skip" and not block.value:
            raise ValueError(f"{block.where}: a skipped block must say why")
        found.append(block)
    return found


def run(to_run: list[Block]) -> dict:
    """Execute ``to_run`` in order in one namespace; return the namespace."""
    namespace: dict = {"__name__": "__docs__"}
    for block in to_run:
        exec(compile(block.code, block.where, "exec"), namespace)
    return namespace


def _page_blocks() -> dict[str, list[Block]]:
    return {
        str(path.relative_to(ROOT)): blocks(path.read_text(), str(path.relative_to(ROOT)))
        for path in PAGES
    }


PAGE_BLOCKS = _page_blocks()
IN_ORDER = {
    page: [b for b in found if b.kind is None]
    for page, found in PAGE_BLOCKS.items()
    if any(b.kind is None for b in found)
}
RAY_BLOCKS = [b for found in PAGE_BLOCKS.values() for b in found if b.kind == "test"]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A temporary working directory (checkpoints land there) and a headless matplotlib."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("page", sorted(IN_ORDER))
def test_the_blocks_of_a_page_run_in_order(page, sandbox):
    run(IN_ORDER[page])


@pytest.mark.ray
@pytest.mark.parametrize("block", RAY_BLOCKS, ids=[b.where for b in RAY_BLOCKS])
def test_a_ray_block_runs_alone(block, sandbox):
    pytest.importorskip("ray")
    run([block])


def test_the_skipped_blocks_are_the_listed_ones():
    skipped = {
        page: [b.value for b in found if b.kind == "skip"]
        for page, found in PAGE_BLOCKS.items()
        if any(b.kind == "skip" for b in found)
    }
    assert skipped == SKIPPED


def test_every_python_fence_is_collected():
    """An indented or oddly closed block would otherwise never run."""
    for path in PAGES:
        page = str(path.relative_to(ROOT))
        text = path.read_text()
        assert len(_ANY_PYTHON_FENCE.findall(text)) == len(PAGE_BLOCKS[page]), page


def test_the_readme_shows_each_kind_of_user_a_running_snippet():
    code = "\n".join(b.code for b in PAGE_BLOCKS["README.md"] if b.kind != "skip")
    for needed in ("DistributedGradients", "SklearnChild", "TorchChild", "RayBackend"):
        assert needed in code, needed
    assert [b.where for b in RAY_BLOCKS if b.page == "README.md"], "the cluster snippet"


def test_markers_are_read_and_a_failing_block_fails():
    text = (
        "```python\nx = 1\n```\n"
        "<!-- skip: needs a cluster -->\n```python\nraise SystemExit\n```\n"
        "<!-- test: ray -->\n```python\ny = 2\n```\n"
        "```python\nz = x / 0\n```\n"
    )
    found = blocks(text, "page.md")
    assert [(b.kind, b.value, b.line) for b in found] == [
        (None, "", 2),
        ("skip", "needs a cluster", 6),
        ("test", "ray", 10),
        (None, "", 13),
    ]
    assert run(found[:1])["x"] == 1
    with pytest.raises(ZeroDivisionError):
        run([found[0], found[3]])
    for bad in ("<!-- skip: -->", "<!-- test: gpu -->", "<!-- maybe: later -->"):
        with pytest.raises(ValueError, match=r"page\.md:3"):
            blocks(f"{bad}\n```python\npass\n```\n", "page.md")


def test_the_readme_links_to_files_that_exist():
    """mkdocs checks the links of docs/ (``--strict``); the README is outside its reach."""
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((?!https?://)([^)#]+)(?:#[^)]*)?\)", text)
    assert "docs/guides/bring-your-own-model.md" in targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing
