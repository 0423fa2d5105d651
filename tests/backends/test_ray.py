"""The Ray backend on a real local Ray instance (and a simulated two-node cluster).

Ray starts once for most of this module (``ray_local``, see conftest.py); the tests
that need Ray shut down or another cluster come last (``test_owned_instance...`` and
``test_two_node_cluster...``), so Ray starts three times in all. Every ``ray.get`` /
``ray.wait`` here has a timeout so a pending actor fails the test instead of hanging.
"""

from __future__ import annotations

import sys
import time
from functools import partial

import numpy as np
import pytest

from datapredict import AsyncPolicy, LogisticRegression, train_distributed
from datapredict.datasets import load_dataset, split, train_test_split
from datapredict.errors import InvalidOptionError, MissingDependencyError

pytestmark = pytest.mark.ray

GET_TIMEOUT = 60


@pytest.fixture(scope="module")
def digits():
    """Three IID shards of digits' training part, and a held-out test part."""
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, random_state=0)
    return split(X_train, y_train, 3, how="iid", random_state=0), (X_test, y_test)


# Factories must be importable by Ray's workers: this test module is not, so they are
# partials of datapredict's classes (a lambda or a function of __main__ works too).
full_batch = partial(LogisticRegression, learning_rate=0.5)
mini_batch = partial(LogisticRegression, learning_rate=0.2, batch_size=64)


def ray_backend(**options):
    from datapredict.backends.ray import RayBackend

    return RayBackend(**options)


def wait_until_dead(ray, actor) -> None:
    """Call the actor until a call fails (``ray.kill`` takes effect asynchronously)."""
    for _ in range(200):
        try:
            ray.get(actor.node_id.remote(), timeout=GET_TIMEOUT)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.01)
    raise AssertionError("the killed actor still answers")


def kill_and_confirm(ray, actor) -> None:
    """``ray.kill`` (no restart), then wait until the actor is dead."""
    ray.kill(actor)
    wait_until_dead(ray, actor)


# ------------------------------------------------------------------- sync parity
@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
@pytest.mark.parametrize("factory", [full_batch, mini_batch], ids=["full_batch", "mini_batch"])
def test_sync_ray_equals_inline_to_the_last_bit(ray_local, digits, strategy, factory):
    shards, _ = digits
    options = {"strategy": strategy, "rounds": 4, "random_state": 0, "local_iterations": 3}
    inline = train_distributed(factory, shards, backend="inline", **options)
    on_ray = train_distributed(factory, shards, backend=ray_backend(num_cpus=0.5), **options)
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)
    assert np.array_equal(on_ray.history["cost"], inline.history["cost"])
    assert on_ray.version == inline.version
    assert all(not record.failures for record in on_ray.history)


def test_the_pool_serves_several_jobs_and_its_actors_die_at_close(ray_local, digits):
    shards, _ = digits
    seen = []
    with ray_backend(num_workers=2) as backend:
        for _ in range(2):
            train_distributed(
                full_batch, shards, rounds=2, backend=backend,
                callback=lambda record: seen.append(backend.actors),
            )  # fmt: skip
        assert len(backend.node_ids()) == 2
    assert len(seen[0]) == 2 and all(actors == seen[0] for actors in seen)  # started once
    assert backend.actors == []
    assert ray_local.is_initialized()  # not ours: left running
    for actor in seen[0]:
        wait_until_dead(ray_local, actor)


def test_a_thousand_children_on_two_workers_equal_inline(ray_local):
    data = load_dataset("digits")
    rng = np.random.default_rng(0)
    shards = [(data.X[i], data.y[i]) for i in rng.integers(0, len(data.y), (1000, 20))]
    options = {
        "strategy": "model_parameters", "rounds": 2, "local_iterations": 2, "random_state": 0,
        "merger": "fedavg", "children_per_round": 0.5,
    }  # fmt: skip
    factory = partial(LogisticRegression, learning_rate=0.5, classes=np.arange(10))
    with ray_backend(num_workers=2) as backend:
        on_ray = train_distributed(factory, shards, backend=backend, **options)
    inline = train_distributed(factory, shards, **options)
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)
    assert [len(r.children) for r in on_ray.history] == [500, 500]
    assert on_ray.history["children"].tolist() == inline.history["children"].tolist()


def test_driver_blas_is_limited_during_the_job_only(ray_local, digits):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [
            p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
        ]

    before, during = blas_threads(), []
    train_distributed(
        full_batch,
        digits[0],
        rounds=2,
        backend="ray",
        callback=lambda _: during.append(blas_threads()),
    )
    assert during == [[1] * len(before)] * 2
    assert blas_threads() == before
    train_distributed(
        full_batch,
        digits[0],
        rounds=1,
        backend=ray_backend(driver_blas_threads=None),
        callback=lambda _: during.append(blas_threads()),
    )
    assert during[-1] == before


# ----------------------------------------------------------------- worker death
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_dead_workers_children_go_to_the_live_one(ray_local, digits, mode):
    """``ray.kill`` (no restart) of one of two workers after round 2: its batch in flight
    and its children from then on go to the other worker; no child fails, and full-batch
    children end exactly where inline ones do (sync)."""
    shards, _ = digits
    backend = ray_backend(num_workers=2, max_restarts=0)

    def kill_after_round_2(record):
        if record.round == 1:
            kill_and_confirm(ray_local, backend.actors[1])

    options = {"rounds": 6, "mode": mode, "random_state": 0}
    with backend:
        on_ray = train_distributed(
            full_batch, shards, backend=backend, callback=kill_after_round_2, **options
        )
    assert not [f for record in on_ray.history for f in record.failures]
    assert sum(record.pushes for record in on_ray.history) == 6 * len(shards)
    if mode == "sync":
        inline = train_distributed(full_batch, shards, **options)
        assert np.array_equal(on_ray.main_parameters, inline.main_parameters)


def test_with_every_worker_dead_the_children_fail_loudly(ray_local, digits):
    from datapredict.errors import ChildFailureError

    shards, _ = digits
    backend = ray_backend(num_workers=1, max_restarts=0)

    def kill(record):
        if record.round == 0:
            kill_and_confirm(ray_local, backend.actors[0])

    with backend, pytest.raises(ChildFailureError, match="every"):
        train_distributed(full_batch, shards, rounds=4, backend=backend, callback=kill)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_restarted_worker_rejoins_without_a_failure(ray_local, digits, mode):
    """A crash (kill with restart): Ray re-runs the worker's constructor and retries the
    call in flight; the worker reloads the job from the object store."""
    shards, _ = digits
    backend = ray_backend(num_workers=2, max_restarts=2)
    info = {}

    def crash_then_look(record):
        if record.round == 1:
            info["before"] = ray_local.get(backend.actors[1].info.remote(), timeout=GET_TIMEOUT)
            ray_local.kill(backend.actors[1], no_restart=False)
        if record.round == 3:
            info["after"] = ray_local.get(backend.actors[1].info.remote(), timeout=GET_TIMEOUT)

    options = {"rounds": 5, "random_state": 0, "mode": mode}
    with backend:
        on_ray = train_distributed(
            full_batch, shards, backend=backend, callback=crash_then_look, **options
        )
    assert not info["before"]["restarted"]
    assert info["after"]["restarted"] and info["after"]["pid"] != info["before"]["pid"]
    assert not [f for record in on_ray.history for f in record.failures]
    assert sum(record.pushes for record in on_ray.history) == 5 * len(shards)
    if mode == "sync":
        inline = train_distributed(full_batch, shards, backend="inline", **options)
        assert np.array_equal(on_ray.main_parameters, inline.main_parameters)


class _FailsOnOddShards(LogisticRegression):
    """Raises in ``train`` on a shard with an odd number of rows."""

    def train(self, X, y):
        if len(X) % 2:
            raise RuntimeError("disk on fire")
        return super().train(X, y)


def test_async_child_whose_work_fails_is_recorded_and_the_others_go_on(ray_local, digits):
    """A child whose training raises is recorded once; its units go to the others."""
    import ray.cloudpickle

    shards, (X_test, y_test) = digits
    even = [(X[: len(X) // 2 * 2], y[: len(y) // 2 * 2]) for X, y in shards]
    even[1] = (even[1][0][:-1], even[1][1][:-1])
    rounds = 6
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # this class, by value
    try:
        result = train_distributed(
            partial(_FailsOnOddShards, learning_rate=0.5),
            even,
            mode="async",
            rounds=rounds,
            backend="ray",
            random_state=0,
        )
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    failures = [f for record in result.history for f in record.failures]
    assert len(failures) == 1 and failures[0].startswith("child 1:"), failures
    assert "disk on fire" in failures[0]
    assert sum(record.pushes for record in result.history) == rounds * len(shards) - 1
    assert result.model.score(X_test, y_test) > 0.8


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_async_max_staleness_drops_and_counts_on_ray(ray_local, digits, strategy):
    """The coordinator's actor judges staleness as pushes arrive: with a bound of 0,
    a push computed before another child's update is dropped, counted, and not
    recorded as applied staleness."""
    shards, _ = digits
    rounds = 20
    result = train_distributed(
        full_batch,
        shards,
        strategy=strategy,
        mode="async",
        rounds=rounds,
        asynchrony=AsyncPolicy(max_staleness=0),
        backend="ray",
        random_state=0,
    )
    dropped = sum(record.dropped for record in result.history)
    assert dropped > 0
    assert all(record.staleness_max == 0 for record in result.history)
    assert sum(record.pushes for record in result.history) == rounds * len(shards)


@pytest.mark.parametrize(("strategy", "rounds"), [("gradients", 40), ("model_parameters", 10)])
def test_async_reaches_the_inline_accuracy(ray_local, digits, strategy, rounds):
    shards, (X_test, y_test) = digits
    options = {"strategy": strategy, "rounds": rounds, "mode": "async", "random_state": 0}
    inline = train_distributed(full_batch, shards, backend="inline", **options)
    on_ray = train_distributed(full_batch, shards, backend="ray", **options)
    assert len(on_ray.history) == rounds
    assert sum(record.pushes for record in on_ray.history) == rounds * len(shards)
    seconds = on_ray.history["seconds"]
    assert seconds.min() > 1e-4 and seconds.sum() <= on_ray.seconds
    accuracy = on_ray.model.score(X_test, y_test)
    assert abs(accuracy - inline.model.score(X_test, y_test)) <= 0.01
    assert accuracy > 0.9


# ------------------------------------------------------------------ bad options
def test_missing_ray_names_the_extra(monkeypatch, digits):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'datapredict\[ray\]'"):
        train_distributed(full_batch, digits[0], backend="ray")
    with pytest.raises(ImportError, match="ray"):
        ray_backend()


@pytest.mark.parametrize("address", ["not an address", "http://head:8265", "head:port", 6379])
def test_malformed_address_is_rejected_at_once(address):
    pytest.importorskip("ray")
    with pytest.raises(InvalidOptionError, match="address") as info:
        ray_backend(address=address)
    assert repr(address) in str(info.value)


def test_unreachable_address_is_a_clear_error(monkeypatch, digits):
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh process
    with pytest.raises(InvalidOptionError, match=r"address='127\.0\.0\.1:1'.*failed within"):
        train_distributed(
            full_batch,
            digits[0],
            backend=ray_backend(address="127.0.0.1:1", connect_timeout=2),
        )


def test_other_cluster_while_connected_is_a_clear_error(ray_local, digits):
    with pytest.raises(InvalidOptionError, match=r"'127\.0\.0\.1:1'.*already connected"):
        train_distributed(full_batch, digits[0], backend=ray_backend(address="127.0.0.1:1"))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("num_cpus", -1),
        ("num_gpus", "one"),
        ("max_restarts", -2),
        ("resources", ["x"]),
        ("num_workers", 0),
    ],
)
def test_bad_resource_options_name_the_option(option, value):
    pytest.importorskip("ray")
    with pytest.raises(InvalidOptionError, match=option):
        ray_backend(**{option: value})


def test_unplaceable_workers_fail_fast(ray_local, digits):
    from datapredict.errors import ChildFailureError

    backend = ray_backend(num_workers=2, resources={"no_such_node": 1}, start_timeout=1)
    with backend, pytest.raises(ChildFailureError, match=r"workers \[0, 1\] were not placed"):
        train_distributed(full_batch, digits[0], backend=backend)


# ---------------------------------------- last: tests that need another instance
def test_owned_instance_is_shut_down_at_close(_ray_session, digits):
    ray = _ray_session()
    ray.shutdown()  # so that the backend starts (and owns) its own instance
    result = train_distributed(
        full_batch,
        digits[0],
        rounds=2,
        backend=ray_backend(init_options={"num_cpus": 2, "log_to_driver": False}),
        random_state=0,
    )
    assert not ray.is_initialized()
    inline = train_distributed(full_batch, digits[0], rounds=2, random_state=0)
    assert np.array_equal(result.main_parameters, inline.main_parameters)


def test_two_node_cluster_spreads_workers_and_keeps_parity(ray_cluster, digits):
    ray = pytest.importorskip("ray")
    _, node2 = ray_cluster
    shards = digits[0][:2]
    backend = ray_backend(num_workers=2, num_cpus=1, scheduling_strategy="SPREAD")
    seen = {}

    def look(record):
        if record.round == 0:
            seen["nodes"] = backend.node_ids()

    options = {"strategy": "model_parameters", "rounds": 3, "random_state": 0}
    with backend:
        on_ray = train_distributed(full_batch, shards, backend=backend, callback=look, **options)
    inline = train_distributed(full_batch, shards, backend="inline", **options)
    alive = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(alive) == 2
    assert set(seen["nodes"]) == alive  # one 1-CPU worker per 1-CPU node
    assert node2.node_id in seen["nodes"]
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)
