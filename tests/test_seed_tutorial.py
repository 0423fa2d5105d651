"""The seed's tutorial runs step by step (examples/seed_tutorial.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed_tutorial.py"


def test_every_step_of_the_seed_tutorial_runs(capsys):
    spec = importlib.util.spec_from_file_location("seed_tutorial", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main()
    out = capsys.readouterr().out
    assert results["gradients"].shape == (11, 1)
    assert results["model_parameters"].shape == (11, 1)
    assert np.isfinite(results["model_parameters"]).all()
    score = float(out.rsplit("diabetes: ", 1)[1])
    assert score > 0.4  # the merged linear model explains diabetes about as well as lstsq (0.52)
