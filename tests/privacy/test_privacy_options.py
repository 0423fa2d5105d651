"""Bad options are refused when made, with errors naming the option."""

from __future__ import annotations

import numpy as np
import pytest

import datapredict as dp
from datapredict.errors import InvalidOptionError
from datapredict.privacy import AdaptiveClipping, DifferentialPrivacy


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"clip_norm": 0.0, "noise_multiplier": 1.0}, "clip_norm"),
        ({"clip_norm": float("inf"), "noise_multiplier": 1.0}, "clip_norm"),
        ({"noise_multiplier": -1.0}, "noise_multiplier"),
        ({"noise_multiplier": True}, "noise_multiplier"),
        ({"target_epsilon": 0.0}, "target_epsilon"),
        ({"noise_multiplier": 1.0, "delta": 1.0}, "delta"),
        ({"noise_multiplier": 1.0, "delta": 0.0}, "delta"),
        ({}, "noise_multiplier"),
        ({"noise_multiplier": 1.0, "adaptive": "yes"}, "adaptive"),
    ],
)
def test_bad_differential_privacy(options, name):
    with pytest.raises(InvalidOptionError, match=f"'{name}' option of DifferentialPrivacy"):
        DifferentialPrivacy(**options)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"target_quantile": 1.0}, "target_quantile"),
        ({"target_quantile": 0.0}, "target_quantile"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"count_noise": -2.0}, "count_noise"),
    ],
)
def test_bad_adaptive_clipping(options, name):
    with pytest.raises(InvalidOptionError, match=f"'{name}' option of AdaptiveClipping"):
        AdaptiveClipping(**options)


def _job(**options):
    rng = np.random.default_rng(0)
    shards = [(rng.standard_normal((6, 3)), rng.integers(0, 2, 6)) for _ in range(4)]
    return dp.train_distributed(
        lambda: dp.LogisticRegression(learning_rate=0.1), shards, rounds=2, **options
    )


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"mode": "async"}, "mode"),
        ({"merger": "median"}, "merger"),
        ({"merger": "fedavg"}, "merger"),
        ({"merger": dp.ModelParametersMerger(merge_type="average")}, "merger"),
        ({"aggregation": dp.Aggregation(max_norm=1.0)}, "aggregation"),
    ],
)
def test_train_distributed_refuses_what_dp_cannot_do(options, name):
    privacy = DifferentialPrivacy(noise_multiplier=1.0)
    with pytest.raises(InvalidOptionError, match=f"'{name}' option of train_distributed"):
        _job(privacy=privacy, **options)


def test_train_distributed_refuses_a_privacy_that_is_not_an_option_object():
    with pytest.raises(InvalidOptionError, match="'privacy' option of train_distributed"):
        _job(privacy={"noise_multiplier": 1.0})


def test_adaptive_count_noise_too_small_for_the_noise_multiplier():
    privacy = DifferentialPrivacy(noise_multiplier=2.0, adaptive=AdaptiveClipping(count_noise=0.5))
    with pytest.raises(InvalidOptionError, match="'count_noise' option of AdaptiveClipping"):
        _job(privacy=privacy)


def test_exported_from_the_top_level():
    assert dp.DifferentialPrivacy is DifferentialPrivacy
    assert dp.AdaptiveClipping is AdaptiveClipping
