"""`datapredict demo`: runs end to end, prints its table, draws its plot; refuses bad
options before any work; its help shows every option's default."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import datapredict
import datapredict.datasets
from datapredict._cli_args import MERGES
from datapredict.cli import main, safe_learning_rate
from datapredict.coordinators.merger import SEED_MERGE_TYPES
from datapredict.merge import MERGE_RULES, SERVER_OPTIMIZERS


def test_demo_prints_a_table_with_every_strategy_and_draws_the_plot(tmp_path, capsys):
    plot = tmp_path / "cost.png"
    code = main(
        [
            "demo",
            "--rounds",
            "3",
            "--children",
            "3",
            "--quiet",
            "--plot",
            str(plot),
            "--merge",
            "average",
            "--merge",
            "median",
            "--server-optimizer",
            "fedadam",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for fragment in (
        "centralised",
        "gradients",
        "median",
        "fedadam",
        "dirichlet",
        "regression_mean",
    ):
        assert fragment in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _table_rows(out: str, split: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.startswith(f"{split} ")]


def _regression_rows(out: str) -> dict[str, float]:
    """The regression table's R² by merge ("squares" for the least squares)."""
    table = out.split("Regression on diabetes")[1].split("\n\n")[0].split("\n---")[1]
    rows = [line.split() for line in table.strip().splitlines()[1:]]
    return {row[2] if row[0] == "iid" else "squares": float(row[-4]) for row in rows}


def test_fifty_children_fit_the_regression_table_without_diverging(capsys, caplog):
    """With 50 children of ~7 rows the demo's old step (0.3) made children diverge and
    leave the job, and regression_mean then failed on the missing candidates."""
    args = ["demo", "--children", "50", "--rounds", "1", "--split", "iid", "--quiet"]
    assert main([*args, "--merge", "average"]) == 0
    out = capsys.readouterr().out
    assert "failed and leaves the job" not in caplog.text
    assert "50 children of ~6.6 rows" in out
    scores = _regression_rows(out)
    assert scores["regression_mean"] == pytest.approx(scores["squares"], abs=0.002)
    assert scores["average"] == pytest.approx(scores["squares"], abs=0.01)


def test_the_regression_table_takes_at_most_one_child_per_row(monkeypatch, capsys):
    """More --children than diabetes has training rows: one row per child, no error."""
    load = datapredict.datasets.load_dataset

    def small_diabetes(name, **options):
        data = load(name, **options)
        if name != "diabetes":
            return data
        return dataclasses.replace(data, X=data.X[:40], y=data.y[:40])

    monkeypatch.setattr(datapredict.datasets, "load_dataset", small_diabetes)
    args = ["demo", "--dataset", "iris", "--children", "45", "--rounds", "1", "--quiet"]
    assert main([*args, "--split", "iid", "--merge", "average"]) == 0
    out = capsys.readouterr().out
    assert "30 children of ~1.0 rows" in out
    assert set(_regression_rows(out)) == {"squares", "average", "regression_mean"}


@pytest.mark.parametrize(
    ("shards", "expected"),
    [
        ([(np.array([[2.0]]), None)], 1 / 5),  # X~ = [1, 2]: eigenvalues 0 and 1 + 4
        ([(np.array([[0.0], [0.0]]), None)], 1.0),  # only the intercept: curvature 1
        ([(np.array([[1.0]]), None), (np.array([[3.0]]), None)], 1 / 10),  # the worst child
    ],
)
def test_the_safe_learning_rate_is_one_over_the_largest_curvature(shards, expected):
    assert safe_learning_rate(shards) == pytest.approx(expected, rel=1e-12)


def test_merge_takes_a_comma_separated_list_and_repeats(capsys):
    args = ["demo", "--rounds", "1", "--split", "iid", "--quiet"]
    code = main([*args, "--merge", "median,KRUM", "--merge", "median", "--merge", "fedavg"])
    out = capsys.readouterr().out
    assert code == 0
    merges = [row[2] for row in _table_rows(out, "iid") if row[1] == "model_parameters"]
    assert merges[:3] == ["median", "krum", "fedavg"]  # in order, median once


def test_server_optimizer_takes_a_comma_separated_list(capsys):
    args = ["demo", "--rounds", "1", "--split", "iid", "--quiet", "--merge", "average"]
    assert main([*args, "--server-optimizer", "fedadam,fedyogi"]) == 0
    rows = _table_rows(capsys.readouterr().out, "iid")
    assert [row[3] for row in rows if row[3] != "-"][:2] == ["fedadam", "fedyogi"]


def test_the_merge_names_are_the_registry_and_the_seeds():
    assert set(MERGES) == set(MERGE_RULES) | set(SEED_MERGE_TYPES) - {"regression_mean"}


@pytest.fixture
def no_work(monkeypatch):
    """Any attempt to load a dataset fails the test: the options must be refused first."""

    def load_dataset(*args, **kwargs):
        raise AssertionError("the demo started working before refusing its options")

    monkeypatch.setattr(datapredict.datasets, "load_dataset", load_dataset)


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("--merge", "median,nope", MERGES),
        ("--merge", "median,", MERGES),
        ("--server-optimizer", "fedadam,nope", tuple(SERVER_OPTIMIZERS)),
    ],
)
def test_an_unknown_name_is_refused_before_any_work_listing_every_valid_name(
    no_work, capsys, option, value, valid
):
    with pytest.raises(SystemExit) as stop:
        main(["demo", option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and repr(value) in err
    listed = re.search(r"is not one of ([\w, ]+)", err).group(1).split(", ")
    assert listed == list(valid)


def test_regression_mean_is_refused_with_the_reason(no_work, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--merge", "regression_mean"])
    assert "linear regression" in capsys.readouterr().err


def test_a_rule_needing_more_children_is_refused_before_any_work(no_work, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--children", "4", "--merge", "median,krum"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--merge krum" in err and "got K = 4" in err and "--children 4" in err


@pytest.mark.parametrize(
    ("option", "value"), [("--children", "0"), ("--rounds", "-1"), ("--alpha", "0")]
)
def test_a_bad_number_is_refused_before_any_work(no_work, capsys, option, value):
    with pytest.raises(SystemExit) as stop:
        main(["demo", option, value])
    assert stop.value.code == 2
    assert f"argument {option}: expected" in capsys.readouterr().err


def test_demo_reports_bad_data_without_a_traceback(capsys):
    code = main(["demo", "--dataset", "iris", "--children", "500", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("datapredict: error:") and "n_children" in err
    assert "Traceback" not in err


def _help(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "datapredict.cli", *args, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _options(help_text: str) -> dict[str, str]:
    """Each option of the help's "options:" section -> its help text (flags removed)."""
    section = help_text.split("\noptions:\n", 1)[1]
    entries: dict[str, str] = {}
    flag = None
    for line in section.splitlines():
        start = re.match(r"  (-\S.*?)(?:  +(.*)|$)", line)
        if start:
            flag = re.findall(r"--?[\w-]+", start.group(1))[-1]
            entries[flag] = start.group(2) or ""
        elif flag is not None and line.strip():
            entries[flag] += " " + line.strip()
    return entries


def test_help_shows_every_options_help_and_default_without_markup():
    from datapredict._cli_args import parser as _parser

    out = _help("demo")
    options = _options(out)
    expected = {a.option_strings[-1] for a in _parser()[1]._actions if a.option_strings}
    assert set(options) == expected
    for flag, text in options.items():
        if flag != "--help":
            assert re.search(r"\(default: [^)]+\)$", text), f"{flag}: {text!r}"
    assert "--backend" in out and "--plot" in out
    merge = options["--merge"].replace("- ", "-")
    assert all(name in merge for name in MERGES)
    for text in (out, _help()):
        assert "`" not in text and ":class:" not in text and ":data:" not in text


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"datapredict {datapredict.__version__}"


def test_the_package_declares_its_type_hints():
    assert (Path(datapredict.__file__).parent / "py.typed").is_file()
