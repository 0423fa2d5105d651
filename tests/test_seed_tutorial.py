"""The seed's tutorial runs step by step (examples/seed_tutorial.py)."""

from __future__ import annotations

import numpy as np


def test_every_step_of_the_seed_tutorial_runs(capsys, load_example):
    results = load_example("seed_tutorial").main()
    out = capsys.readouterr().out
    assert results["gradients"].shape == (11, 1)
    assert results["model_parameters"].shape == (11, 1)
    assert np.isfinite(results["model_parameters"]).all()
    score = float(out.rsplit("diabetes: ", 1)[1])
    assert score > 0.4  # the merged linear model explains diabetes about as well as lstsq (0.52)
