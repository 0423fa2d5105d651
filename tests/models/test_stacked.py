"""Stacked training: B children at once, each bit-identical to training alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datapredict import LinearRegression, LogisticRegression
from datapredict.errors import InvalidDataError


def _model(k, d, iterations=3, **options):
    model = LogisticRegression(max_iterations=iterations, classes=range(k), **options)
    model.set_parameters(random_state=np.random.default_rng(0))
    model.initialize(d, np.arange(k))
    return model


def _alone(k, d, start, X, y, iterations=3, **options):
    """(parameters, last step, first cost) of one child trained by ``train``."""
    model = _model(k, d, iterations, **options)
    model.set_are_gradients_saved(True)
    model.set_model_parameters(model._layout.unflatten(start))
    costs = model.train(X, y)
    return model._flat.copy(), model.get_gradients(copy=False).ravel(), costs[0]


@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 6),
    n=st.integers(1, 12),
    d=st.integers(1, 5),
    k=st.integers(3, 5),
    fit_intercept=st.booleans(),
    iterations=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_each_child_is_bit_identical_to_training_alone(B, n, d, k, fit_intercept, iterations, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, n, d)) * 3
    ys = [rng.integers(0, k, n) for _ in range(B)]
    options = {"fit_intercept": fit_intercept, "learning_rate": 0.7}
    model = _model(k, d, iterations, **options)
    start = model._flat + rng.standard_normal(model._flat.size)
    out = model.train_stacked(start, X, ys)
    assert out.done.all()
    for b in range(B):
        parameters, step, cost = _alone(k, d, start, X[b], ys[b], iterations, **options)
        np.testing.assert_array_equal(out.parameters[b], parameters)
        np.testing.assert_array_equal(out.steps[b], step)
        assert out.first_costs[b] == cost


def test_a_childs_result_does_not_depend_on_the_stack_it_trains_in():
    rng = np.random.default_rng(1)
    B, n, d, k = 40, 20, 8, 4
    X = rng.standard_normal((B, n, d))
    ys = [rng.integers(0, k, n) for _ in range(B)]
    model = _model(k, d)
    whole = model.train_stacked(model._flat, X, ys)
    for size in (1, 3, 7):
        for a in range(0, B, size):
            part = model.train_stacked(model._flat, X[a : a + size], ys[a : a + size])
            np.testing.assert_array_equal(part.parameters, whole.parameters[a : a + size])
            np.testing.assert_array_equal(part.first_costs, whole.first_costs[a : a + size])


def test_training_stacked_leaves_the_model_unchanged():
    rng = np.random.default_rng(2)
    model = _model(3, 4)
    before, state = model._flat.copy(), model._rng.bit_generator.state
    model.train_stacked(model._flat + 1.0, rng.standard_normal((2, 5, 4)), [[0, 1, 2, 0, 1]] * 2)
    np.testing.assert_array_equal(model._flat, before)
    assert model._rng.bit_generator.state == state


def test_a_diverging_child_is_flagged_not_finite():
    X = np.ones((2, 4, 2))
    X[1, 0, 0] = np.nan
    out = _model(3, 2).train_stacked(_model(3, 2)._flat, X, [[0, 1, 2, 0]] * 2)
    assert out.done.tolist() == [True, False]


def test_a_child_with_unusable_targets_is_left_to_train_alone():
    model = _model(3, 2)
    out = model.train_stacked(model._flat, np.ones((3, 2, 2)), [[0, 1], [0, 7], [0, 1, 2]])
    assert out.done.tolist() == [True, False, False]
    with pytest.raises(InvalidDataError, match="not one of the model's classes"):
        model.train(np.ones((2, 2)), [0, 7])


@pytest.mark.parametrize(
    ("model", "n_rows", "expected"),
    [
        (_model(3, 2), 10, True),
        (_model(3, 2, batch_size=10), 10, True),
        (_model(3, 2, batch_size=4), 10, False),  # mini-batches draw from each child's rng
        (_model(3, 2, optimizer="momentum"), 10, False),  # per-child step state
        (_model(3, 2, l2=0.1), 10, False),
        (_model(2, 2), 10, False),  # two classes: one sigmoid output, no stacked objective
        (LogisticRegression(classes=range(3)), 10, False),  # no parameters yet
        (LinearRegression(), 10, False),
    ],
)
def test_only_what_trains_identically_stacks(model, n_rows, expected):
    assert model.can_train_stacked(n_rows) is expected


def test_a_subclass_trains_alone_unless_it_defines_its_stacked_objective():
    class Verbose(LogisticRegression):
        def train(self, X, y):  # the worker must call this for every child
            return super().train(X, y)

    model = Verbose(classes=range(3))
    model.initialize(2, np.arange(3))
    assert not model.can_train_stacked(10)
