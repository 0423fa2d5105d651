"""A training call that diverges (NaN or infinite costs or parameters) is refused whole,
or kept with a warning: the ``on_nonfinite`` option."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from datapredict import LinearRegression, NeuralNetwork, errors
from tests.models.test_base import CASES, as_list, assert_params_equal

MODES = {"full batch": {}, "mini-batch momentum": {"batch_size": 7, "optimizer": "momentum"}}


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request):
    return request.param


@pytest.fixture
def data(case):
    X = np.random.default_rng(1).standard_normal((30, 3))
    return X, case.target(X)


def _exploding(model) -> None:
    """A step size that overflows any model's parameters within a few steps."""
    model.set_parameters(learning_rate=1e308, max_iterations=10)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_diverging_call_raises_and_leaves_the_model_as_it_was(case, data, mode):
    model = case.make(random_state=0, max_iterations=3, **MODES[mode])
    model.set_are_gradients_saved(True)
    model.train(*data)
    twin = copy.deepcopy(model)
    params, step = model.get_model_parameters(), model.get_gradients()

    _exploding(model)
    with pytest.raises(errors.NonFiniteError, match=r"train diverged.*learning_rate=1e\+308"):
        model.train(*data)

    assert_params_equal(model.get_model_parameters(), params)
    assert_params_equal(model.get_gradients(), step)
    model.set_parameters(learning_rate=twin.get_params()["learning_rate"], max_iterations=3)
    # the step rule's state, the batch order and the generator were restored too
    np.testing.assert_array_equal(model.train(*data), twin.train(*data))
    assert_params_equal(model.get_model_parameters(), twin.get_model_parameters())


def test_a_first_call_that_diverges_leaves_the_model_without_parameters(case, data):
    model = case.make(random_state=0)
    _exploding(model)
    with pytest.raises(errors.NonFiniteError):
        model.train(*data)
    assert not model.is_initialized
    assert getattr(model, "classes_", None) is None
    assert not hasattr(model, "n_features_in_")


def test_a_diverging_fit_keeps_the_fitted_model(case, data):
    model = case.make(random_state=0, max_iterations=3).fit(*data)
    params = model.get_model_parameters()
    model.set_params(learning_rate=1e308, max_iterations=10)
    with pytest.raises(errors.NonFiniteError):
        model.fit(*data)
    assert_params_equal(model.get_model_parameters(), params)


def test_warn_keeps_the_diverged_parameters_and_says_so(case, data):
    model = case.make(random_state=0, on_nonfinite="warn")
    _exploding(model)
    with pytest.warns(RuntimeWarning, match="diverged.*parameters are kept") as record:
        costs = model.train(*data)
    assert record[0].filename == __file__  # the warning points at the caller
    assert costs.shape == (10,)
    values = np.concatenate([p.ravel() for p in as_list(model.get_model_parameters())])
    assert not (np.isfinite(costs).all() and np.isfinite(values).all())
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(*data)


@pytest.mark.parametrize(
    "make",
    [lambda: LinearRegression(max_iterations=5, random_state=0),
     lambda: NeuralNetwork(task="regression", hidden_layer_sizes=(4,), max_iterations=5,
                           random_state=0)],
    ids=["linear", "network"],
)  # fmt: skip
def test_one_huge_finite_value_in_X_is_caught_when_it_overflows(make):
    X = np.random.default_rng(2).standard_normal((20, 3))
    y = X @ np.array([1.0, -1.0, 2.0])
    model = make()
    model.train(X, y)
    params = model.get_model_parameters()
    X[4, 1] = 1e308  # finite, so it passes the input check; the products overflow
    with pytest.raises(errors.NonFiniteError, match="the cost is inf at iteration 0"):
        model.train(X, y)
    assert_params_equal(model.get_model_parameters(), params)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_a_large_learning_rate_on_standardized_data_is_caught(optimizer):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 4))
    y = X @ rng.standard_normal(4)
    model = LinearRegression(learning_rate=100.0, max_iterations=300, optimizer=optimizer)
    if optimizer == "adam":  # adam's steps are bounded by the learning rate: no overflow
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert np.isfinite(model.train(X, y)).all()
        return
    with pytest.raises(errors.NonFiniteError, match="Lower the learning rate"):
        model.train(X, y)
    assert not model.is_initialized
