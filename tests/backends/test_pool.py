"""Pools of workers: one model per worker, children's state kept, same results everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import datapredict as dp
from datapredict.backends import InlineBackend, JobSpec, PoolWorker, Shards, ThreadsBackend
from datapredict.datasets import load_dataset, split
from datapredict.parameters import Layout


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data.X, data.y


class CountingFactory:
    """A model factory counting the models it makes."""

    def __init__(self, **options) -> None:
        self.options, self.made = options, 0

    def __call__(self):
        self.made += 1
        return dp.LogisticRegression(classes=np.arange(10), **self.options)


def _job(factory, strategy="model_parameters", iterations=3):
    template = factory()
    template.initialize(64, np.arange(10))
    layout = Layout.from_template(template.get_model_parameters())
    return JobSpec(factory, strategy, iterations, 64, np.arange(10), layout), template


def test_one_worker_trains_many_children_like_models_of_their_own(digits):
    """Mini-batch children (their batch order, momentum) keep their state between their
    units of work exactly as if each had its own model."""
    X, y = digits
    shards = split(X[:600], y[:600], 6, how="iid", random_state=0)
    seeds = np.random.SeedSequence(1).spawn(6)
    factory = CountingFactory(batch_size=16, optimizer="momentum", learning_rate=0.1)
    job, template = _job(factory)
    worker = PoolWorker(job, Shards.of(shards, seeds))
    main = job.layout.flatten(template.get_model_parameters())
    first = worker.work([0, 3, 5], main, 1)
    second = worker.work([5, 0, 3], first[0].vector(), 2)
    assert factory.made == 2  # the template and the worker's one model
    for results, start in ((first, main), (second, first[0].vector())):
        for result in results:
            own = factory()
            own.set_parameters(max_iterations=3)
            own.initialize(64, np.arange(10))
            own.set_training_state(None, seed=seeds[result.child])
            if results is second:  # replay the child's first unit on its own model
                own.set_model_parameters(job.layout.unflatten(main))
                own.train(*Shards.of(shards, seeds).shard(result.child))
            own.set_model_parameters(job.layout.unflatten(start))
            own.train(*Shards.of(shards, seeds).shard(result.child))
            expected = job.layout.flatten(own.get_model_parameters())
            np.testing.assert_array_equal(result.vector(), expected)
    assert first[0].payload is first[1].payload  # one (k, P) block for the batch
    assert first[0].payload.shape == (3, job.layout.size)


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_stacked_children_push_what_they_would_alone(digits, strategy):
    """Full-batch children train stacked; a child with a label outside the classes or
    NaN features fails alone, with the error training alone gives, the others train."""
    X, y = digits
    shards = [(X[i * 30 : (i + 1) * 30], y[i * 30 : (i + 1) * 30]) for i in range(6)]
    shards.append((X[:7], y[:7]))  # another size: trains alone
    bad_label = (X[200:230], np.where(np.arange(30) == 3, 99, y[200:230]))
    nan_features = (np.where(np.arange(64) == 5, np.nan, X[300:330]), y[300:330])
    shards += [bad_label, nan_features]
    seeds = np.random.SeedSequence(4).spawn(len(shards))
    factory = CountingFactory(learning_rate=0.5)
    job, template = _job(factory, strategy)
    worker = PoolWorker(job, Shards.of(shards, seeds))
    assert worker._stacks(list(range(9))) == [[0, 1, 2, 3, 4, 5, 7, 8]]
    main = job.layout.flatten(template.get_model_parameters())
    results = worker.work([8, 0, 7, 1, 2, 3, 6, 4, 5], main, 1)
    assert [r.child for r in results] == [8, 0, 7, 1, 2, 3, 6, 4, 5]
    assert "not one of the model's classes" in results[2].error
    assert "NaN" in results[0].error
    for result in results:
        if result.child in (7, 8):
            assert result.payload is None
            continue
        own = factory()
        own.set_parameters(max_iterations=3)
        own.initialize(64, np.arange(10))
        own.set_are_gradients_saved(True)
        own.set_model_parameters(job.layout.unflatten(main))
        costs = own.train(*shards[result.child])
        pushed = own.get_gradients() if strategy == "gradients" else own.get_model_parameters()
        np.testing.assert_array_equal(result.vector(), job.layout.flatten(pushed))
        assert result.cost == costs[0] and result.n_samples == len(shards[result.child][1])


class StatelessChild:
    """A child without training-state hooks: the worker gives each child its own."""

    made = 0

    def __init__(self) -> None:
        StatelessChild.made += 1
        self.params = np.zeros(2)

    def set_parameters(self, max_iterations=1):
        self.iterations = max_iterations

    def get_model_parameters(self):
        return self.params.copy()

    def set_model_parameters(self, params):
        self.params = np.array(params, dtype=float)

    def train(self, X, y):
        self.params = self.params + float(np.sum(y))
        return np.array([0.0])


def test_children_without_state_hooks_get_a_model_each(digits):
    X, _ = digits
    shards = [(X[:2], np.ones(2)), (X[2:4], np.ones(2)), (X[4:6], np.ones(2))]
    job = JobSpec(StatelessChild, "model_parameters", 1, 64, np.arange(2),
                  Layout.from_template(np.zeros(2)))  # fmt: skip
    StatelessChild.made = 0
    worker = PoolWorker(job, Shards.of(shards, np.random.SeedSequence(0).spawn(3)))
    results = worker.work([0, 1, 2, 1], np.zeros(2), 1)
    assert StatelessChild.made == 1 + 3  # the probe, then one per child
    np.testing.assert_array_equal([r.vector() for r in results], [[2, 2]] * 4)


def test_a_failing_child_is_reported_and_its_row_left_out(digits):
    X, _ = digits

    class Failing(StatelessChild):
        def train(self, X, y):
            if len(X) == 3:
                raise RuntimeError("disk on fire")
            return super().train(X, y)

    shards = [(X[:2], np.ones(2)), (X[2:5], np.ones(3))]
    job = JobSpec(Failing, "model_parameters", 1, 64, np.arange(2),
                  Layout.from_template(np.zeros(2)))  # fmt: skip
    worker = PoolWorker(job, Shards.of(shards, np.random.SeedSequence(0).spawn(2)))
    ok, failed = worker.work([0, 1], np.zeros(2), 4)
    assert ok.error is None and failed.payload is None and "disk on fire" in failed.error


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
@pytest.mark.parametrize("per_round", [None, 0.3])
@pytest.mark.parametrize("batch_size", [32, None])  # None: children train stacked
def test_sync_jobs_are_bit_identical_for_any_number_of_workers(
    digits, strategy, per_round, batch_size
):
    X, y = digits
    shards = split(X, y, 12, how="dirichlet", alpha=0.5, random_state=0)
    options = {
        "strategy": strategy,
        "rounds": 4,
        "random_state": 3,
        "local_iterations": 2,
        "children_per_round": per_round,
    }
    factory = CountingFactory(batch_size=batch_size, learning_rate=0.2)
    reference = dp.train_distributed(factory, shards, backend=InlineBackend(), **options)
    for workers in (1, 2, 5):
        other = dp.train_distributed(
            factory, shards, backend=ThreadsBackend(num_workers=workers), **options
        )
        np.testing.assert_array_equal(other.main_parameters, reference.main_parameters)
        assert other.history["children"].tolist() == reference.history["children"].tolist()


def test_memory_grows_with_workers_not_children(digits):
    X, y = digits
    shards = split(X[:1000], y[:1000], 200, how="iid", random_state=0)
    factory = CountingFactory()
    dp.train_distributed(
        factory, shards, strategy="model_parameters", rounds=2,
        backend=ThreadsBackend(num_workers=2), random_state=0,
    )  # fmt: skip
    assert factory.made == 1 + 2  # the main model and one per worker, for 200 children


def test_a_backend_object_is_reused_across_jobs(digits):
    X, y = digits
    shards = split(X[:400], y[:400], 4, how="iid", random_state=0)
    with ThreadsBackend(num_workers=2) as backend:
        first = dp.train_distributed(CountingFactory(), shards, backend=backend, rounds=2)
        threads = backend._threads
        second = dp.train_distributed(CountingFactory(), shards, backend=backend, rounds=2)
        assert backend._threads is threads  # the same threads served both jobs
    assert len(first.history) == len(second.history) == 2
    assert not backend._started
