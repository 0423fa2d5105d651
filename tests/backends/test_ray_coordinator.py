"""The coordinator as a Ray actor: data bypasses the driver, and a crash is survived."""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pytest

from datapredict import Checkpointing, LogisticRegression, train_distributed
from datapredict.datasets import load_dataset, split
from datapredict.errors import ChildFailureError

pytestmark = pytest.mark.ray

GET_TIMEOUT = 60
full_batch = partial(LogisticRegression, learning_rate=0.5)


@pytest.fixture(scope="module")
def shards():
    data = load_dataset("digits")
    return split(data.X[:900], data.y[:900], 3, how="iid", random_state=0)


def _backend():
    from datapredict.backends.ray import RayBackend

    return RayBackend(num_cpus=0.5)


def test_the_coordinator_runs_in_its_own_actor_process(ray_local, shards):
    import os

    backend = _backend()
    seen = {}

    def look(record):
        if record.round == 0:
            actor = backend.coordinator.actor
            seen["pid"] = ray_local.get(actor.pid.remote(), timeout=GET_TIMEOUT)

    train_distributed(full_batch, shards, rounds=2, backend=backend, callback=look)
    assert seen["pid"] != os.getpid()
    assert backend.coordinator is None  # released at close


def _restarted_pid(ray, actor, old_pid: int) -> int:
    for _ in range(600):
        try:
            pid = ray.get(actor.pid.remote(), timeout=GET_TIMEOUT)
        except ray.exceptions.RayActorError:
            time.sleep(0.05)
            continue
        if pid != old_pid:
            return pid
        time.sleep(0.05)
    raise AssertionError("the coordinator actor was not restarted")


def _coordinator_killer(ray, backend, at_round: int, restarts: list | None = None):
    """A ``train_distributed`` callback that kills the coordinator's actor (Ray may restart
    it) after round ``at_round``; given ``restarts``, it waits for the restarted process
    and appends its pid."""

    def kill(record):
        if record.round != at_round:
            return
        actor = backend.coordinator.actor
        pid = None if restarts is None else ray.get(actor.pid.remote(), timeout=GET_TIMEOUT)
        ray.kill(actor, no_restart=False)
        if restarts is not None:
            restarts.append(_restarted_pid(ray, actor, pid))

    return kill


@pytest.mark.parametrize(
    ("strategy", "optimizer"), [("gradients", "fedadam"), ("model_parameters", None)]
)
def test_coordinator_killed_and_restarted_from_its_checkpoint_ends_like_an_unbroken_run(
    ray_local, shards, tmp_path, strategy, optimizer
):
    options = {"strategy": strategy, "rounds": 6, "random_state": 0, "server_optimizer": optimizer}
    unbroken = train_distributed(full_batch, shards, backend="inline", **options)
    backend = _backend()
    restarts = []

    kill_the_coordinator = _coordinator_killer(ray_local, backend, 2, restarts)
    result = train_distributed(
        full_batch,
        shards,
        backend=backend,
        checkpoint=tmp_path,
        callback=kill_the_coordinator,
        **options,
    )
    assert len(restarts) == 1
    assert [r.round for r in result.history] == list(range(6))
    np.testing.assert_array_equal(result.main_parameters, unbroken.main_parameters)


def test_resume_from_a_checkpoint_on_ray_equals_inline(ray_local, shards, tmp_path):
    options = {"strategy": "gradients", "rounds": 5, "random_state": 0}
    unbroken = train_distributed(full_batch, shards, backend="inline", **options)

    def crash(record):
        if record.round == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_distributed(
            full_batch,
            shards,
            backend=_backend(),
            checkpoint=tmp_path,
            callback=crash,
            **options,
        )
    resumed = train_distributed(
        full_batch,
        shards,
        backend=_backend(),
        checkpoint=Checkpointing(tmp_path, resume_from=tmp_path),
        **options,
    )
    assert [r.round for r in resumed.history] == [2, 3, 4]
    np.testing.assert_array_equal(resumed.main_parameters, unbroken.main_parameters)


def test_coordinator_crash_without_checkpoints_fails_loudly(ray_local, shards):
    """A restarted coordinator with nothing to resume from refuses to start over."""
    backend = _backend()

    kill_the_coordinator = _coordinator_killer(ray_local, backend, 1)
    with pytest.raises(ChildFailureError, match="checkpoint="):
        train_distributed(
            full_batch, shards, rounds=6, backend=backend, callback=kill_the_coordinator
        )


def test_coordinator_crash_in_an_async_job_fails_loudly(ray_local, shards):
    """When the coordinator dies without a checkpoint, an async job ends naming the
    coordinator, not as "every child failed"."""
    backend = _backend()

    kill_the_coordinator = _coordinator_killer(ray_local, backend, 1)
    with pytest.raises(ChildFailureError, match=r"coordinator's actor died.*checkpoint="):
        train_distributed(
            full_batch,
            shards,
            mode="async",
            rounds=60,
            backend=backend,
            callback=kill_the_coordinator,
        )


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_coordinator_crash_in_a_checkpointed_async_job_is_survived(
    ray_local, shards, tmp_path, strategy
):
    """Killed and restarted by Ray, the coordinator reloads its checkpoint; the push in
    flight is retried on it, and applied once (its push id). The driver hands out the
    units of work, so the job's budget is exact: rounds x children pushes, one record
    per round, no more."""
    backend = _backend()
    restarts = []
    rounds = 60

    kill_the_coordinator = _coordinator_killer(ray_local, backend, 2, restarts)
    result = train_distributed(
        full_batch,
        shards,
        strategy=strategy,
        mode="async",
        rounds=rounds,
        backend=backend,
        checkpoint=tmp_path,
        callback=kill_the_coordinator,
        random_state=0,
    )
    assert len(restarts) == 1
    assert result.history["seconds"].max() > 0.2  # a round waited for the restart: mid-job
    assert not [f for record in result.history for f in record.failures]
    assert len(result.history) == rounds
    assert sum(record.pushes for record in result.history) == rounds * len(shards)
    assert np.isfinite(result.main_parameters).all()
    X, y = (np.concatenate(parts) for parts in zip(*shards, strict=True))
    assert result.model.score(X, y) > 0.9
