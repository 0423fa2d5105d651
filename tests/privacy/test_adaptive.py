"""Adaptive clipping: the clip norm's update rule and the noise's split, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datapredict.errors import InvalidOptionError
from datapredict.privacy import AdaptiveClipping, PrivateMean, release_seed
from datapredict.privacy.adaptive import next_clip_norm, update_noise_multiplier


def test_next_clip_norm_by_hand():
    norms = np.array([0.5, 1.0, 2.0, 3.0])  # 2 of 4 at most C = 1 (1.0 counts: <=)
    seed = np.random.SeedSequence(3)
    noise = 0.8 * np.random.default_rng(seed).standard_normal()
    fraction = (2 + noise) / 5  # m = 5 (one child did not arrive)
    expected = 1.0 * math.exp(-0.2 * (fraction - 0.7))
    assert next_clip_norm(1.0, norms, 5, 0.7, 0.2, 0.8, seed) == pytest.approx(expected, rel=1e-15)


def test_without_count_noise_the_clip_norm_moves_toward_the_quantile():
    norms = np.full(10, 5.0)  # nobody under C = 1: b̄ = 0 < γ, so C grows by exp(η γ)
    grown = next_clip_norm(1.0, norms, 10, 0.5, 0.2, 0.0, np.random.SeedSequence(0))
    assert grown == pytest.approx(math.exp(0.1))
    shrunk = next_clip_norm(1.0, norms / 100, 10, 0.5, 0.2, 0.0, np.random.SeedSequence(0))
    assert shrunk == pytest.approx(math.exp(-0.1))


def test_update_noise_multiplier_by_hand():
    z, sigma_b = 1.0, 2.0
    assert update_noise_multiplier(z, sigma_b) == pytest.approx((1 - 1 / 16) ** -0.5)
    with pytest.raises(InvalidOptionError, match="count_noise"):
        update_noise_multiplier(2.0, 1.0)  # 2 σ_b = z: nothing left for the update


def test_aggregate_returns_the_adapted_clip_norm_in_its_state():
    seed = np.random.SeedSequence(11)
    policy = AdaptiveClipping(target_quantile=0.5, learning_rate=0.3, count_noise=1.5)
    step = PrivateMean(1.0, 1.2, 4, seed, adaptive=policy, count_std=1.5)
    rows = np.array([[3.0, 4.0], [0.1, 0.0], [0.0, 0.2]])
    _, state = step.aggregate(rows, step.init())
    expected = next_clip_norm(
        1.0, np.array([5.0, 0.1, 0.2]), 4, 0.5, 0.3, 1.5, release_seed(seed, 0, 1)
    )
    assert float(state.clip_norm) == pytest.approx(expected, rel=1e-15)
    assert state.releases == 1
    # the next release clips at the new norm: its noise's std is z C' / m
    merged, _ = step.aggregate(np.zeros((1, 2)), state)
    rng = np.random.default_rng(release_seed(seed, 1))
    np.testing.assert_allclose(merged, rng.standard_normal(2) * 1.2 * expected / 4, rtol=1e-15)


def test_default_count_noise_is_m_over_20():
    assert AdaptiveClipping().count_std(100) == 5.0
    assert AdaptiveClipping(count_noise=2.0).count_std(100) == 2.0
