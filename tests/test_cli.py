"""`datapredict demo`: runs end to end, prints its table, draws its plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import datapredict
from datapredict.cli import main


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


def test_demo_reports_bad_options_without_a_traceback(capsys):
    code = main(["demo", "--children", "0", "--quiet"])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "datapredict.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--plot" in out and "--backend" in out


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"datapredict {datapredict.__version__}"


def test_the_package_declares_its_type_hints():
    assert (Path(datapredict.__file__).parent / "py.typed").is_file()
