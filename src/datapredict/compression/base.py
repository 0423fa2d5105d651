"""What every compressor shares: the contract, the payload's base, the vector check.

A compressor is a small frozen dataclass with one pure method,

    ``encode(vector, state, seed) -> (payload, new_state)``

``vector`` is a flat float32 or float64 vector (what a child would send), never
modified; ``state`` is what the compressor keeps on the child between two pushes (top-k's
error-feedback residual; ``None`` before the first push and for stateless compressors)
and ``new_state`` replaces it; ``seed`` seeds the push's randomness (a
``numpy.random.SeedSequence`` or an int). The ``payload`` is what travels: a
:class:`Payload` of a few numpy arrays that knows its size in bytes (``nbytes``) and
decodes itself (``payload.decode()``), so the receiving side needs no option of the
compressor that made it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from datapredict.errors import DataTypeError, ParameterStructureError

__all__ = ["Compressor", "Payload", "check_vector"]


class Payload:
    """What a compressed push carries: numpy arrays, picklable, with their size.

    Subclasses are frozen dataclasses of arrays (:class:`QuantizedPayload`,
    :class:`SparsePayload`) and implement :meth:`decode` and :attr:`nbytes`.
    """

    size: int

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the payload carries (what a push costs on the wire)."""
        raise NotImplementedError

    def decode(self) -> np.ndarray:
        """The flat vector the payload stands for: a new array of ``size`` floats."""
        raise NotImplementedError


@runtime_checkable
class Compressor(Protocol):
    """A transform on what a child sends (see the module's contract)."""

    @property
    def name(self) -> str:
        """The compressor's name, e.g. ``"int8"`` or ``"topk:0.01"``."""

    def encode(
        self, vector: np.ndarray, state: Any = None, seed: Any = None
    ) -> tuple[Payload, Any]:
        """``vector``'s payload and the child's next state."""


def check_vector(owner: str, vector: Any) -> np.ndarray:
    """``vector`` if it is a non-empty flat float32 or float64 ndarray (made contiguous).

    Raises
    ------
    DataTypeError
        If it is not an ndarray of float32 or float64.
    ParameterStructureError
        If it is not one-dimensional or is empty.
    """
    if not isinstance(vector, np.ndarray) or vector.dtype not in (np.float32, np.float64):
        got = getattr(vector, "dtype", type(vector).__name__)
        raise DataTypeError(f"{owner}: vector must be a float32 or float64 ndarray; got {got}")
    if vector.ndim != 1 or vector.size == 0:
        raise ParameterStructureError(
            f"{owner}: vector must be a non-empty flat (P,) array; got shape {vector.shape}"
        )
    return np.ascontiguousarray(vector)
