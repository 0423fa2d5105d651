"""The sigmoid and the cross-entropy kernels against scipy: binary ones against its
log-sigmoid and sigmoid, softmax ones against its log-softmax and softmax."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit, log_expit, log_softmax, softmax

from datapredict.models._losses import (
    _EXP_SAFE_LOGIT,
    _FOURFOLD_SAFE_LOGIT,
    _stable_binary_cross_entropy,
    _stable_softmax_cross_entropy,
    _sum_of_logs,
    cross_entropy,
    sigmoid,
    softmax_cross_entropy_by_class,
)
from datapredict.models._losses import softmax as our_softmax


def reference(z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of ``-y log s - (1 - y) log(1 - s)`` and its gradient ``(s - y) / n``."""
    cost = -(Y * log_expit(z) + (1 - Y) * log_expit(-z)).mean()
    return float(cost), (expit(z) - Y) / z.shape[0]


def assert_close(cost, gradient, expected_cost, expected_gradient, z):
    """Equal up to rounding: ``s - y`` cancels to within 1 ulp of 1 (scipy's too).

    The cost is a difference of two sums, ``sum log(1 + e^z)`` and ``y . z``, each term
    about ``|z|``, so it cancels: each term is rounded to a few ulps of ``|z| + 1``, and
    summing n of them adds up to ``log2(n)`` roundings more (equal terms round alike
    rather than cancelling), so the mean is within ``(3 + 2 log2 n) eps (|z| + 1)``.
    """
    n = z.shape[0]
    eps = np.finfo(np.float64).eps
    rounding = (3 + 2 * np.log2(n)) * eps * (np.abs(z).max() + 1)
    assert cost == pytest.approx(expected_cost, rel=1e-12, abs=rounding)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-12, atol=4e-16 / n)


def logits_and_targets(low: float, high: float):
    return st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 1), elements=st.floats(low, high)),
            arrays(np.float64, (n, 1), elements=st.sampled_from([0.0, 1.0])),
        )
    )


@pytest.mark.parametrize("bound", [_EXP_SAFE_LOGIT, _FOURFOLD_SAFE_LOGIT], ids=["any", "fourfold"])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fast_path_matches_scipy(bound, data):
    z, Y = data.draw(logits_and_targets(-bound, bound))
    expected_cost, expected_gradient = reference(z, Y)
    cost, gradient = cross_entropy(z.copy(), Y, work=np.empty_like(z))
    assert_close(cost, gradient, expected_cost, expected_gradient, z)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(0, 41), elements=st.floats(-700, 700)),
    st.booleans(),
)
def test_sum_of_logs_matches_numpy_on_either_side_of_the_fourfold_bound(z, below):
    if below:
        z = np.minimum(z, _FOURFOLD_SAFE_LOGIT - 1e-9)
    values = 1.0 + np.exp(z)
    expected = float(np.log(values).sum())
    largest = float(z.max()) if z.size else -np.inf
    total = _sum_of_logs(values.copy(), largest)
    eps = np.finfo(np.float64).eps
    assert total == pytest.approx(expected, rel=8 * eps, abs=(4 + z.size) * eps)


def test_sum_of_logs_takes_a_log_of_each_value_above_the_fourfold_bound():
    # Four values of exp(200) would overflow as one product; each log is taken alone.
    values = np.full(8, 1.0 + np.exp(200.0))
    with np.errstate(over="raise"):
        total = _sum_of_logs(values, 200.0)
    assert total == pytest.approx(8 * 200.0, rel=1e-15)


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


def softmax_reference(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of ``-sum(y log softmax(z))`` over rows and its gradient ``(softmax(z) - y) / n``."""
    cost = -(Y * log_softmax(Z, axis=1)).sum(axis=1).mean()
    return float(cost), (softmax(Z, axis=1) - Y) / Z.shape[0]


def assert_softmax_close(cost, gradient, Z, Y):
    """As :func:`assert_close`: the cost cancels terms of about ``|z| + log K`` each (and
    a shift by the largest logit adds its own rounding), over ``n K`` terms. A
    probability is ``exp(z - logsumexp(z))``, whose exponent carries the rounding of
    numbers of size ``|z|``: the gradient's absolute error grows with ``max |z|`` too
    (logits ``[99071, 99104]`` give ``p = 1`` exactly where ``1 - 4.7e-15`` is exact)."""
    expected_cost, expected_gradient = softmax_reference(Z, Y)
    n, k = Z.shape
    eps = np.finfo(np.float64).eps
    rounding = (3 + 2 * np.log2(n * k)) * eps * (2 * np.abs(Z).max() + np.log(k) + 1)
    assert cost == pytest.approx(expected_cost, rel=1e-12, abs=rounding)
    gradient_rounding = 8 * eps * (1 + np.abs(Z).max()) / n
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-11, atol=gradient_rounding)


def softmax_logits_and_targets(low: float, high: float):
    """Logits (n, K) in ``[low, high]`` and one-hot targets, K from 2 to 6 columns."""
    shapes = st.tuples(st.integers(1, 40), st.integers(2, 6))
    return shapes.flatmap(
        lambda shape: st.tuples(
            arrays(np.float64, shape, elements=st.floats(low, high)),
            arrays(np.int64, shape[0], elements=st.integers(0, shape[1] - 1)),
        )
    ).map(lambda case: (case[0], np.eye(case[0].shape[1])[case[1]]))


@settings(max_examples=150, deadline=None)
@given(softmax_logits_and_targets(-650.0, 650.0))
def test_softmax_without_shift_matches_scipy(case):
    Z, Y = case
    cost, gradient = cross_entropy(Z.copy(), Y)
    assert_softmax_close(cost, gradient, Z, Y)


@settings(max_examples=150, deadline=None)
@given(softmax_logits_and_targets(300.0, 950.0))
def test_softmax_shifted_by_the_largest_logit_matches_scipy(case):
    Z, Y = case
    with np.errstate(over="raise"):
        cost, gradient = cross_entropy(Z.copy(), Y)
    assert_softmax_close(cost, gradient, Z, Y)


@settings(max_examples=100, deadline=None)
@given(softmax_logits_and_targets(-1e5, 1e5))
def test_softmax_for_any_logits_matches_scipy(case):
    Z, Y = case
    cost, gradient = cross_entropy(Z.copy(), Y)
    assert_softmax_close(cost, gradient, Z, Y)


def test_softmax_spread_beyond_exp_range_takes_the_stable_path():
    Z = np.array([[800.0, -800.0, 0.0], [1.0, 2.0, 3.0]])
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        cost, gradient = cross_entropy(Z.copy(), Y)
    expected_cost, expected_gradient = _stable_softmax_cross_entropy(Z, Y)
    assert cost == expected_cost
    np.testing.assert_array_equal(gradient, expected_gradient)
    assert_softmax_close(cost, gradient, Z, Y)


def test_softmax_hand_computed_case_with_soft_targets():
    # Equal logits: each class 1/3, loss log 3 for any target row summing to 1.
    Z = np.zeros((2, 3))
    Y = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    cost, gradient = cross_entropy(Z, Y)
    assert cost == pytest.approx(np.log(3.0), rel=1e-15)
    np.testing.assert_allclose(
        gradient, [[-1 / 12, -1 / 12, 1 / 6], [1 / 6, 1 / 6, -1 / 3]], rtol=1e-15
    )


def test_softmax_carries_nan_through():
    Z = np.array([[np.nan, 0.0], [0.0, 1.0]])
    cost, gradient = cross_entropy(Z, np.eye(2))
    assert np.isnan(cost) and np.isnan(gradient[0]).all()


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(-700, 800)), st.booleans())
def test_sigmoid_matches_scipy_to_a_few_ulps_relative(z, in_place):
    # Below -708 the result is subnormal: scipy returns 0 there, this sigmoid exp(z).
    expected = expit(z)
    result = sigmoid(z, out=z) if in_place else sigmoid(z)
    np.testing.assert_allclose(result, expected, rtol=4 * np.finfo(np.float64).eps, atol=0)
    if in_place:
        assert result is z


def test_sigmoid_of_infinities_and_nan():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        result = sigmoid(np.array([np.inf, -np.inf, 0.0, -700.0, -740.0]))
    np.testing.assert_array_equal(result[:4], [1.0, 0.0, 0.5, expit(-700.0)])
    assert result[4] == np.exp(-740.0)  # subnormal, where scipy's expit gives 0
    assert np.isnan(sigmoid(np.array([np.nan]))).all()


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([(-650.0, 650.0), (300.0, 950.0), (-1e5, 1e5)]).flatmap(
        lambda bounds: softmax_logits_and_targets(*bounds)
    )
)
def test_softmax_matches_scipy_for_logits_near_and_far_apart(case):
    Z, _ = case
    P = our_softmax(Z)
    np.testing.assert_allclose(P, softmax(Z, axis=1), rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([(-650.0, 650.0), (300.0, 950.0), (-1e5, 1e5)]).flatmap(
        lambda bounds: softmax_logits_and_targets(*bounds)
    )
)
def test_softmax_by_class_matches_scipy_for_any_logits(case):
    Z, Y = case
    ZT, YT = Z.T.copy(), Y.T.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        cost, gradient = softmax_cross_entropy_by_class(ZT, YT)
    assert gradient is ZT
    assert_softmax_close(cost, gradient.T, Z, Y)


def test_softmax_by_class_hand_computed_case():
    ZT = np.zeros((3, 2))  # two samples, three equal logits each
    YT = np.array([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]])
    cost, gradient = softmax_cross_entropy_by_class(ZT, YT)
    assert cost == pytest.approx(np.log(3.0), rel=1e-15)
    np.testing.assert_allclose(
        gradient.T, [[-1 / 12, -1 / 12, 1 / 6], [1 / 6, 1 / 6, -1 / 3]], rtol=1e-15
    )
