"""Top-k: exactly the k largest magnitudes (sampled threshold and its fallback), the
error-feedback invariant, sizes, NaN, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datapredict.compression import SparsePayload, TopK, top_k_indices
from datapredict.compression.topk import _candidates
from datapredict.errors import DataTypeError, InvalidOptionError


def _assert_top_k(vector: np.ndarray, indices: np.ndarray, k: int) -> None:
    """``indices`` are k distinct positions whose magnitudes are the k largest (as a
    multiset: with ties, any of the tied positions will do)."""
    assert indices.size == k and np.unique(indices).size == k
    assert indices.dtype == np.uint32
    chosen = np.sort(np.abs(vector[indices]))
    np.testing.assert_array_equal(chosen, np.sort(np.abs(vector))[vector.size - k :])


_values = st.floats(-1e6, 1e6, allow_subnormal=False)


@settings(max_examples=80, deadline=None)
@given(
    vector=hnp.arrays(np.float64, st.integers(1, 400), elements=_values),
    fraction=st.floats(0.001, 1.0),
)
def test_keeps_exactly_the_k_largest_magnitudes(vector, fraction):
    topk = TopK(fraction)
    k = topk.count(vector.size)
    assert k == max(1, round(fraction * vector.size))
    payload, _ = topk.encode(vector)
    _assert_top_k(vector, payload.indices, k)
    np.testing.assert_array_equal(payload.values, vector[payload.indices])


@pytest.mark.parametrize("size", [8192, 100_000, 1_000_003])
@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.2])
def test_the_sampled_threshold_finds_the_same_top_k_as_argpartition(size, fraction):
    vector = np.random.default_rng(size).standard_t(3, size).astype(np.float32)
    k = TopK(fraction).count(size)
    _assert_top_k(vector, top_k_indices(vector, k), k)


def test_a_misleading_sample_falls_back_to_the_full_argpartition():
    """Every sampled position holds the largest value: the sampled threshold lets only
    those 4167 through, fewer than k = 5000, and the full argpartition decides."""
    size, k = 100_000, 5000
    vector = np.zeros(size, np.float32)
    vector[:: size // 4096] = 1.0
    others = np.setdiff1d(np.arange(size), np.arange(0, size, size // 4096))[:600]
    vector[others] = 0.5
    assert _candidates(vector, k) is None
    _assert_top_k(vector, top_k_indices(vector, k), k)
    assert _candidates(vector, 4000) is not None  # with k = 4000 the sample suffices
    _assert_top_k(vector, top_k_indices(vector, 4000), 4000)


def test_ties_and_constant_vectors_give_k_distinct_positions():
    for vector in (np.ones(50_000), np.r_[np.ones(20_000), -np.ones(20_000)]):
        _assert_top_k(vector, top_k_indices(vector, 123), 123)


@settings(max_examples=60, deadline=None)
@given(
    updates=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 60)),
        elements=st.floats(-1e3, 1e3),
    ),
    fraction=st.floats(0.01, 1.0),
)
def test_sent_plus_the_residual_is_the_sum_of_the_updates(updates, fraction):
    """Error feedback (Stich et al. 2018): after T pushes, the sum of everything sent
    plus the last residual equals the sum of the T updates, to float precision."""
    topk, residual = TopK(fraction), None
    sent = np.zeros(updates.shape[1])
    for update in updates:
        state, kept = residual, None if residual is None else residual.copy()
        payload, residual = topk.encode(update, state)
        if state is not None:
            np.testing.assert_array_equal(state, kept)  # the old state is not modified
        sent += payload.decode()
        np.testing.assert_array_equal(residual[payload.indices], 0.0)
    total = updates.sum(axis=0)
    tolerance = 1e-12 * (np.abs(updates).sum(axis=0) + 1.0)
    assert np.all(np.abs(sent + residual - total) <= tolerance)


def test_the_residual_carries_what_was_not_sent_into_the_next_push():
    topk = TopK(fraction=0.5)
    payload, residual = topk.encode(np.array([4.0, 1.0, -3.0, 0.5]))
    assert sorted(payload.indices.tolist()) == [0, 2]
    np.testing.assert_array_equal(residual, [0.0, 1.0, 0.0, 0.5])
    state = residual.copy()
    payload, residual = topk.encode(np.array([0.0, 1.0, 0.1, 1.0]), state)
    assert sorted(payload.indices.tolist()) == [1, 3]
    np.testing.assert_array_equal(payload.decode(), [0.0, 2.0, 0.0, 1.5])
    np.testing.assert_array_equal(residual, [0.0, 0.0, 0.1, 0.0])
    np.testing.assert_array_equal(state, [0.0, 1.0, 0.0, 0.5])  # the input state is kept


def test_without_error_feedback_the_rest_is_dropped():
    payload, state = TopK(0.25, error_feedback=False).encode(np.array([1.0, -5.0, 2.0, 0.0]))
    assert state is None
    np.testing.assert_array_equal(payload.decode(), [0.0, -5.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("dtype", "size", "fraction", "expected"),
    [
        (np.float32, 100_000, 0.01, 1000 * (4 + 4)),
        (np.float32, 4_000_000, 0.01, 40_000 * (4 + 4)),
        (np.float64, 650, 0.01, 6 * (4 + 8)),  # round(6.5) = 6
        (np.float64, 10, 0.001, 1 * (4 + 8)),  # at least one value
    ],
)
def test_bytes_per_push(dtype, size, fraction, expected):
    vector = np.random.default_rng(0).standard_normal(size).astype(dtype)
    payload, _ = TopK(fraction).encode(vector)
    assert isinstance(payload, SparsePayload) and payload.nbytes == expected
    assert payload.decode().dtype == dtype
    assert len(pickle.dumps(payload)) < expected + 400


def test_nan_counts_as_the_largest_magnitude_so_it_is_sent():
    vector = np.random.default_rng(5).standard_normal(50_000)
    vector[12_345] = np.nan
    payload, _ = TopK(0.001).encode(vector)
    assert 12_345 in payload.indices.tolist()
    assert np.isnan(payload.decode()).any()


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, float("nan"), "0.1", True])
def test_a_bad_fraction_is_refused_naming_the_option(fraction):
    with pytest.raises(InvalidOptionError, match="'fraction' option of TopK"):
        TopK(fraction)


def test_a_bad_error_feedback_flag_is_refused():
    with pytest.raises(InvalidOptionError, match="'error_feedback' option of TopK"):
        TopK(0.1, error_feedback="yes")


@pytest.mark.parametrize(
    "state", [np.ones(3), np.ones(4, np.float32), [0.0, 0.0, 0.0, 0.0], np.ones((4, 1))]
)
def test_a_residual_that_does_not_match_the_vector_is_refused(state):
    with pytest.raises(InvalidOptionError, match="'state' option of TopK"):
        TopK(0.5).encode(np.ones(4), state)


def test_a_state_without_error_feedback_is_refused_and_bad_vectors_too():
    with pytest.raises(InvalidOptionError, match="no error feedback"):
        TopK(0.5, error_feedback=False).encode(np.ones(4), np.ones(4))
    with pytest.raises(DataTypeError, match="vector must be"):
        TopK(0.5).encode(np.arange(4))
