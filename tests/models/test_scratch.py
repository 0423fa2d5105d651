"""The named buffers a model reuses for its large intermediates."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from datapredict import LinearRegression, LogisticRegression
from datapredict.models._scratch import Scratch


def test_the_same_name_and_shape_give_the_same_buffer():
    scratch = Scratch()
    first = scratch("logits", (5, 1))
    assert scratch("logits", (5, 1)) is first
    assert scratch("work", (5, 1)) is not first
    assert first.shape == (5, 1) and first.dtype == np.float64


def test_a_new_shape_replaces_the_buffer():
    scratch = Scratch()
    first = scratch("logits", (5, 1))
    second = scratch("logits", (7, 1))
    assert second.shape == (7, 1) and second is not first
    assert scratch("logits", (7, 1)) is second


@pytest.mark.parametrize("model", [LinearRegression, LogisticRegression])
@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_buffers_are_neither_copied_nor_pickled(model, clone):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 3))
    y = (X[:, 0] > 0).astype(int)
    trained = model(max_iterations=2, random_state=0)
    trained.train(X, y)

    assert len(pickle.dumps(trained)) < 10_000  # the 20,000-row buffers would be 160 kB each
    twin = clone(trained)
    np.testing.assert_array_equal(twin.train(X, y), trained.train(X, y))


def test_results_do_not_alias_the_buffers():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = (X[:, 1] > 0).astype(int)
    model = LogisticRegression(max_iterations=1, random_state=0)
    model.set_are_gradients_saved(True)
    model.train(X, y)
    params = model.get_model_parameters()
    _, gradient = model.cost_and_gradient(params, X, y[:, None].astype(float))
    kept = gradient.copy()
    step = model.get_gradients()
    kept_step = step.copy()

    model.train(2 * X, 1 - y)
    model.cost_and_gradient(params, 3 * X, y[:, None].astype(float))
    np.testing.assert_array_equal(gradient, kept)
    np.testing.assert_array_equal(step, kept_step)
