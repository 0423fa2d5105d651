"""The examples beyond the seed's tutorial run and show what their docstrings claim."""

from __future__ import annotations

import numpy as np


def test_robust_rules_resist_hostile_children_where_the_average_does_not(load_example, capsys):
    accuracies = load_example("robust_aggregation").main(["--rounds", "8"])
    out = capsys.readouterr().out
    assert "test accuracy" in out
    for name, accuracy in accuracies.items():
        assert f"{name:<28s} {accuracy:.4f}" in out  # each row printed as returned
    assert accuracies["average, no hostile child"] > 0.9
    assert accuracies["average"] < 0.5  # the average follows the hostile children
    robust = ("median", "trimmed mean (beta=0.3)", "krum (f=3)", "geometric median")
    assert set(accuracies) == {"average, no hostile child", "average", *robust}
    for rule in robust:  # every robust rule holds (8 rounds: 0.89-0.94)
        assert accuracies[rule] > 0.85


def test_async_runs_record_their_staleness_and_drops(load_example):
    rounds, children = 10, 6
    summary = load_example("async_staleness").main(["--rounds", str(rounds)])
    assert summary["sync"]["staleness_max"] == 0
    assert all(run["pushes"] == rounds * children for run in summary.values())
    bounded = summary["async, max_staleness=2"]
    assert bounded["staleness_max"] <= 2 and bounded["dropped"] > 0
    assert all(run["accuracy"] > 0.8 for run in summary.values())


def test_a_resumed_job_ends_with_the_uninterrupted_parameters(load_example, capsys):
    results = load_example("checkpoint_resume").main(["--rounds", "6", "--crash-after", "3"])
    out = capsys.readouterr().out
    assert "crashed after round 2" in out and "resumed at round 3" in out
    np.testing.assert_array_equal(results["resumed"], results["uninterrupted"])
