"""Copies and pickles of a model keep their parameter views tied to the flat vector."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from datapredict import LinearRegression, LogisticRegression, NeuralNetwork


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
@pytest.mark.parametrize(
    "make",
    [
        LinearRegression,
        LogisticRegression,
        lambda: NeuralNetwork(hidden_layer_sizes=(3,), task="regression"),
    ],
)
def test_a_clone_predicts_with_the_parameters_set_into_it(make, clone):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, size=20)
    model = make()
    model.set_parameters(max_iterations=2, random_state=0)
    model.train(X, y)
    twin = clone(model)
    params = twin.get_model_parameters()
    shifted = [p + 1.0 for p in params] if isinstance(params, list) else params + 1.0
    twin.set_model_parameters(shifted)
    reference = make()
    reference.set_model_parameters(shifted)
    np.testing.assert_array_equal(twin.predict(X), reference.predict(X))
    assert not np.array_equal(twin.predict(X), model.predict(X))
