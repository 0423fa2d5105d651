"""The binary cross-entropy kernels against scipy's log-sigmoid and sigmoid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit, log_expit

from datapredict.models._losses import (
    _EXP_SAFE_LOGIT,
    _stable_binary_cross_entropy,
    cross_entropy,
)


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
