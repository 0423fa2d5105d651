"""train_distributed: results, history, determinism, faults, options, non-IID."""

from __future__ import annotations

import time

import numpy as np
import pytest

import datapredict as dp
from datapredict.backends import ThreadsBackend
from datapredict.datasets import load_dataset, split, train_test_split
from datapredict.errors import ChildFailureError, InvalidDataError, InvalidOptionError
from datapredict.merge.server_optimizers import FedAdam, FedAvgM


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X, X_test, y, y_test = train_test_split(data.X, data.y, test_size=0.3, random_state=0)
    return X, X_test, y, y_test


def _factory(learning_rate=0.5):
    return lambda: dp.LogisticRegression(learning_rate=learning_rate, classes=np.arange(10))


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_result_holds_main_parameters_model_and_one_record_per_round(digits, strategy):
    X, X_test, y, y_test = digits
    shards = split(X, y, 4, how="iid", random_state=0)
    result = dp.train_distributed(
        _factory(), shards, strategy=strategy, rounds=6, random_state=0, eval_data=(X_test, y_test)
    )
    assert len(result.history) == 6
    assert [r.round for r in result.history] == list(range(6))
    assert np.array_equal(result.model.get_model_parameters(), result.main_parameters)
    costs = result.history["cost"]
    assert costs[-1] < costs[0]
    assert result.history["metric"][-1] == pytest.approx(result.model.score(X_test, y_test))
    assert all(r.pushes == 4 for r in result.history)


def test_sync_cost_is_the_main_models_cost_on_all_shards(digits):
    X, _, y, _ = digits
    shards = split(X, y, 3, how="iid", random_state=1)
    result = dp.train_distributed(
        _factory(), shards, strategy="gradients", rounds=3, random_state=3
    )
    reference = _factory()()
    reference.initialize(X.shape[1], y)
    # The cost recorded for the last round is the cost at the parameters of round 2.
    first = dp.train_distributed(_factory(), shards, strategy="gradients", rounds=2, random_state=3)
    Y = np.eye(10)[y]
    cost, _ = reference.cost_and_gradient(first.main_parameters, X, Y)
    assert result.history["cost"][-1] == pytest.approx(cost, rel=1e-10)


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_same_seed_same_result_and_other_seed_differs(digits, strategy):
    X, _, y, _ = digits
    shards = split(X, y, 3, how="iid", random_state=0)

    def run(seed):
        factory = lambda: dp.LogisticRegression(  # noqa: E731
            learning_rate=0.5, classes=np.arange(10), batch_size=64
        )
        return dp.train_distributed(
            factory, shards, strategy=strategy, rounds=3, random_state=seed
        ).main_parameters

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_async_threads_reaches_sync_accuracy(digits):
    X, X_test, y, y_test = digits
    shards = split(X, y, 4, how="iid", random_state=0)
    sync = dp.train_distributed(_factory(), shards, strategy="gradients", rounds=40, random_state=0)
    asynchronous = dp.train_distributed(
        _factory(0.25),
        shards,
        strategy="gradients",
        rounds=40,
        mode="async",
        backend="threads",
        random_state=0,
        asynchrony=dp.AsyncPolicy(staleness="polynomial"),
    )
    assert len(asynchronous.history) == 40
    assert sum(r.pushes for r in asynchronous.history) == 160
    assert asynchronous.model.score(X_test, y_test) >= sync.model.score(X_test, y_test) - 0.02


class _FailingModel(dp.LogisticRegression):
    """Fails in train() on the shard with exactly 101 rows."""

    def train(self, X, y):
        if len(X) == 101:
            raise RuntimeError("disk on fire")
        return super().train(X, y)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_child_is_recorded_and_training_goes_on(digits, mode):
    X, _, y, _ = digits
    shards = [(X[:101], y[:101]), (X[101:400], y[101:400]), (X[400:700], y[400:700])]
    result = dp.train_distributed(
        lambda: _FailingModel(learning_rate=0.5, classes=np.arange(10)),
        shards,
        strategy="model_parameters",
        rounds=4,
        mode=mode,
        random_state=0,
    )
    failures = [f for record in result.history for f in record.failures]
    assert len(failures) == 1 and "child 0" in failures[0] and "disk on fire" in failures[0]
    assert len(result.history) == 4
    assert result.history[-1].pushes == 2


def test_every_child_failing_raises(digits):
    X, _, y, _ = digits
    with pytest.raises(ChildFailureError, match="every child failed"):
        dp.train_distributed(
            lambda: _FailingModel(classes=np.arange(10)),
            [(X[:101], y[:101])],
            strategy="gradients",
            rounds=2,
        )


class _SlowModel(dp.LogisticRegression):
    """Sleeps in train() on the shard with exactly 99 rows (a straggler)."""

    def train(self, X, y):
        if len(X) == 99:
            time.sleep(0.4)
        return super().train(X, y)


def test_quorum_closes_rounds_without_stragglers_and_counts_late_pushes(digits):
    X, _, y, _ = digits
    shards = [(X[:99], y[:99]), (X[99:400], y[99:400]), (X[400:700], y[400:700])]
    result = dp.train_distributed(
        lambda: _SlowModel(classes=np.arange(10)),
        shards,
        strategy="gradients",
        rounds=3,
        backend=ThreadsBackend(num_workers=3),  # the straggler holds up only its worker
        quorum=dp.Quorum(min_children=2, round_timeout=0.05),
        random_state=0,
    )
    assert [r.pushes for r in result.history] == [2, 2, 2]
    assert sum(r.dropped for r in result.history) >= 1


@pytest.mark.parametrize("backend", ["inline", "threads"])
@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_async_max_staleness_drops_and_counts(digits, strategy, backend):
    X, _, y, _ = digits
    shards = split(X, y, 4, how="iid", random_state=0)
    result = dp.train_distributed(
        _factory(),
        shards,
        strategy=strategy,
        rounds=5,
        mode="async",
        backend=backend,
        random_state=0,
        asynchrony=dp.AsyncPolicy(max_staleness=0),
        local_iterations=2,
    )
    # Every child but the first of a window started from an older version; the
    # staleness columns describe the pushes applied, so none is stale.
    assert sum(r.dropped for r in result.history) > 0
    assert all(r.staleness_max == 0 for r in result.history)
    assert sum(r.pushes for r in result.history) == 5 * len(shards)


def test_fedavgm_and_fedadam_reach_the_target_in_fewer_rounds_on_dirichlet_digits(digits):
    X, X_test, y, y_test = digits
    shards = split(X, y, 10, how="dirichlet", alpha=0.3, random_state=0)

    def rounds_to(target, optimizer):
        result = dp.train_distributed(
            _factory(0.05),
            shards,
            strategy="model_parameters",
            rounds=40,
            merger="fedavg",
            server_optimizer=optimizer,
            random_state=0,
            local_iterations=5,
            eval_data=(X_test, y_test),
        )
        metric = result.history["metric"]
        assert (metric >= target).any(), f"{optimizer} never reached {target}"
        return int(np.argmax(metric >= target))

    plain = rounds_to(0.93, None)
    assert rounds_to(0.93, FedAvgM(learning_rate=1.0, momentum=0.9)) < plain
    assert rounds_to(0.93, FedAdam(learning_rate=0.03)) < plain


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"strategy": "gossip"}, InvalidOptionError, "'strategy'"),
        ({"mode": "eventual"}, InvalidOptionError, "'mode'"),
        ({"rounds": 0}, InvalidOptionError, "'rounds'"),
        ({"backend": "mpi"}, InvalidOptionError, "'backend'"),
        ({"quorum": dp.Quorum(min_children=5)}, InvalidOptionError, "'min_children'"),
        ({"merger": "mean-ish"}, InvalidOptionError, "merge_type"),
        ({"server_optimizer": "sgd"}, InvalidOptionError, "server_optimizer"),
        ({"local_iterations": 0}, InvalidOptionError, "'local_iterations'"),
    ],
)
def test_bad_options_are_rejected(digits, kwargs, error, fragment):
    X, _, y, _ = digits
    shards = split(X, y, 2, how="iid", random_state=0)
    with pytest.raises(error, match=fragment):
        dp.train_distributed(_factory(), shards, **kwargs)


class _CountingFactory:
    """A model factory that counts the models it builds."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return _factory()()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"model_factory": lambda: None}, "model_factory"),
        ({"backend": None}, "backend"),
        ({"backend": object()}, "lacks open"),
        ({"random_state": "a"}, "random_state"),
        ({"random_state": -1}, "random_state"),
        ({"callback": 5}, "callback"),
        ({"eval_data": "X"}, "eval_data"),
        ({"eval_data": (np.zeros((2, 64)), None)}, "eval_data"),
        ({"aggregation": "median"}, "aggregation"),
        ({"aggregation": dp.Aggregation(merger="median"), "merger": "krum"}, "aggregation"),
        ({"asynchrony": {"max_staleness": 1}}, "asynchrony"),
        ({"checkpoint": 3}, "checkpoint"),
    ],
)
def test_bad_job_arguments_are_refused_before_any_work(digits, kwargs, fragment):
    X, _, y, _ = digits
    shards = split(X, y, 2, how="iid", random_state=0)
    factory = _CountingFactory()
    options = {"model_factory": factory, **kwargs}
    with pytest.raises(dp.errors.DataPredictError, match=fragment):
        dp.train_distributed(shards=shards, **options)
    assert factory.calls == 0 or "model_factory" in kwargs


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: dp.Quorum(min_children=0), "min_children"),
        (lambda: dp.Quorum(min_children=2, round_timeout="soon"), "round_timeout"),
        (lambda: dp.Quorum(min_children=2, round_timeout=-1), "round_timeout"),
        (lambda: dp.AsyncPolicy(max_staleness=-1), "max_staleness"),
        (lambda: dp.AsyncPolicy(buffer_size=0), "buffer_size"),
        (lambda: dp.AsyncPolicy(staleness="eventually"), "staleness"),
        (lambda: dp.Aggregation(max_norm=0), "max_norm"),
        (lambda: dp.Aggregation(merger="mean-ish"), "merge_type"),
        (lambda: dp.Checkpointing(None), "directory"),
        (lambda: dp.Checkpointing("ckpt", every=0), "every"),
    ],
)
def test_option_objects_validate_when_made(make, fragment):
    with pytest.raises(InvalidOptionError, match=fragment):
        make()


def test_history_records_which_children_pushed(digits):
    X, _, y, _ = digits
    shards = split(X, y, 3, how="iid", random_state=0)
    result = dp.train_distributed(_factory(), shards, rounds=2, random_state=0)
    assert [r.children for r in result.history] == [[0, 1, 2], [0, 1, 2]]


def test_bad_shards_are_rejected(digits):
    X, _, y, _ = digits
    with pytest.raises(InvalidDataError, match="non-empty list"):
        dp.train_distributed(_factory(), [])
    with pytest.raises(InvalidDataError, match="same number of features"):
        dp.train_distributed(_factory(), [(X[:50], y[:50]), (X[50:100, :10], y[50:100])])
    with pytest.raises(InvalidDataError, match=r"shards\[1\]: X has 50 rows but y has 49"):
        dp.train_distributed(_factory(), [(X[:50], y[:50]), (X[50:100], y[50:99])])


class _FailsOnThirdCall(dp.LogisticRegression):
    """Fails on its third train() call on the shard with exactly 101 rows."""

    calls = 0

    def train(self, X, y):
        if len(X) == 101:
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("out of memory")
        return super().train(X, y)


def test_async_records_a_failure_that_is_the_very_last_result(digits):
    X, _, y, _ = digits
    shards = [(X[:300], y[:300]), (X[300:600], y[300:600]), (X[600:701], y[600:701])]
    result = dp.train_distributed(
        lambda: _FailsOnThirdCall(classes=np.arange(10)),
        shards,
        strategy="gradients",
        rounds=3,
        mode="async",
        random_state=0,
    )
    failures = [f for record in result.history for f in record.failures]
    assert len(result.history) == 3
    assert failures == ["child 2: RuntimeError: out of memory"]


@pytest.mark.parametrize(
    ("factory", "y", "fragment"),
    [
        (lambda: dp.LinearRegression(), np.array([1.0, np.nan, 2.0, 3.0]), "shards\\[1\\]\\[1\\]"),
        (lambda: dp.LinearRegression(), np.array(["a", "b", "c", "d"]), "shards\\[1\\]\\[1\\]"),
        (lambda: dp.LogisticRegression(), np.array([0.25, 1.5, 2.75, 3.1]), "continuous"),
    ],
)
def test_shard_targets_are_checked_against_the_models_task_before_any_work(factory, y, fragment):
    X = np.random.default_rng(0).standard_normal((4, 3))
    good_y = np.array([0.0, 1.0, 0.0, 1.0])
    calls = []

    with pytest.raises(dp.errors.DataPredictError, match=fragment):
        dp.train_distributed(factory, [(X, good_y), (X, y)], callback=calls.append)
    assert calls == []


def test_integer_valued_float_targets_with_many_values_warn_a_classifier():
    from datapredict.datasets import load_dataset as load

    data = load("diabetes")  # targets 25.0 ... 346.0: 214 distinct values
    shards = split(data.X, data.y.astype(float), 2, how="iid", random_state=0)
    with pytest.warns(UserWarning, match=r"214-class model.*use a regressor"):
        dp.train_distributed(
            lambda: dp.LogisticRegression(max_iterations=1), shards, rounds=1, random_state=0
        )


def test_a_regressor_with_several_outputs_trains_on_every_backend():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    Y = X @ rng.standard_normal((3, 2))
    shards = [(X[:30], Y[:30]), (X[30:], Y[30:])]
    for backend in ("inline", ThreadsBackend(num_workers=2)):
        result = dp.train_distributed(
            lambda: dp.LinearRegression(learning_rate=0.1),
            shards,
            strategy="model_parameters",
            rounds=3,
            backend=backend,
            random_state=0,
        )
        assert result.main_parameters.shape == (4, 2)
        assert not [f for record in result.history for f in record.failures]
        assert result.history["cost"][-1] < result.history["cost"][0]
