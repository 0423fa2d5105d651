"""Atomic checkpoints of a coordinator's state, so a crashed job can resume.

A checkpoint is one ``.npz`` file holding the main vector, its version, the server
optimizer's state (a NamedTuple of an int count and arrays), the last push id seen from
each child, and the runner's position (round, next push sequence number). It is
written to a temporary file in the same directory, flushed to disk, then renamed over
the previous checkpoint: a reader sees the old checkpoint or the new one, never half
of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from datapredict.errors import InvalidDataError

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.npz"
_OPTIMIZER = "optimizer."


def save_checkpoint(directory: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically to ``directory/checkpoint.npz``; returns the path.

    ``state`` holds ``main`` (array), ``version`` and other ints, ``optimizer_state``
    (a NamedTuple or None) and ``last_seq`` (dict of child id -> int).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if key == "optimizer_state":
            fields = {} if value is None else value._asdict()
            arrays.update({_OPTIMIZER + name: np.asarray(v) for name, v in fields.items()})
        elif key == "last_seq":
            arrays["last_seq.child"] = np.array(list(value.keys()), dtype=np.int64)
            arrays["last_seq.seq"] = np.array(list(value.values()), dtype=np.int64)
        elif value is not None:
            arrays[key] = np.asarray(value)
    handle, temporary = tempfile.mkstemp(prefix=".checkpoint-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        target = directory / CHECKPOINT_NAME
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(directory: str | os.PathLike, optimizer_template: Any = None) -> dict[str, Any]:
    """Read the checkpoint in ``directory``.

    Parameters
    ----------
    directory : path
        Where :func:`save_checkpoint` wrote.
    optimizer_template : NamedTuple, optional
        A state of the same server optimizer (``optimizer.init(params)``); its class
        rebuilds the saved optimizer state.

    Raises
    ------
    InvalidDataError
        If there is no checkpoint there, or it cannot be read.
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        raise InvalidDataError(f"resume_from: no checkpoint at {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise InvalidDataError(f"resume_from: cannot read {str(path)!r}: {exc}") from None
    state: dict[str, Any] = {}
    optimizer_fields = {}
    for key, value in saved.items():
        if key.startswith(_OPTIMIZER):
            optimizer_fields[key[len(_OPTIMIZER) :]] = int(value) if value.ndim == 0 else value
        elif not key.startswith("last_seq."):
            state[key] = value if value.ndim else value.item()
    children, seqs = saved.get("last_seq.child"), saved.get("last_seq.seq")
    state["last_seq"] = (
        {} if children is None else dict(zip(children.tolist(), seqs.tolist(), strict=True))
    )
    state["optimizer_state"] = (
        type(optimizer_template)(**optimizer_fields) if optimizer_template is not None else None
    )
    return state
