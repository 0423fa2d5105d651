"""Top-k sparsification with error feedback (Stich, Cordonnier, Jaggi, NeurIPS 2018;
Karimireddy, Rebjock, Stich, Jaggi, ICML 2019).

A push sends only the ``k = round(fraction * P)`` values of largest magnitude, as their
indices and values. With error feedback (the default) the child keeps what it did not
send: it sends ``c_t = topk(e_t + g_t)`` and keeps ``e_{t+1} = e_t + g_t - c_t``, so
nothing is lost, only delayed: after T pushes, the sum of everything sent plus the last
residual is the sum of the T vectors. Without it, the rest is dropped (biased).

**Selection in O(P) without a full argpartition.** ``np.argpartition`` of every
magnitude reads and reorders the whole vector (about 1 GB/s of float32 at P = 4e6, the
target speed itself). A threshold from a strided sample of 4096 magnitudes (a rank that
leaves about 2k values above it, plus four standard deviations) picks the candidates
in one pass over the vector, block by block in cache; ``np.argpartition`` then runs on
the candidates only. If fewer than k values pass the threshold (a sample that misled),
the full ``np.argpartition`` decides: the result is always exactly the k largest
magnitudes, only the time depends on the sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from datapredict._validation import check_bool, check_float, option_error
from datapredict.compression.base import Payload, check_vector

__all__ = ["SparsePayload", "TopK", "top_k_indices"]

_BLOCK = 1 << 16  # values per block of the candidates' pass
_SAMPLE = 4096  # magnitudes sampled for the threshold


@dataclass(frozen=True, eq=False)
class SparsePayload(Payload):
    """A sparse vector: the indices and values of its non-zero entries.

    Attributes
    ----------
    indices : ndarray of uint32 (int64 when ``size >= 2**32``)
        Positions of the values sent, in no particular order.
    values : ndarray
        Their values, in the vector's dtype (which the decoded vector has).
    size : int
        Values in the vector.
    """

    indices: np.ndarray
    values: np.ndarray
    size: int

    @property
    def nbytes(self) -> int:
        """Bytes of the indices and values."""
        return int(self.indices.nbytes + self.values.nbytes)

    def decode(self) -> np.ndarray:
        """The vector: zeros except ``values`` at ``indices``."""
        out = np.zeros(self.size, self.values.dtype)
        out[self.indices] = self.values
        return out


@dataclass(frozen=True)
class TopK:
    """Send the ``fraction`` of values of largest magnitude; keep the rest for later.

    Parameters
    ----------
    fraction : float, default=0.01
        Share of the values sent, in (0, 1]: ``k = round(fraction * P)``, at least 1.
    error_feedback : bool, default=True
        Keep what was not sent on the child and add it to the next push (the state
        that :meth:`encode` returns is that residual).

    Examples
    --------
    >>> import numpy as np
    >>> topk = TopK(fraction=0.25)
    >>> payload, residual = topk.encode(np.array([0.1, -3.0, 0.2, 1.0]))
    >>> payload.indices.tolist(), payload.values.tolist(), residual.tolist()
    ([1], [-3.0], [0.1, 0.0, 0.2, 1.0])
    >>> payload, residual = topk.encode(np.array([0.1, 0.0, 0.2, 1.0]), residual)
    >>> payload.indices.tolist(), payload.values.tolist(), residual.tolist()
    ([3], [2.0], [0.2, 0.0, 0.4, 0.0])
    """

    fraction: float = 0.01
    error_feedback: bool = True

    def __post_init__(self) -> None:
        check_float("TopK", "fraction", self.fraction, low=0, high=1, low_open=True)
        check_bool("TopK", "error_feedback", self.error_feedback)

    @property
    def name(self) -> str:
        """``"topk:<fraction>"``, e.g. ``"topk:0.01"``."""
        return f"topk:{self.fraction:g}"

    def count(self, size: int) -> int:
        """Values sent from a vector of ``size``: ``round(fraction * size)``, at least 1."""
        return max(1, round(self.fraction * size))

    def encode(
        self, vector: np.ndarray, state: np.ndarray | None = None, seed: Any = None
    ) -> tuple[SparsePayload, np.ndarray | None]:
        """The top-k payload of ``vector`` plus the residual, and the new residual.

        Parameters
        ----------
        vector : ndarray of shape (P,), float32 or float64
            Not modified.
        state : ndarray of shape (P,), optional
            The residual the previous push returned (None: zero). Not modified.
        seed : ignored
            Top-k is deterministic (ties go as ``np.argpartition`` puts them).

        Returns
        -------
        (SparsePayload, ndarray or None)
            The payload and the new residual (None without error feedback).
        """
        owner = f"TopK(fraction={self.fraction:g}).encode"
        vector = check_vector(owner, vector)
        if not self.error_feedback:
            if state is not None:
                raise option_error(owner, "state", "None (no error feedback)", state)
            indices = top_k_indices(vector, self.count(vector.size))
            return SparsePayload(indices, vector[indices], vector.size), None
        if state is None:
            total = vector.copy()
        elif (
            not isinstance(state, np.ndarray)
            or state.shape != vector.shape
            or state.dtype != vector.dtype
        ):
            expected = f"None or the residual: a {vector.dtype} array of shape {vector.shape}"
            raise option_error(owner, "state", expected, getattr(state, "shape", state))
        else:
            total = state + vector
        indices = top_k_indices(total, self.count(vector.size))
        payload = SparsePayload(indices, total[indices], vector.size)
        total[indices] = 0  # e_{t+1} = e_t + g_t - c_t (a new array)
        return payload, total


def top_k_indices(vector: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` values of largest magnitude of ``vector`` (in no order).

    See the module's note for how the candidates are found in one pass. Indices are
    uint32 (int64 for vectors of ``2**32`` values or more). NaN counts as the largest
    magnitude (as ``np.argpartition`` orders it).
    """
    size = vector.size
    index_type = np.uint32 if size < 2**32 else np.int64
    if k >= size:
        return np.arange(size, dtype=index_type)
    candidates = _candidates(vector, k)
    if candidates is None:
        chosen = np.argpartition(np.abs(vector), size - k)[size - k :]
    else:
        magnitudes = np.abs(vector[candidates])
        chosen = candidates[np.argpartition(magnitudes, candidates.size - k)[-k:]]
    return chosen.astype(index_type, copy=False)


def _candidates(vector: np.ndarray, k: int) -> np.ndarray | None:
    """Indices of the values whose magnitude reaches a sampled threshold, if at least
    ``k`` do (then they hold the ``k`` largest); None when sampling cannot help."""
    size = vector.size
    stride = size // _SAMPLE
    expected = k / size * _SAMPLE  # sampled values above the k-th largest
    above = math.ceil(2 * expected + 4 * math.sqrt(expected)) + 1
    if stride < 2 or above >= _SAMPLE // 2:
        return None
    sample = np.abs(vector[::stride])
    threshold = np.partition(sample, sample.size - above)[sample.size - above]
    found = []
    magnitude = np.empty(min(size, _BLOCK), vector.dtype)
    below = np.empty(magnitude.size, bool)
    for start in range(0, size, _BLOCK):
        n = min(_BLOCK, size - start)
        np.abs(vector[start : start + n], out=magnitude[:n])
        np.less(magnitude[:n], threshold, out=below[:n])  # NaN is never below: a candidate
        np.logical_not(below[:n], out=below[:n])
        found.append(np.flatnonzero(below[:n]) + start)
    candidates = np.concatenate(found)
    return candidates if candidates.size >= k else None
