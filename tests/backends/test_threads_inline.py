"""Sync mode is deterministic: the threads backend gives the inline result to the last bit."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from datapredict import LinearRegression, LogisticRegression, NeuralNetwork, train_distributed
from datapredict.backends import InlineBackend, ThreadsBackend
from datapredict.datasets import load_dataset, split, train_test_split
from datapredict.parameters import Layout


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, random_state=0)
    return split(X_train, y_train, 3, how="iid", random_state=0), (X_test, y_test)


@pytest.fixture(scope="module")
def diabetes():
    data = load_dataset("diabetes")
    return split(data.X, data.y, 4, how="quantity", random_state=1)


FACTORIES = {
    "logistic_full_batch": partial(LogisticRegression, learning_rate=0.5),
    "logistic_mini_batch": partial(LogisticRegression, learning_rate=0.2, batch_size=64),
    "network_mini_batch": partial(
        NeuralNetwork, hidden_layer_sizes=(16,), learning_rate=0.1, batch_size=32
    ),
}


def assert_same_job(a, b) -> None:
    """Same main parameters, costs, metrics and versions, bit for bit."""
    flat = [Layout.from_template(r.main_parameters).flatten(r.main_parameters) for r in (a, b)]
    assert np.array_equal(*flat)
    assert np.array_equal(a.history["cost"], b.history["cost"])
    assert np.array_equal(a.history["metric"], b.history["metric"], equal_nan=True)
    assert a.version == b.version
    assert all(not record.failures for record in (*a.history, *b.history))


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
@pytest.mark.parametrize("factory", list(FACTORIES), ids=list(FACTORIES))
def test_threads_equals_inline_in_sync_mode(digits, strategy, factory):
    shards, eval_data = digits
    options = {
        "strategy": strategy,
        "rounds": 5,
        "random_state": 7,
        "local_iterations": 4,
        "eval_data": eval_data,
    }
    inline = train_distributed(FACTORIES[factory], shards, backend="inline", **options)
    threads = train_distributed(FACTORIES[factory], shards, backend="threads", **options)
    assert_same_job(inline, threads)


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_backend_objects_equal_backend_names(diabetes, strategy):
    """Unequal shards (quantity skew) weigh the merge; backend objects work as names do."""
    factory = partial(LinearRegression, learning_rate=0.1, batch_size=16)
    options = {"strategy": strategy, "rounds": 6, "random_state": 3, "local_iterations": 5}
    by_name = train_distributed(factory, diabetes, backend="inline", **options)
    inline = train_distributed(factory, diabetes, backend=InlineBackend(), **options)
    threads = train_distributed(factory, diabetes, backend=ThreadsBackend(2), **options)
    assert_same_job(by_name, inline)
    assert_same_job(inline, threads)


def test_seed_changes_the_result(digits):
    shards, _ = digits
    factory = FACTORIES["logistic_mini_batch"]
    a = train_distributed(factory, shards, rounds=3, random_state=0, backend="threads")
    b = train_distributed(factory, shards, rounds=3, random_state=1, backend="threads")
    assert not np.array_equal(a.main_parameters, b.main_parameters)
