"""Atomic, checksummed checkpoints of a coordinator's state, so a crashed job can resume.

A checkpoint is one ``.npz`` file holding the main vector, its version, the server
optimizer's state (a NamedTuple of an int count and arrays, as ``optimizer.<field>``
entries), the private aggregation's state if any (likewise, ``privacy.<field>``), the
last push id seen from each child (``last_seq.child`` / ``last_seq.seq``), and the
runner's position (``round``, ``next_seq``, and any other ints the host adds).

Writing: the state is checked, written to a temporary file in the same directory,
flushed to disk, renamed over the previous checkpoint, and the directory is flushed
too (POSIX), so the rename survives a power cut. A reader sees the old checkpoint or
the new one, never half of one; a writer killed at any point leaves the last good
checkpoint in place, and its temporary file is removed by the next save or load.

Integrity: the zip comment, the last bytes of the file, is ``_CHECKSUM_PREFIX``
followed by the SHA-256 (hex) of every byte before the digest. Loading verifies it
before parsing anything, then checks every entry (names, types, ranges, finiteness),
so an empty, truncated, altered or hand-made file is refused with a
:class:`~datapredict.errors.CheckpointError` naming the file and what is wrong.
Loading never unpickles.

One process writes a directory's checkpoint at a time; on POSIX a save holds an
exclusive ``flock`` on the directory, and a load removes leftover temporary files
only when it can take that lock (no save is running).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from datapredict.errors import CheckpointError

try:
    import fcntl
except ImportError:  # Windows: no directory locking, and directories cannot be fsynced
    fcntl = None

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.npz"
_OPTIMIZER = "optimizer."
# The NamedTuple states saved field by field: the state dict's key -> the entries' prefix.
_STATES = {"optimizer_state": _OPTIMIZER, "privacy_state": "privacy."}
_LABELS = {"optimizer_state": "the server optimizer state", "privacy_state": "the privacy state"}
_LAST_SEQ = ("last_seq.child", "last_seq.seq")
_REQUIRED = ("main", "version", "round", "next_seq")
_NON_NEGATIVE = ("version", "round", "next_seq", "applied", "count")
_TEMP_PREFIX, _TEMP_SUFFIX = ".checkpoint-", ".npz"
_CHECKSUM_PREFIX = b"datapredict-checkpoint/1 sha256="
_DIGEST_SIZE = 64  # hex characters of a SHA-256
_CHUNK = 1 << 20


def save_checkpoint(directory: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically to ``directory/checkpoint.npz``; returns the path.

    ``state`` holds ``main`` (a 1-D float array), ``version``, ``round``, ``next_seq``
    and other ints, ``optimizer_state`` and ``privacy_state`` (NamedTuples or None) and
    ``last_seq`` (dict of int child id -> int). Stale temporary files of interrupted
    saves are removed first.

    Raises
    ------
    CheckpointError
        If ``state`` could not be restored by :func:`load_checkpoint` (a missing entry,
        a negative count, a non-finite main vector, ...). Nothing is written then.
    """
    directory = Path(directory)
    target = directory / CHECKPOINT_NAME
    where = f"save_checkpoint: state for {str(target)!r}"
    arrays = _to_arrays(state, where)
    _check_entries(arrays, where, {}, None)
    directory.mkdir(parents=True, exist_ok=True)
    with _directory_lock(directory, wait=True) as directory_fd:
        _remove_temporaries(directory)
        handle, temporary = tempfile.mkstemp(
            prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX, dir=directory
        )
        try:
            with os.fdopen(handle, "w+b") as file:
                _write_archive(file, arrays)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if directory_fd is not None:
            os.fsync(directory_fd)  # makes the rename durable
    return target


def load_checkpoint(
    directory: str | os.PathLike,
    optimizer_template: Any = None,
    *,
    main_template: np.ndarray | None = None,
    privacy_template: Any = None,
) -> dict[str, Any]:
    """Read and check the checkpoint in ``directory``.

    Leftover temporary files of saves that died are removed first, unless a save is
    running (it holds the directory's lock).

    Parameters
    ----------
    directory : path
        Where :func:`save_checkpoint` wrote.
    optimizer_template : NamedTuple, optional
        A state of the same server optimizer (``optimizer.init(params)``); its class
        rebuilds the saved optimizer state, whose fields must match it (ints, or arrays
        of the same shape and dtype). Without it the saved optimizer state is checked
        and dropped (``optimizer_state`` is None).
    main_template : ndarray, optional
        The current main vector: the saved one must have its shape and dtype.
    privacy_template : NamedTuple, optional
        A private aggregation's state, like ``optimizer_template`` for ``privacy_state``.

    Returns
    -------
    dict
        ``main``, ``version``, ``last_seq``, ``optimizer_state`` and the saved ints.

    Raises
    ------
    CheckpointError
        If there is no checkpoint there, it cannot be read, its checksum does not match
        (empty, truncated or altered), or an entry is missing, unknown, of the wrong
        type or impossible.
    """
    directory = Path(directory)
    path = directory / CHECKPOINT_NAME
    where = f"load_checkpoint: {str(path)!r}"
    if directory.is_dir():
        with _directory_lock(directory, wait=False) as directory_fd:
            if directory_fd is not None:
                _remove_temporaries(directory)
    if not path.is_file():
        raise CheckpointError(f"resume_from: no checkpoint at {str(path)!r}")
    try:
        with open(path, "rb") as file:
            _verify_checksum(file, where)
            file.seek(0)
            with np.load(file, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{where}: cannot be read: {exc}") from None
    templates = {"optimizer_state": optimizer_template, "privacy_state": privacy_template}
    _check_entries(arrays, where, templates, main_template)
    return _to_state(arrays, templates)


# ------------------------------------------------------------------ the file


def _write_archive(file: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` archive to ``file`` (seekable, readable), then
    its checksum over every byte before the digest, at the very end (the zip comment)."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
        archive.comment = _CHECKSUM_PREFIX + b"0" * _DIGEST_SIZE
    size = file.tell()
    file.seek(0)
    digest = _sha256(file, size - _DIGEST_SIZE)
    file.seek(size - _DIGEST_SIZE)
    file.write(digest)


def _verify_checksum(file: BinaryIO, where: str) -> None:
    size = os.fstat(file.fileno()).st_size
    trailer = len(_CHECKSUM_PREFIX) + _DIGEST_SIZE
    if size < trailer:
        raise CheckpointError(
            f"{where}: is {size} bytes long, too short for a checkpoint (empty or truncated)"
        )
    file.seek(size - trailer)
    prefix, saved = file.read(len(_CHECKSUM_PREFIX)), file.read(_DIGEST_SIZE)
    if prefix != _CHECKSUM_PREFIX:
        raise CheckpointError(
            f"{where}: does not end with a datapredict checksum (truncated, altered, not a "
            "checkpoint, or written by a datapredict older than checksums)"
        )
    file.seek(0)
    computed = _sha256(file, size - _DIGEST_SIZE)
    if computed != saved:
        raise CheckpointError(
            f"{where}: checksum mismatch (the file says {saved[:12].decode(errors='replace')}"
            f"..., its content hashes to {computed[:12].decode()}...): the file is corrupt"
        )


def _sha256(file: BinaryIO, size: int) -> bytes:
    """Hex SHA-256 of the next ``size`` bytes of ``file``."""
    digest = hashlib.sha256()
    while size > 0:
        chunk = file.read(min(size, _CHUNK))
        if not chunk:
            break
        digest.update(chunk)
        size -= len(chunk)
    return digest.hexdigest().encode()


@contextmanager
def _directory_lock(directory: Path, *, wait: bool) -> Iterator[int | None]:
    """Hold an exclusive ``flock`` on ``directory``; yields its descriptor (for fsync),
    or None where directories cannot be opened or locked, or if ``wait`` is False and
    another process holds the lock."""
    try:
        fd = os.open(directory, os.O_RDONLY) if fcntl is not None else None
    except OSError:  # no permission to open the directory
        fd = None
    if fd is None:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a running save (or no flock on this file system)
            yield fd if wait else None
            return
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _remove_temporaries(directory: Path) -> None:
    """Remove the temporary files of saves that died (the caller holds the lock)."""
    for leftover in directory.glob(_TEMP_PREFIX + "*" + _TEMP_SUFFIX):
        leftover.unlink(missing_ok=True)


# --------------------------------------------------------------- the entries


def _to_arrays(state: dict[str, Any], where: str) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        try:
            if key in _STATES:
                fields = {} if value is None else value._asdict()
                arrays.update({_STATES[key] + name: np.asarray(v) for name, v in fields.items()})
            elif key == "last_seq":
                arrays[_LAST_SEQ[0]] = np.array(list(value.keys()), dtype=np.int64)
                arrays[_LAST_SEQ[1]] = np.array(list(value.values()), dtype=np.int64)
            elif value is not None:
                arrays[key] = np.asarray(value)
        except (AttributeError, TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(f"{where}: entry {key!r} cannot be saved: {exc}") from None
    return arrays


def _describe(value: Any) -> str:
    if not isinstance(value, np.ndarray):
        return f"{type(value).__name__} {value!r:.40}"
    if value.ndim == 0:
        return f"{value.item()!r:.40} ({value.dtype})"
    return f"a {value.dtype} array of shape {value.shape}"


def _check_entries(
    arrays: dict[str, Any], where: str, templates: dict[str, Any], main_template: Any
) -> None:
    """Raise CheckpointError unless ``arrays`` is a state :func:`_to_state` can rebuild."""
    missing = [name for name in _REQUIRED if name not in arrays]
    if missing:
        raise CheckpointError(f"{where}: missing entries {missing}; it has {sorted(arrays)}")
    _check_integers(arrays, where)
    _check_main(arrays, where, main_template)
    _check_last_seq(arrays, where)
    for key in _STATES:
        _check_state(arrays, where, key, templates.get(key))


def _refuse(arrays: dict[str, Any], where: str, name: str, expected: str) -> CheckpointError:
    return CheckpointError(
        f"{where}: entry {name!r} must be {expected}; got {_describe(arrays[name])}"
    )


def _check_integers(arrays: dict[str, Any], where: str) -> None:
    """Every entry but the main vector, the push ids and the optimizer's is an int."""
    for name, value in arrays.items():
        if name.startswith(tuple(_STATES.values())) or name in _LAST_SEQ or name == "main":
            continue
        if not _is_int(value):
            raise CheckpointError(
                f"{where}: unknown entry {name!r} ({_describe(value)}); besides 'main', "
                f"{list(_LAST_SEQ)}, 'optimizer.<field>' and 'privacy.<field>', every entry "
                "is an integer"
            )
        if name in _NON_NEGATIVE and value < 0:
            raise _refuse(arrays, where, name, "an integer >= 0")


def _check_main(arrays: dict[str, Any], where: str, main_template: Any) -> None:
    main = arrays["main"]
    if main_template is not None:
        template = np.asarray(main_template)
        if not (
            isinstance(main, np.ndarray)
            and main.shape == template.shape
            and main.dtype == template.dtype
        ):
            raise _refuse(
                arrays, where, "main", f"a {template.dtype} array of shape {template.shape}"
            )
    elif not (
        isinstance(main, np.ndarray)
        and main.ndim == 1
        and main.size
        and main.dtype in (np.float32, np.float64)
    ):
        raise _refuse(arrays, where, "main", "a non-empty 1-D float32 or float64 array")
    _check_finite(main, "main", where)


def _check_last_seq(arrays: dict[str, Any], where: str) -> None:
    present = [name in arrays for name in _LAST_SEQ]
    if any(present) and not all(present):
        raise CheckpointError(f"{where}: has only one of the entries {list(_LAST_SEQ)}")
    if not all(present):
        return
    children, seqs = (arrays[name] for name in _LAST_SEQ)
    for name, value in zip(_LAST_SEQ, (children, seqs), strict=True):
        if not (isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu"):
            raise _refuse(arrays, where, name, "a 1-D integer array")
    if children.shape != seqs.shape or len(set(children.tolist())) != children.size:
        raise CheckpointError(
            f"{where}: entries {list(_LAST_SEQ)} must be equally long, one per distinct "
            f"child; got {children.size} children ({len(set(children.tolist()))} "
            f"distinct) and {seqs.size} sequence numbers"
        )
    if seqs.size and seqs.min() < 0:
        raise _refuse(arrays, where, _LAST_SEQ[1], "sequence numbers >= 0")


def _check_state(arrays: dict[str, Any], where: str, key: str, template: Any) -> None:
    """The entries of one NamedTuple state (``key`` of the state dict) match ``template``
    (None: any ints and finite float arrays)."""
    prefix = _STATES[key]
    fields = {name[len(prefix) :]: name for name in arrays if name.startswith(prefix)}
    if template is None:
        expected = {field: None for field in fields}
    else:
        expected = template._asdict()
        if fields.keys() != expected.keys():
            raise CheckpointError(
                f"{where}: {_LABELS[key]} has fields {sorted(fields)}; "
                f"{type(template).__name__} has {sorted(expected)}"
            )
    for field, template in expected.items():
        name, value = fields[field], arrays[fields[field]]
        if _is_int(value if template is None else np.asarray(template)):
            if not _is_int(value) or value < 0:
                raise _refuse(arrays, where, name, "an integer >= 0")
            continue
        if template is None:
            if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
                raise _refuse(arrays, where, name, "an integer or a float array")
        else:
            template = np.asarray(template)
            if not (
                isinstance(value, np.ndarray)
                and value.shape == template.shape
                and value.dtype == template.dtype
            ):
                shape = f"a {template.dtype} array of shape {template.shape}"
                raise _refuse(arrays, where, name, shape)
        _check_finite(value, name, where)


def _is_int(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu"


def _check_finite(array: np.ndarray, name: str, where: str) -> None:
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise CheckpointError(
            f"{where}: entry {name!r} must be finite; {bad} of its {array.size} values are not"
        )


def _to_state(arrays: dict[str, np.ndarray], templates: dict[str, Any]) -> dict[str, Any]:
    """The state dict :func:`save_checkpoint` was given, from checked ``arrays``."""
    state: dict[str, Any] = {}
    state_fields: dict[str, dict[str, Any]] = {key: {} for key in _STATES}
    for key, value in arrays.items():
        owner = next((k for k, prefix in _STATES.items() if key.startswith(prefix)), None)
        if owner is not None:
            field = key[len(_STATES[owner]) :]
            state_fields[owner][field] = int(value) if _is_int(value) else value
        elif key == "main":
            state[key] = value
        elif key not in _LAST_SEQ:
            state[key] = int(value)
    children, seqs = arrays.get(_LAST_SEQ[0]), arrays.get(_LAST_SEQ[1])
    state["last_seq"] = (
        {} if children is None else dict(zip(children.tolist(), seqs.tolist(), strict=True))
    )
    for key, template in templates.items():
        state[key] = None if template is None else type(template)(**state_fields[key])
    return state
