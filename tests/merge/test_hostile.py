"""Robust rules under one hostile child pushing extreme finite values (up to the dtype's max).

Honest rows come from hypothesis; one hostile row (all +max, all -max, mixed signs, 1e160,
honest-looking but for one coordinate, ...) is inserted at a drawn position. Every robust
rule, with enough children for its assumption, must return a finite vector near the
honest rows: inside their per-coordinate range for the coordinate-wise and Krum rules
(Krum returns one of them exactly), within the geometric median's breakdown bound of
their mean for the geometric median.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datapredict.merge import (
    Bulyan,
    GeometricMedian,
    Krum,
    Median,
    MultiKrum,
    NormClip,
    TrimmedMean,
    clip_rows,
    distances,
)

# (rule, least K for which one hostile child is within its assumption)
ROBUST = [
    (Median(), 3),
    (TrimmedMean(beta=0.2), 5),  # floor(0.2 K) >= 1 value cut at each end
    (TrimmedMean(beta=0.4), 3),
    (Krum(num_malicious=1), 5),
    (MultiKrum(num_malicious=1), 5),
    (MultiKrum(num_malicious=1, num_to_keep=2), 5),
    (Bulyan(num_malicious=1), 7),
    (GeometricMedian(), 3),
    (NormClip(1.0, rule=Median()), 3),
    (NormClip(1.0, rule=Krum(1)), 5),
    (NormClip(0.5, rule=TrimmedMean(beta=0.2)), 5),
    (NormClip(1.0, rule=GeometricMedian()), 3),
]
DTYPES = [np.float32, np.float64]


def hostile_row(kind: str, honest: np.ndarray) -> np.ndarray:
    """One hostile push of finite values in the dtype of ``honest``."""
    dtype = honest.dtype
    big = np.finfo(dtype).max
    n_cols = honest.shape[1]
    signs = np.where(np.arange(n_cols) % 2 == 0, 1.0, -1.0)
    if kind == "max":
        return np.full(n_cols, big, dtype)
    if kind == "-max":
        return np.full(n_cols, -big, dtype)
    if kind == "mixed max":
        return (signs * big).astype(dtype)
    if kind == "1e160":  # the reported push; beyond float32, the largest power of ten in it
        return np.full(n_cols, 1e160 if dtype == np.float64 else 1e38, dtype)
    if kind == "half max":
        return (signs * (big / 2)).astype(dtype)
    if kind == "one coordinate":  # an honest row but for one extreme coordinate
        row = honest[0].copy()
        row[-1] = -big
        return row
    raise AssertionError(kind)


KINDS = ["max", "-max", "mixed max", "1e160", "half max", "one coordinate"]


@st.composite
def attacked(draw, min_rows: int):
    """(stacked with one hostile row, honest rows, hostile position)."""
    dtype = draw(st.sampled_from(DTYPES))
    n_rows = draw(st.integers(min_rows, min_rows + 4))
    n_cols = draw(st.integers(1, 8))
    elements = st.floats(-1e3, 1e3, allow_nan=False, width=32 if dtype == np.float32 else 64)
    honest = draw(hnp.arrays(dtype, (n_rows - 1, n_cols), elements=elements))
    position = draw(st.integers(0, n_rows - 1))
    hostile = hostile_row(draw(st.sampled_from(KINDS)), honest)
    return np.insert(honest, position, hostile, axis=0), honest, position


def assert_within_honest_range(merged: np.ndarray, honest: np.ndarray) -> None:
    scale = np.abs(honest).max() + 1.0
    slack = 8 * np.finfo(honest.dtype).eps * scale
    assert (merged >= honest.min(axis=0) - slack).all()
    assert (merged <= honest.max(axis=0) + slack).all()


@pytest.mark.parametrize(("rule", "min_rows"), ROBUST, ids=[repr(r) for r, _ in ROBUST])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_one_hostile_child_cannot_move_a_robust_rule(rule, min_rows, data):
    stacked, honest, _ = data.draw(attacked(min_rows))
    merged = rule(stacked)
    assert merged.shape == (stacked.shape[1],)
    assert merged.dtype == stacked.dtype
    assert np.isfinite(merged).all()
    inner = rule.rule if isinstance(rule, NormClip) else rule
    reference = clip_rows(honest, rule.max_norm) if isinstance(rule, NormClip) else honest
    if isinstance(inner, GeometricMedian):
        # breakdown bound of the geometric median with hostile weight fraction a < 1/2:
        # |GM - z| <= 2 (1 - a) / (1 - 2 a) * max_k |w_k - z| for the honest w_k, any z
        a = 1.0 / len(stacked)
        centre = reference.astype(np.float64).mean(axis=0)
        radius = np.linalg.norm(reference - centre, axis=1).max()
        bound = 2 * (1 - a) / (1 - 2 * a) * radius
        slack = 1e-4 * (np.abs(reference).max() + 1.0)
        assert np.linalg.norm(merged - centre) <= bound + slack
    elif isinstance(rule, Krum) and not isinstance(rule, MultiKrum):
        assert any(np.array_equal(merged, row) for row in honest)
    elif (
        isinstance(rule, NormClip) and type(inner) is Krum
    ):  # clipped first, the hostile row is harmless: any row will do
        assert any(np.array_equal(merged, row) for row in clip_rows(stacked, rule.max_norm))
    else:
        assert_within_honest_range(merged, reference)


@pytest.mark.parametrize("rule", [Krum(1), MultiKrum(1), Krum(2)], ids=repr)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_krum_ranks_the_hostile_child_last(rule, data):
    stacked, _, position = data.draw(attacked(2 * rule.num_malicious + 3))
    scores = rule.scores(stacked)
    assert not np.isnan(scores).any()
    others = np.delete(scores, position)
    assert np.isfinite(others).all()
    assert scores[position] > others.max()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [1e160, -1e300, "max"])
def test_geometric_median_with_one_huge_push_is_finite_and_honest(dtype, value):
    # the reported defect: one child pushing np.full(P, 1e160) gave NaN with no error
    rng = np.random.default_rng(0)
    honest = rng.standard_normal((6, 1000)).astype(dtype)
    big = (
        float(np.finfo(dtype).max)
        if value == "max"
        else min(abs(value), float(np.finfo(dtype).max))
    )
    stacked = np.vstack(
        [honest, np.full((1, 1000), np.copysign(big, 1.0 if value == "max" else value), dtype)]
    )
    merged = GeometricMedian()(stacked)
    assert np.isfinite(merged).all()
    reference = GeometricMedian(max_iterations=10_000, tolerance=1e-12)(honest.astype(np.float64))
    # one far child pulls the geometric median by at most about its weight times the spread
    assert (
        np.linalg.norm(merged - reference) < 0.5 * np.linalg.norm(honest - reference, axis=1).mean()
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_scaled_gram_matches_the_fast_gram(dtype):
    # the fallback path (power-of-two scaled rows, float64) against the fast one on
    # ordinary data: the same distances
    rng = np.random.default_rng(3)
    stacked = (5.0 + rng.standard_normal((9, 3000))).astype(dtype)
    fast = distances.centred_gram(stacked)
    assert not fast.exponents.any()
    scaled = distances._scaled_gram(stacked, stacked[distances.pivot_row(stacked)])
    assert scaled.exponents.any()
    np.testing.assert_allclose(
        distances.sq_distances(scaled),
        distances.sq_distances(fast),
        rtol=1e-5 if dtype == np.float32 else 1e-12,
    )


def test_extreme_distances_are_infinite_not_nan():
    stacked = np.array(
        [[0.0, 0.0], [1.0, 0.0], [np.finfo(np.float64).max, -np.finfo(np.float64).max]]
    )
    dist = distances.sq_distances(distances.centred_gram(stacked))
    assert not np.isnan(dist).any()
    np.testing.assert_array_equal(dist[:2, 2], [np.inf, np.inf])
    np.testing.assert_array_equal(dist[:2, :2], [[0.0, 1.0], [1.0, 0.0]])
