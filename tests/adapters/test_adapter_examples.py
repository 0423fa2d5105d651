"""The adapters' examples run and show what their docstrings claim."""

from __future__ import annotations

import numpy as np
import pytest


def test_sklearn_children_come_within_two_points_of_central_sgd(load_example, capsys):
    results = load_example("sklearn_federated").main([])
    assert "breast_cancer" in capsys.readouterr().out
    for name, run in results.items():
        assert abs(run["federated"] - run["central"]) <= 0.02, name
        assert run["central"] > 0.9, name


@pytest.mark.ray
@pytest.mark.slow
def test_sklearn_children_on_ray_give_the_inline_parameters(load_example):
    example = load_example("sklearn_federated")
    inline = example.main(["--rounds", "3"])
    on_ray = example.main(["--rounds", "3", "--backend", "ray"])
    for name, run in inline.items():
        for got, expected in zip(on_ray[name]["parameters"], run["parameters"], strict=True):
            np.testing.assert_array_equal(got, expected)
        assert on_ray[name]["federated"] == run["federated"]


def test_pytorch_fedavg_fedadam_and_median_come_within_two_points_of_central(load_example, capsys):
    accuracies = load_example("pytorch_federated").main([])
    out = capsys.readouterr().out
    assert "vs central" in out and "FedAdam" in out
    assert accuracies["central"] > 0.95
    for name in ("FedAvg", "FedAdam", "median"):
        assert abs(accuracies[name] - accuracies["central"]) <= 0.02, name
