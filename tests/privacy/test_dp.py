"""DP-FedAvg's pure steps: clipping (hand-computed and by property), the fixed
denominator, the noise's standard deviation (a chi-square test at a stated false-alarm
rate) and the noise's seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from datapredict.privacy import (
    PrivacyState,
    PrivateMean,
    clip_vector,
    clipped_mean,
    gaussian_noise,
    release_seed,
)
from datapredict.privacy.dp import clipped_mean_around, update_norms, weighted_sum


def test_clipped_mean_by_hand():
    # norms 5, 0.5 and 0: factors 1/5, 1 and 1; divided by m = 4, not by the 3 rows
    rows = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    mean, norms = clipped_mean(rows, 1.0, 4)
    np.testing.assert_allclose(norms, [5.0, 0.5, 0.0])
    np.testing.assert_allclose(mean, [(0.6 + 0.3) / 4, (0.8 + 0.4) / 4])


def test_clipped_mean_centred_by_hand():
    # updates: (3, 4) and (0, -0.5) around the center (1, 1)
    center = np.array([1.0, 1.0])
    rows = np.array([[4.0, 5.0], [1.0, 0.5]])
    mean, norms = clipped_mean(rows, 2.0, 2, center)
    np.testing.assert_allclose(norms, [5.0, 0.5])
    np.testing.assert_allclose(mean, [(1.2 + 0.0) / 2, (1.6 - 0.5) / 2])


def test_clip_vector_by_hand():
    np.testing.assert_allclose(clip_vector(np.array([6.0, 8.0]), 5.0), [3.0, 4.0])
    np.testing.assert_array_equal(clip_vector(np.array([0.3, 0.4]), 5.0), [0.3, 0.4])


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    rows=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 700)), elements=finite),
    clip=st.floats(1e-3, 1e3),
    extra=st.integers(0, 3),
    centred=st.booleans(),
)
def test_clipped_mean_equals_the_explicit_clip(rows, clip, extra, centred):
    """Against a loop that materialises each clipped update: every clipped norm is at
    most C, and the mean over m = K + extra is their sum over m."""
    center = np.linspace(-1, 1, rows.shape[1]) if centred else None
    updates = rows - center if centred else rows
    clipped = []
    for update in updates:
        norm = np.linalg.norm(update)
        clipped.append(update * min(1.0, clip / norm) if norm > 0 else update)
    clipped = np.array(clipped)
    assert (np.linalg.norm(clipped, axis=1) <= clip * (1 + 1e-12)).all()
    per_round = rows.shape[0] + extra
    mean, norms = clipped_mean(rows, clip, per_round, center)
    np.testing.assert_allclose(norms, np.linalg.norm(updates, axis=1), rtol=1e-12)
    scale = max(1.0, np.abs(updates).max())
    np.testing.assert_allclose(mean, clipped.sum(axis=0) / per_round, atol=1e-12 * scale)


def test_centred_norms_do_not_cancel_in_float32():
    """Children 1e-4 away from parameters near 100: |p|² − 2p·c + |c|² would lose every
    digit in float32; the blocked difference keeps them."""
    rng = np.random.default_rng(0)
    center = (100 + rng.standard_normal(5000)).astype(np.float32)
    rows = center + (1e-4 * rng.standard_normal((3, 5000))).astype(np.float32)
    exact = np.linalg.norm(rows.astype(np.float64) - center.astype(np.float64), axis=1)
    np.testing.assert_allclose(update_norms(rows, center), exact, rtol=1e-5)
    weights = np.array([0.5, 0.25, 0.25])
    expected = weights @ (rows.astype(np.float64) - center.astype(np.float64))
    np.testing.assert_allclose(weighted_sum(rows, weights, center), expected, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("centred", [False, True])
def test_updates_whose_squares_overflow_float32_are_still_clipped(centred):
    rows = np.array([[3e30, 4e30], [0.3, 0.4]], dtype=np.float32)
    center = np.zeros(2, dtype=np.float32) if centred else None
    mean, norms = clipped_mean(rows, 1.0, 2, center)
    np.testing.assert_allclose(norms, [5e30, 0.5], rtol=1e-6)
    np.testing.assert_allclose(mean, [(0.6 + 0.3) / 2, (0.8 + 0.4) / 2], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_standard_deviation_chi_square(dtype):
    """Σ x_i² / σ² ~ χ²_P for P independent N(0, σ²) values: a two-sided test at
    α = 1e-6 (false-alarm rate 1e-6; the seed is fixed, so the test is deterministic)."""
    size, std = 200_000, 0.37
    noise = gaussian_noise(size, std, np.random.SeedSequence(123), dtype)
    assert noise.dtype == dtype and noise.shape == (size,)
    statistic = float(np.sum(noise.astype(np.float64) ** 2) / std**2)
    alpha = 1e-6
    low, high = stats.chi2.ppf([alpha / 2, 1 - alpha / 2], size)
    assert low < statistic < high
    # and a wrong σ (5 % off) is caught by the same test
    wrong = float(np.sum(noise.astype(np.float64) ** 2) / (1.05 * std) ** 2)
    assert not low < wrong < high


def test_aggregate_adds_the_seeded_noise_of_its_release():
    rows = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    seed = np.random.SeedSequence(5)
    step = PrivateMean(clip_norm=1.0, noise_multiplier=2.0, per_round=4, seed=seed)
    state = step.init()
    merged, after = step.aggregate(rows, state)
    mean, _ = clipped_mean(rows, 1.0, 4)
    noise = gaussian_noise(3, 2.0 * 1.0 / 4, release_seed(seed, 0))
    np.testing.assert_array_equal(merged, mean + noise)
    assert after.releases == 1 and float(after.clip_norm) == 1.0
    again, _ = step.aggregate(rows, state)  # pure: same state, same release
    np.testing.assert_array_equal(again, merged)
    second, _ = step.aggregate(rows, after)  # the next release draws other noise
    assert not np.array_equal(second, merged)
    np.testing.assert_array_equal(rows, [[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])  # not modified


def test_aggregate_centred_returns_parameters():
    center = np.array([10.0, 10.0])
    rows = np.array([[13.0, 14.0]])
    step = PrivateMean(
        clip_norm=1.0, noise_multiplier=1e-300, per_round=2, seed=np.random.SeedSequence(0)
    )
    merged, _ = step.aggregate(rows, PrivacyState(0, np.array(1.0)), center)
    np.testing.assert_allclose(merged, [10.0 + 0.6 / 2, 10.0 + 0.8 / 2])


def test_release_seeds_differ_by_release_and_stream():
    seed = np.random.SeedSequence(9)
    draws = {
        (r, s): gaussian_noise(4, 1.0, release_seed(seed, r, s)).tobytes()
        for r in range(3)
        for s in range(2)
    }
    assert len(set(draws.values())) == 6


@settings(max_examples=40, deadline=None)
@given(
    rows=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 300)), elements=finite),
    clip=st.floats(1e-3, 1e3),
    extra=st.integers(0, 3),
)
def test_clipped_mean_around_is_the_center_plus_the_clipped_mean(rows, clip, extra):
    center = np.linspace(-1, 1, rows.shape[1])
    per_round = rows.shape[0] + extra
    around, norms = clipped_mean_around(rows, clip, per_round, center)
    mean, expected_norms = clipped_mean(rows, clip, per_round, center)
    np.testing.assert_array_equal(norms, expected_norms)
    scale = max(1.0, np.abs(rows).max())
    np.testing.assert_allclose(around, center + mean, atol=1e-12 * scale)


def test_clipped_mean_around_keeps_float32_parameters_to_their_resolution():
    """Parameters near 100 and updates of 1e-2: the new parameters are right to float32's
    resolution at 100 (an ulp is 7.6e-6), as computing them in float64 and rounding is."""
    rng = np.random.default_rng(1)
    center = (100 + rng.standard_normal(4000)).astype(np.float32)
    rows = center + (1e-2 * rng.standard_normal((5, 4000))).astype(np.float32)
    around, _ = clipped_mean_around(rows, 0.5, 8, center)
    updates = rows.astype(np.float64) - center.astype(np.float64)
    factors = np.minimum(1.0, 0.5 / np.linalg.norm(updates, axis=1))
    exact = center.astype(np.float64) + factors @ updates / 8
    assert around.dtype == np.float32
    np.testing.assert_allclose(around, exact, rtol=0, atol=4 * np.spacing(np.float32(128)))


def test_clipped_mean_around_adds_plus_and_reuses_its_buffer():
    rng = np.random.default_rng(2)
    center, rows = rng.standard_normal(50), rng.standard_normal((3, 50))
    plus = rng.standard_normal(50)
    expected = clipped_mean_around(rows, 0.7, 4, center)[0] + plus
    merged, _ = clipped_mean_around(rows, 0.7, 4, center, plus=plus.copy())
    np.testing.assert_allclose(merged, expected, rtol=1e-13, atol=1e-13)
    buffer = plus.copy()
    merged, _ = clipped_mean_around(rows, 0.7, 4, center, plus=buffer)
    assert not np.shares_memory(merged, buffer) and not np.allclose(buffer, plus)
