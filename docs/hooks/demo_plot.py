"""MkDocs hook: draw the demo's cost-per-round plot into ``docs/assets/`` before a build.

The plot is ``datapredict demo --plot`` on a few merge rules (a few seconds); it is
generated, not committed (``docs/assets/*.png`` is ignored by git), and redrawn only
when it is missing or older than a source file of the package.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

ARGS = ["demo", "--merge", "average", "--merge", "median", "--merge", "fedavg", "--quiet"]
log = logging.getLogger("mkdocs.hooks.demo_plot")


def _stale(plot: Path, sources: Path) -> bool:
    if not plot.exists():
        return True
    newest = max(path.stat().st_mtime for path in sources.rglob("*.py"))
    return plot.stat().st_mtime < newest


def on_pre_build(config) -> None:
    """Run the demo into ``docs/assets/demo_cost.png`` if the plot is missing or stale."""
    from datapredict import cli

    plot = Path(config["docs_dir"]) / "assets" / "demo_cost.png"
    if not _stale(plot, Path(cli.__file__).parent):
        return
    plot.parent.mkdir(exist_ok=True)
    log.info("drawing %s with: datapredict %s", plot, " ".join(ARGS))
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main([*ARGS, "--plot", str(plot)])
    if code != 0:
        raise RuntimeError(f"datapredict {' '.join(ARGS)} exited with {code}")
