"""The coordinator takes each push's update norm as it arrives; the release uses them."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import datapredict as dp
from datapredict.coordinators._apply import UpdateMixin
from datapredict.datasets import load_dataset, split
from datapredict.privacy import DifferentialPrivacy


@pytest.fixture(scope="module")
def shards():
    data = load_dataset("digits")
    return split(data.X[:300], data.y[:300], 12, random_state=0)


def _job(shards, strategy):
    factory = partial(dp.LogisticRegression, learning_rate=0.5, classes=range(10))
    privacy = DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.0)
    return dp.train_distributed(
        factory, shards, strategy=strategy, rounds=3, children_per_round=6,
        local_iterations=2, random_state=0, privacy=privacy,
    )  # fmt: skip


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_norms_taken_on_arrival_give_the_release_computed_at_the_end(shards, strategy, monkeypatch):
    arrived = _job(shards, strategy)
    calls = []
    original = UpdateMixin._norms

    def spy(self, item, rows):
        norms = original(self, item, rows)
        calls.append(norms)
        return norms

    monkeypatch.setattr(UpdateMixin, "_norms", spy)
    _job(shards, strategy)
    assert len(calls) == 3 and all(n is not None and len(n) == 6 for n in calls)

    monkeypatch.setattr(UpdateMixin, "_norms", lambda self, item, rows: None)
    at_the_end = _job(shards, strategy)
    if strategy == "gradients":  # the same dots, row by row
        np.testing.assert_array_equal(arrived.main_parameters, at_the_end.main_parameters)
    else:  # centred norms summed over other column blocks: equal to rounding
        np.testing.assert_allclose(arrived.main_parameters, at_the_end.main_parameters, rtol=1e-12)
