"""Label encoding against scikit-learn's, and the binary cross-entropy kernels against
scipy's log-sigmoid and sigmoid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit, log_expit
from sklearn.preprocessing import label_binarize

from datapredict.errors import InvalidDataError
from datapredict.models._classes import (
    _EXP_SAFE_LOGIT,
    _stable_binary_cross_entropy,
    cross_entropy,
    encode,
)


@st.composite
def integer_labels(draw):
    """Sorted distinct integer classes (often consecutive, as 0/1 are) and labels from them."""
    start = draw(st.integers(-5, 5))
    gaps = draw(st.lists(st.sampled_from([1, 1, 2, 7]), min_size=1, max_size=4))
    classes = np.cumsum([start, *gaps])
    dtype = draw(
        st.sampled_from([np.int8, np.int64])
        if start < 0
        else st.sampled_from([np.int8, np.int64, np.uint8])
    )
    labels = draw(arrays(dtype, st.integers(1, 40), elements=st.sampled_from(classes.tolist())))
    return labels, classes.astype(np.int64)


@settings(max_examples=200, deadline=None)
@given(integer_labels(), st.booleans())
def test_encode_matches_scikit_learn(case, into_buffer):
    labels, classes = case
    expected = label_binarize(labels, classes=classes).astype(np.float64)
    out = np.full(expected.shape, np.nan) if into_buffer else None
    Y = encode(labels, classes, out=out)
    np.testing.assert_array_equal(Y, expected)
    assert Y.dtype == np.float64
    if into_buffer:
        assert Y is out


def test_encode_booleans_and_shifted_consecutive_classes():
    np.testing.assert_array_equal(
        encode(np.array([True, False, True]), np.array([False, True])), [[1.0], [0.0], [1.0]]
    )
    np.testing.assert_array_equal(
        encode(np.array([4, 3, 3], dtype=np.uint8), np.array([3, 4])), [[1.0], [0.0], [0.0]]
    )


@pytest.mark.parametrize("bad", [2, 5])
def test_encode_rejects_a_label_outside_consecutive_classes(bad):
    labels = np.array([3, 4, bad, 4])
    with pytest.raises(InvalidDataError, match=f"label {bad}, which is not one of .*\\[3, 4\\]"):
        encode(labels, np.array([3, 4]))


def test_encode_rejects_a_label_between_classes():
    with pytest.raises(InvalidDataError, match="label 1, which is not one of"):
        encode(np.array([0, 1, 2]), np.array([0, 2]))


def reference(z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of ``-y log s - (1 - y) log(1 - s)`` and its gradient ``(s - y) / n``."""
    cost = -(Y * log_expit(z) + (1 - Y) * log_expit(-z)).mean()
    return float(cost), (expit(z) - Y) / z.shape[0]


def assert_close(cost, gradient, expected_cost, expected_gradient, z):
    """Equal up to rounding: ``s - y`` cancels to within 1 ulp of 1 (scipy's too), and
    the cost to within about ``eps * |z|`` per row."""
    n = z.shape[0]
    assert cost == pytest.approx(expected_cost, rel=1e-12, abs=4e-16 * np.abs(z).max())
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-12, atol=4e-16 / n)


def logits_and_targets(low: float, high: float):
    return st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 1), elements=st.floats(low, high)),
            arrays(np.float64, (n, 1), elements=st.sampled_from([0.0, 1.0])),
        )
    )


@settings(max_examples=200, deadline=None)
@given(logits_and_targets(-_EXP_SAFE_LOGIT, _EXP_SAFE_LOGIT))
def test_fast_path_matches_scipy(case):
    z, Y = case
    expected_cost, expected_gradient = reference(z, Y)
    cost, gradient = cross_entropy(z.copy(), Y, work=np.empty_like(z))
    assert_close(cost, gradient, expected_cost, expected_gradient, z)


@settings(max_examples=100, deadline=None)
@given(logits_and_targets(-1e6, 1e6))
def test_stable_path_matches_scipy_for_any_logit(case):
    z, Y = case
    expected_cost, expected_gradient = reference(z, Y)
    cost, gradient = _stable_binary_cross_entropy(z.copy(), Y)
    assert_close(cost, gradient, expected_cost, expected_gradient, z)


def test_logits_beyond_exp_range_take_the_stable_path():
    z = np.array([[800.0], [-800.0], [0.5]])
    Y = np.array([[0.0], [0.0], [1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        cost, gradient = cross_entropy(z.copy(), Y, work=np.empty_like(z))
    expected_cost, expected_gradient = reference(z, Y)
    assert cost == pytest.approx(expected_cost, rel=1e-14)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-14)


def test_hand_computed_case():
    # z = 0: loss log 2 whatever the label, gradient (1/2 - y) / n.
    z = np.zeros((2, 1))
    Y = np.array([[1.0], [0.0]])
    cost, gradient = cross_entropy(z, Y)
    assert cost == pytest.approx(np.log(2.0), rel=1e-15)
    np.testing.assert_array_equal(gradient, [[-0.25], [0.25]])
