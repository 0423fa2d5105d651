"""``datapredict demo --dp-epsilon``: private jobs with their ε in the table; bad
privacy flags refused before any work."""

from __future__ import annotations

import pytest

from datapredict.cli import main

pytest.importorskip("dp_accounting")


def test_demo_adds_private_jobs_and_an_epsilon_column(capsys):
    args = ["demo", "--merge", "average", "--split", "iid", "--rounds", "3", "--quiet"]
    assert main([*args, "--dp-epsilon", "8", "--dp-delta", "1e-6", "--dp-clip", "0.5"]) == 0
    table = capsys.readouterr().out.split("Classification (test accuracy):")[1]
    table = table.split("Regression")[0].strip().splitlines()
    assert table[0].split()[-1] == "ε"
    rows = [line.split() for line in table[2:]]
    assert [row[-1] for row in rows] == ["-", "-", "-", "8.00", "8.00"]
    assert [row[1] for row in rows[-2:]] == ["gradients", "model_parameters"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dp-epsilon", "0"], "argument --dp-epsilon: expected a number > 0"),
        (
            ["--dp-epsilon", "8", "--dp-delta", "1"],
            "argument --dp-delta: expected a number in (0, 1)",
        ),
        (["--dp-epsilon", "8", "--dp-clip", "-1"], "argument --dp-clip: expected a number > 0"),
        (["--dp-delta", "1e-6"], "--dp-delta needs --dp-epsilon"),
        (["--dp-clip", "2"], "--dp-clip needs --dp-epsilon"),
        (["--dp-epsilon", "8", "--mode", "async"], "--dp-epsilon needs --mode sync"),
    ],
)
def test_bad_privacy_flags_are_refused_before_any_work(monkeypatch, capsys, argv, message):
    import datapredict.cli

    def no_work(args):
        raise AssertionError("the demo started")

    monkeypatch.setattr(datapredict.cli, "demo", no_work)
    with pytest.raises(SystemExit) as stop:
        main(["demo", *argv])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
