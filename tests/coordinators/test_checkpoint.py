"""Atomic checkpoints and resuming an interrupted job."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

import datapredict as dp
from datapredict.coordinators.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from datapredict.datasets import load_dataset, split
from datapredict.errors import CheckpointError
from datapredict.merge.server_optimizers import FedAdam


class Crash(Exception):
    """Stands for the coordinator's process dying."""


@pytest.fixture(scope="module")
def shards():
    data = load_dataset("digits")
    return split(data.X[:900], data.y[:900], 3, how="iid", random_state=0)


def _factory():
    return dp.LogisticRegression(learning_rate=0.5, classes=np.arange(10))


def test_save_and_load_round_trip_every_field(tmp_path):
    optimizer = FedAdam()
    template = optimizer.init(np.zeros(4))
    _, opt_state = optimizer.update(np.ones(4), template, np.zeros(4))
    state = {
        "main": np.arange(4.0),
        "version": 7,
        "optimizer_state": opt_state,
        "last_seq": {0: 5, 2: 9},
        "round": 3,
        "next_seq": 12,
    }
    save_checkpoint(tmp_path, state)
    loaded = load_checkpoint(tmp_path, template)
    assert np.array_equal(loaded["main"], state["main"])
    assert (loaded["version"], loaded["round"], loaded["next_seq"]) == (7, 3, 12)
    assert loaded["last_seq"] == {0: 5, 2: 9}
    assert type(loaded["optimizer_state"]) is type(opt_state)
    for saved, original in zip(loaded["optimizer_state"], opt_state, strict=True):
        assert np.array_equal(saved, original)


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, {"main": np.ones(3), "version": 1, "round": 1, "next_seq": 0})

    def dies_half_way(file, array, **options):
        file.write(b"\x93NUMPY half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, {"main": np.zeros(3), "version": 2, "round": 2, "next_seq": 0})
    monkeypatch.undo()
    loaded = load_checkpoint(tmp_path)
    assert loaded["version"] == 1 and loaded["main"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("strategy", "optimizer", "per_round"),
    [
        ("gradients", None, None),
        ("gradients", "fedadam", None),
        ("model_parameters", "fedavgm", None),
        ("model_parameters", None, 2),  # client sampling: the same children after resuming
        ("gradients", "fedadam", 0.5),
    ],
)
def test_resumed_job_equals_the_uninterrupted_one(tmp_path, shards, strategy, optimizer, per_round):
    options = dict(
        strategy=strategy,
        rounds=6,
        random_state=0,
        server_optimizer=optimizer,
        children_per_round=per_round,
    )
    uninterrupted = dp.train_distributed(_factory, shards, **options)

    def crash_after_round_3(record):
        if record.round == 3:
            raise Crash

    with pytest.raises(Crash):
        dp.train_distributed(
            _factory, shards, checkpoint=tmp_path, callback=crash_after_round_3, **options
        )
    # Round 3's update was checkpointed as it was applied, before the callback ran.
    assert load_checkpoint(tmp_path)["round"] == 4
    resumed = dp.train_distributed(
        _factory, shards, checkpoint=dp.Checkpointing(tmp_path, resume_from=tmp_path), **options
    )
    assert [r.round for r in resumed.history] == [4, 5]
    np.testing.assert_array_equal(resumed.main_parameters, uninterrupted.main_parameters)
    assert [r.children for r in resumed.history] == [r.children for r in uninterrupted.history[4:]]


def test_pushes_already_applied_are_not_applied_again():
    server = dp.DistributedGradients()
    server.set_model_parameters(np.zeros(2))
    server.add_gradients(np.ones(2), push_id=(0, 0))
    state = server.state_dict()
    restarted = dp.DistributedGradients()
    restarted.set_model_parameters(np.zeros(2))
    restarted.load_state_dict(state)
    restarted.add_gradients(np.ones(2), push_id=(0, 0))  # a retry of the acknowledged push
    restarted.add_gradients(np.ones(2), push_id=(0, 1))
    assert restarted.get_model_parameters().tolist() == [-2.0, -2.0]
    assert restarted.stats.duplicates == 1


class ScheduledState(NamedTuple):
    """A server optimizer state with a float scalar besides the count and an array."""

    count: int
    rate: float
    momentum: np.ndarray


def test_a_float_scalar_in_the_optimizer_state_is_kept_a_float(tmp_path):
    saved = ScheduledState(count=3, rate=0.25, momentum=np.ones(2))
    state = {"main": np.zeros(2), "version": 1, "round": 1, "next_seq": 0}
    save_checkpoint(tmp_path, {**state, "optimizer_state": saved})
    loaded = load_checkpoint(tmp_path, ScheduledState(0, 1.0, np.zeros(2)))["optimizer_state"]
    assert (loaded.count, loaded.rate) == (3, 0.25)
    assert isinstance(loaded.count, int) and loaded.momentum.tolist() == [1.0, 1.0]
