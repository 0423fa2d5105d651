"""A child's push when the job compresses it, and its inverse at the coordinator.

The gradients strategy sends the step itself; the model-parameters strategy sends the
update ``params - main`` (small, and centred: what compresses well) and the coordinator
adds its main vector back. The push's randomness (stochastic rounding) comes from the
child's seed and the version the child started from, so a sync job gives the same
result on every backend and a resumed job draws what the uninterrupted one drew.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict.compression.base import Compressor, Payload

__all__ = ["decode_push", "encode_push", "push_seed"]

_BRANCH = 0x636F6D70  # "comp": the compression's branch of a child's seed


def push_seed(child_seed: Any, version: int) -> np.random.SeedSequence:
    """The seed of a child's push from main parameters of ``version``.

    Parameters
    ----------
    child_seed : SeedSequence or int
        The child's seed (``Shards.seeds``).
    version : int
        The version of the main parameters the child trained from.

    Returns
    -------
    SeedSequence
        A branch of ``child_seed`` (its spawn key extended by a fixed tag and
        ``version``): independent of the child's own streams and of other versions.
    """
    if not isinstance(child_seed, np.random.SeedSequence):
        child_seed = np.random.SeedSequence(child_seed)
    key = (*child_seed.spawn_key, _BRANCH, int(version))
    return np.random.SeedSequence(child_seed.entropy, spawn_key=key)


def encode_push(
    compressor: Compressor,
    pushed: np.ndarray,
    main: np.ndarray | None,
    state: Any,
    seed: Any,
) -> tuple[Payload, Any]:
    """What a child sends: ``pushed`` compressed (``pushed - main`` when ``main`` is
    given), and the child's next compression state.

    Parameters
    ----------
    compressor : Compressor
        The job's compressor.
    pushed : ndarray of shape (P,)
        The child's flat step, or its flat parameters (not modified).
    main : ndarray of shape (P,) or None
        The main parameters the child started from (model-parameters strategy), or None.
    state : object
        The child's compression state from its previous push (None at first).
    seed : SeedSequence
        The push's seed (:func:`push_seed`).
    """
    vector = pushed if main is None else pushed - main
    return compressor.encode(vector, state, seed)


def decode_push(payload: Payload, main: np.ndarray | None) -> np.ndarray:
    """The pushed flat vector, at the coordinator: ``payload`` decoded, plus ``main``
    when the push is an update of the main parameters (a new array)."""
    vector = payload.decode()
    if main is not None:
        vector += main
    return vector
