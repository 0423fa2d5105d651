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
            ray.get(actor.ping.remote(), timeout=GET_TIMEOUT)
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


def test_children_share_two_cpus_and_are_killed_at_close(ray_local, digits):
    shards, _ = digits
    backend = ray_backend()
    seen = {}

    def look(record):
        if record.round == 0:
            seen["actors"] = backend.actors
            seen["nodes"] = backend.node_ids()

    train_distributed(full_batch, [*shards, shards[0]], rounds=2, backend=backend, callback=look)
    assert len(seen["actors"]) == 4  # four 0.5-CPU children on a two-CPU instance
    assert len(set(seen["nodes"])) == 1
    assert backend.actors == []
    assert ray_local.is_initialized()  # not ours: left running
    for actor in seen["actors"]:
        wait_until_dead(ray_local, actor)


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


# ------------------------------------------------------------------ child death
@pytest.mark.parametrize(
    ("mode", "max_restarts", "rounds"),
    [("sync", 3, 8), ("async", 0, 40)],
    ids=["sync-default_restarts", "async-no_restarts"],
)
def test_child_killed_mid_training_is_recorded_and_training_finishes(
    ray_local, digits, mode, max_restarts, rounds
):
    """``ray.kill`` (no restart) after round 2: the death lands in ``failures``.

    Async uses ``max_restarts=0`` so that the child's loop fails at once rather than
    waiting for a restart that never comes. Async children do not wait for the driver,
    whose callback sees round 1 up to one poll interval late: 40 rounds make sure the
    kill lands mid-job.
    """
    shards, (X_test, y_test) = digits
    backend = ray_backend(max_restarts=max_restarts)

    def kill_after_round_2(record):
        if record.round == 1:
            kill_and_confirm(ray_local, backend.actors[1])

    result = train_distributed(
        full_batch,
        shards,
        rounds=rounds,
        mode=mode,
        backend=backend,
        random_state=0,
        callback=kill_after_round_2,
    )
    summary = [(r.round, r.pushes, r.failures) for r in result.history]
    failures = [f for record in result.history for f in record.failures]
    assert len(failures) == 1, summary
    assert failures[0].startswith("child 1: its Ray actor died"), summary
    assert all(not record.failures for record in result.history[:2]), summary
    assert len(result.history) == rounds, summary
    assert np.isfinite(result.main_parameters).all()
    assert result.model.score(X_test, y_test) > 0.8


def test_restarted_child_rejoins_without_a_failure(ray_local, digits):
    """A crash (kill with restart) re-runs the actor's constructor from the spec and
    retries the push in flight: full-batch children give exactly the inline result."""
    shards, _ = digits
    backend = ray_backend(max_restarts=2)
    info = {}

    def crash_then_look(record):
        if record.round == 1:
            info["before"] = ray_local.get(backend.actors[1].info.remote(), timeout=GET_TIMEOUT)
            ray_local.kill(backend.actors[1], no_restart=False)
        if record.round == 3:
            info["after"] = ray_local.get(backend.actors[1].info.remote(), timeout=GET_TIMEOUT)

    options = {"rounds": 5, "random_state": 0}
    on_ray = train_distributed(
        full_batch, shards, backend=backend, callback=crash_then_look, **options
    )
    inline = train_distributed(full_batch, shards, backend="inline", **options)
    assert not info["before"]["restarted"]
    assert info["after"]["restarted"] and info["after"]["pid"] != info["before"]["pid"]
    assert all(not record.failures and record.pushes == 3 for record in on_ray.history)
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)


# ------------------------------------------------------------------------ async
def test_async_restarted_child_rejoins_and_the_budget_is_kept(ray_local, digits):
    """Async children push straight to the coordinator; a child restarted mid-job asks
    it what work it holds and goes on: no failure, and exactly rounds x K pushes."""
    shards, (X_test, y_test) = digits
    backend = ray_backend(max_restarts=2)
    seen = {}

    def crash_once(record):
        if record.round == 1:
            ray_local.kill(backend.actors[1], no_restart=False)
        if record.round == rounds - 1:  # answered once the child's loop has ended
            seen["info"] = ray_local.get(backend.actors[1].info.remote(), timeout=GET_TIMEOUT)

    rounds = 40
    result = train_distributed(
        full_batch,
        shards,
        mode="async",
        rounds=rounds,
        backend=backend,
        random_state=0,
        callback=crash_once,
    )
    assert seen["info"]["restarted"]
    assert not [f for record in result.history for f in record.failures]
    assert sum(record.pushes for record in result.history) == rounds * len(shards)
    assert result.model.score(X_test, y_test) > 0.9


class _FailsOnOddShards(LogisticRegression):
    """Raises in ``train`` on a shard with an odd number of rows."""

    def train(self, X, y):
        if len(X) % 2:
            raise RuntimeError("disk on fire")
        return super().train(X, y)


def test_async_child_whose_work_fails_is_recorded_and_the_others_go_on(ray_local, digits):
    """A child whose training raises reports the error to the coordinator, which stops
    handing it work; the driver records it once and the others go on."""
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
    seconds = on_ray.history["seconds"]  # from arrival times, not the driver's polls
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
        ("poll_interval", 0),
    ],
)
def test_bad_resource_options_name_the_option(option, value):
    pytest.importorskip("ray")
    with pytest.raises(InvalidOptionError, match=option):
        ray_backend(**{option: value})


def test_unplaceable_children_fail_fast(ray_local, digits):
    from datapredict.errors import ChildFailureError

    with pytest.raises(ChildFailureError, match=r"children \[0, 1, 2\] were not placed"):
        train_distributed(
            full_batch,
            digits[0],
            backend=ray_backend(resources={"no_such_node": 1}, start_timeout=1),
        )


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


def test_two_node_cluster_spreads_children_and_keeps_parity(ray_cluster, digits):
    ray = pytest.importorskip("ray")
    _, node2 = ray_cluster
    shards = digits[0][:2]
    backend = ray_backend(num_cpus=1, scheduling_strategy="SPREAD")
    seen = {}

    def look(record):
        if record.round == 0:
            seen["nodes"] = backend.node_ids()

    options = {"strategy": "model_parameters", "rounds": 3, "random_state": 0}
    on_ray = train_distributed(full_batch, shards, backend=backend, callback=look, **options)
    inline = train_distributed(full_batch, shards, backend="inline", **options)
    alive = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(alive) == 2
    assert set(seen["nodes"]) == alive  # one 1-CPU child per 1-CPU node
    assert node2.node_id in seen["nodes"]
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)
