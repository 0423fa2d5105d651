"""Fault probes of checkpoints: corrupt and impossible files, interrupted and killed writes."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import datapredict as dp
from datapredict.coordinators import checkpoint
from datapredict.coordinators.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.errors import CheckpointError
from datapredict.merge.server_optimizers import FedAdam

TEMP_GLOB = ".checkpoint-*.npz"


def good_state(**changes):
    optimizer = FedAdam()
    state = {
        "main": np.linspace(-1.0, 1.0, 6),
        "version": 4,
        "optimizer_state": optimizer.init(np.zeros(6)),
        "last_seq": {0: 3, 1: 5},
        "round": 2,
        "next_seq": 9,
    }
    state.update(changes)
    return state


def forge(directory: Path, arrays: dict) -> Path:
    """Write ``arrays`` as a checkpoint with a valid checksum, bypassing save's checks
    (as another program or a hand edit could): the format the module documents."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.comment = checkpoint._CHECKSUM_PREFIX + b"0" * 64
    content = buffer.getvalue()[:-64]
    path = directory / CHECKPOINT_NAME
    path.write_bytes(content + hashlib.sha256(content).hexdigest().encode())
    return path


def arrays_of(state):
    arrays = {
        key: np.asarray(value)
        for key, value in state.items()
        if key not in ("optimizer_state", "last_seq")
    }
    for name, value in state["optimizer_state"]._asdict().items():
        arrays["optimizer." + name] = np.asarray(value)
    arrays["last_seq.child"] = np.array(list(state["last_seq"]), dtype=np.int64)
    arrays["last_seq.seq"] = np.array(list(state["last_seq"].values()), dtype=np.int64)
    return arrays


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(TEMP_GLOB))


# ------------------------------------------------------------------ corruption


def test_the_forged_good_state_loads(tmp_path):
    """The forger writes the documented format: the refusals below are about content."""
    forge(tmp_path, arrays_of(good_state()))
    loaded = load_checkpoint(tmp_path, good_state()["optimizer_state"])
    assert loaded["version"] == 4 and loaded["last_seq"] == {0: 3, 1: 5}


def test_an_empty_checkpoint_is_refused_naming_the_file(tmp_path):
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"checkpoint\.npz'.*0 bytes long") as info:
        load_checkpoint(tmp_path)
    assert isinstance(info.value, ValueError) and str(tmp_path) in str(info.value)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, -1])
def test_a_truncated_checkpoint_is_refused(tmp_path, keep):
    path = save_checkpoint(tmp_path, good_state())
    content = path.read_bytes()
    end = len(content) - 1 if keep == -1 else int(len(content) * keep)
    path.write_bytes(content[:end])
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(tmp_path, good_state()["optimizer_state"])


def test_a_flipped_bit_anywhere_in_the_file_is_caught(tmp_path):
    path = save_checkpoint(tmp_path, good_state())
    content = path.read_bytes()
    template = good_state()["optimizer_state"]
    missed = []
    # Every byte of the first and last 256 (headers, the zip directory, the checksum),
    # and a sample of those in between (the arrays), each with one bit flipped.
    middle = range(256, len(content) - 256)
    positions = [*range(256), *random.Random(1).sample(middle, 100), *range(len(content))[-256:]]
    for position in positions:
        corrupt = bytearray(content)
        corrupt[position] ^= 1 << (position % 8)
        path.write_bytes(bytes(corrupt))
        try:
            load_checkpoint(tmp_path, template)
        except CheckpointError as exc:
            assert str(path) in str(exc)
        else:
            missed.append(position)
    assert missed == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("version"), r"missing entries \['version'\]"),
        (lambda a: a.pop("main"), r"missing entries \['main'\]"),
        (lambda a: a.pop("round"), r"missing entries \['round'\]"),
        (lambda a: a.pop("optimizer.v"), "optimizer state has fields"),
        (lambda a: a.update({"optimizer.w": np.zeros(6)}), "optimizer state has fields"),
        (lambda a: a.update({"notes": np.zeros(3)}), "unknown entry 'notes'"),
        (lambda a: a.pop("last_seq.seq"), "only one of the entries"),
        (lambda a: a.update(version=np.asarray("abc")), "unknown entry 'version'"),
        (lambda a: a.update(version=np.asarray(2.0)), "unknown entry 'version'"),
        (lambda a: a.update(version=np.asarray(-1)), "'version' must be an integer >= 0"),
        (lambda a: a.update(round=np.asarray(-3)), "'round' must be an integer >= 0"),
        (lambda a: a.update({"optimizer.count": np.asarray(-2)}), "'optimizer.count' must"),
        (lambda a: a["main"].__setitem__(2, np.nan), "'main' must be finite; 1 of its 6"),
        (lambda a: a["main"].__setitem__(0, np.inf), "'main' must be finite"),
        (lambda a: a.update(main=np.arange(6)), "'main' must be a non-empty 1-D float"),
        (lambda a: a.update(main=np.zeros((2, 3))), "'main' must be a non-empty 1-D float"),
        (lambda a: a.update(main=np.zeros(0)), "'main' must be a non-empty 1-D float"),
        (lambda a: a.update({"optimizer.m": np.zeros(5)}), "'optimizer.m' must be a float64"),
        (
            lambda a: a.update({"optimizer.v": np.zeros(6, np.float32)}),
            "'optimizer.v' must be a float64 array of shape",
        ),
        (lambda a: a["optimizer.v"].__setitem__(1, np.nan), "'optimizer.v' must be finite"),
        (lambda a: a.update({"last_seq.seq": np.array([1])}), "must be equally long"),
        (lambda a: a.update({"last_seq.child": np.array([1, 1])}), "one per distinct child"),
        (lambda a: a.update({"last_seq.seq": np.array([1, -1])}), "sequence numbers >= 0"),
        (lambda a: a.update({"last_seq.seq": np.array([1.0, 2.0])}), "1-D integer array"),
    ],
)
def test_a_checkpoint_with_a_bad_entry_is_refused_naming_file_and_entry(tmp_path, change, message):
    arrays = arrays_of(good_state())
    change(arrays)
    path = forge(tmp_path, arrays)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(tmp_path, good_state()["optimizer_state"])
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("main", "message"),
    [
        (np.zeros(7), r"'main' must be a float64 array of shape \(6,\)"),
        (np.zeros(6, np.float32), r"'main' must be a float64 array of shape \(6,\)"),
    ],
)
def test_a_main_vector_unlike_the_template_is_refused(tmp_path, main, message):
    arrays = arrays_of(good_state())
    arrays["main"] = main
    forge(tmp_path, arrays)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path, main_template=np.zeros(6))


def test_loading_never_unpickles(tmp_path):
    arrays = arrays_of(good_state())
    arrays["round"] = np.array([{"pickled": True}], dtype=object)
    forge(tmp_path, arrays)
    with pytest.raises(CheckpointError, match=r"cannot be read.*allow_pickle"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"round": -3}, "'round' must be an integer >= 0"),
        ({"version": "abc"}, "unknown entry 'version'"),
        ({"main": np.array([1.0, np.nan])}, "'main' must be finite"),
        ({"last_seq": {"a": 1}}, "entry 'last_seq' cannot be saved"),
    ],
)
def test_saving_an_impossible_state_writes_nothing(tmp_path, change, message):
    save_checkpoint(tmp_path, good_state())
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(CheckpointError, match=message):
        save_checkpoint(tmp_path, good_state(**change))
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert temporaries(tmp_path) == []


def test_a_corrupt_checkpoint_is_refused_when_a_coordinator_restores_it(tmp_path):
    server = dp.DistributedGradients(server_optimizer=FedAdam())
    server.set_model_parameters(np.zeros((3, 2)))
    server.add_gradients(np.ones((3, 2)), push_id=(0, 0))
    Checkpointer(tmp_path, 1).maybe_save(server, {"round": 1, "next_seq": 1})
    path = tmp_path / CHECKPOINT_NAME
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x10
    path.write_bytes(bytes(content))
    restarted = dp.DistributedGradients(server_optimizer=FedAdam())
    restarted.set_model_parameters(np.zeros((3, 2)))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        Checkpointer(tmp_path, 1).restore(restarted, tmp_path)
    assert restarted.version == 1 and restarted.stats.applied == 0


# ------------------------------------------------------- interrupted writes


def test_a_crash_before_the_rename_keeps_the_last_checkpoint_and_no_temporary(
    tmp_path, monkeypatch
):
    save_checkpoint(tmp_path, good_state(version=1))

    def crashes(source, target):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crashes)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(tmp_path, good_state(version=2))
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["version"] == 1
    assert temporaries(tmp_path) == []


def test_leftover_temporaries_are_removed_by_load_and_by_save(tmp_path):
    save_checkpoint(tmp_path, good_state(version=1))
    for name in (".checkpoint-dead1.npz", ".checkpoint-dead2.npz"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 half a zip")
    (tmp_path / "notes.npz").write_bytes(b"not ours")
    assert load_checkpoint(tmp_path)["version"] == 1
    assert temporaries(tmp_path) == []
    (tmp_path / ".checkpoint-dead3.npz").write_bytes(b"")
    save_checkpoint(tmp_path, good_state(version=2))
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME, "notes.npz"]


def test_load_leaves_the_temporary_of_a_save_in_progress(tmp_path):
    save_checkpoint(tmp_path, good_state(version=1))
    (tmp_path / ".checkpoint-live.npz").write_bytes(b"being written")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a running save holds
        assert load_checkpoint(tmp_path)["version"] == 1
        assert temporaries(tmp_path) == [".checkpoint-live.npz"]
    finally:
        os.close(fd)
    load_checkpoint(tmp_path)
    assert temporaries(tmp_path) == []


def test_the_directory_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(source, target):
        events.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(tmp_path, good_state())
    assert events == ["fsync file", "replace", "fsync directory"]


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from datapredict.coordinators.checkpoint import save_checkpoint

    directory, version = sys.argv[1], int(sys.argv[2])
    while True:
        main = np.full(300_000, float(version))
        save_checkpoint(directory, dict(main=main, version=version, round=version, next_seq=0))
        if version == int(sys.argv[2]):
            print("saved", flush=True)
        version += 1
    """
)


def test_a_writer_killed_at_random_times_leaves_a_loadable_checkpoint(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    directory = tmp_path / "job"
    env = dict(os.environ, PYTHONPATH=str(Path(dp.__file__).parents[1]))
    rng = random.Random(0)
    version = 0
    for _ in range(5):
        writer = subprocess.Popen(
            [sys.executable, str(script), str(directory), str(version + 1)],
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert writer.stdout.readline() == b"saved\n"
            time.sleep(rng.uniform(0.0, 0.3))  # a few dozen saves, killed anywhere
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL
        state = load_checkpoint(directory)
        assert state["version"] > version  # at least the first save of this writer
        version = state["version"]
        assert state["round"] == version and np.all(state["main"] == version)
        assert temporaries(directory) == []
