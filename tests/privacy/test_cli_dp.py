"""``datapredict demo --dp-epsilon``: private jobs with their ε in the table; bad
privacy flags refused before any work."""

from __future__ import annotations

import pytest

from datapredict.cli import main

pytest.importorskip("dp_accounting")


def _classification_rows(out: str) -> list[list[str]]:
    table = out.split("Classification (test accuracy):")[1].split("\n\n")[0]
    return [line.split() for line in table.strip().splitlines()[2:]]


def test_demo_adds_private_jobs_and_an_epsilon_column(capsys):
    args = ["demo", "--merge", "average", "--split", "iid", "--rounds", "3", "--quiet"]
    assert main([*args, "--dp-epsilon", "8", "--dp-delta", "1e-6", "--dp-clip", "0.5"]) == 0
    out = capsys.readouterr().out
    header = out.split("Classification (test accuracy):")[1].strip().splitlines()[0]
    assert header.split()[-1] == "ε"
    rows = _classification_rows(out)
    assert [row[-1] for row in rows] == ["-", "-", "-", "-", "8.00", "-", "8.00"]
    federation = [row[:2] for row in rows[3:]]
    assert federation == [["iid×500", "gradients"]] * 2 + [["iid×500", "model_parameters"]] * 2
    assert "500 children of ~2.3 rows" in out and "100 sampled per round" in out
    assert "ε = 8, δ = 1e-06" in out and "clip norm C=0.5" in out


def test_the_private_jobs_are_close_to_the_same_federation_without_privacy(capsys):
    """At ε = 8 (δ = 1e-5) on digits the private jobs train on 500 children, 100 a round:
    their accuracy is within 10 points of the same jobs without privacy (the demo's old
    private jobs, on its 5 children, scored 0.13 to 0.19)."""
    args = ["demo", "--merge", "average", "--split", "iid", "--quiet", "--dp-epsilon", "8"]
    assert main(args) == 0
    rows = _classification_rows(capsys.readouterr().out)
    scores = {(row[1], row[-1] != "-"): float(row[4]) for row in rows if row[0] == "iid×500"}
    for strategy in ("gradients", "model_parameters"):
        plain, private = scores[strategy, False], scores[strategy, True]
        assert plain > 0.92 and private > 0.84
        assert plain - private < 0.10


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
