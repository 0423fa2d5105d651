"""State types of the server optimizers, and the checks of what ``init`` / ``update`` receive.

Each state is a ``NamedTuple`` of an int step ``count`` and numpy arrays of the shape and
dtype of the main parameters, so a checkpoint can save its fields
(``np.savez(path, **state._asdict())``) and rebuild it with the same class.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from datapredict._validation import check_float
from datapredict.errors import DataTypeError, ParameterStructureError

__all__ = [
    "FedAvgMState",
    "FedOptState",
    "ReplaceState",
    "check_buffer",
    "check_merged",
    "check_params",
    "pseudo_gradient",
    "validate_options",
]


class ReplaceState(NamedTuple):
    """State of :class:`~datapredict.merge.fedopt.Replace`: only the number of updates applied."""

    count: int


# Parallel NamedTuples, each documenting every field a checkpoint saves by name: alike on purpose.
class FedAvgMState(NamedTuple):
    """State of :class:`~datapredict.merge.fedopt.FedAvgM`.

    Attributes
    ----------
    count : int
        Number of updates applied.
    momentum : ndarray of shape (P,)
        The momentum buffer v, in the ascent convention of ``merged - params``.
    """

    count: int
    momentum: np.ndarray


class FedOptState(NamedTuple):
    """State of FedAdagrad, FedAdam and FedYogi (:mod:`datapredict.merge.fedopt`).

    Attributes
    ----------
    count : int
        Number of updates applied.
    m : ndarray of shape (P,)
        First moment of the pseudo-gradient (starts at 0).
    v : ndarray of shape (P,)
        Second-moment estimate (starts at ``tau**2``).
    """

    count: int
    m: np.ndarray
    v: np.ndarray


def check_params(owner: str, method: str, params: Any) -> np.ndarray:
    """Return ``params`` if it is a non-empty 1-D float ndarray (the flat main vector).

    Raises
    ------
    DataTypeError
        Unless ``params`` is a float ndarray.
    ParameterStructureError
        Unless it has shape (P,) with P >= 1.
    """
    if not isinstance(params, np.ndarray) or params.dtype.kind != "f":
        kind = params.dtype if isinstance(params, np.ndarray) else type(params).__name__
        raise DataTypeError(f"{owner}.{method}: params must be a float ndarray; got {kind}")
    if params.ndim != 1 or params.size == 0:
        raise ParameterStructureError(
            f"{owner}.{method}: params must have shape (P,) with P >= 1 (the flat main "
            f"parameters); got shape {params.shape}"
        )
    return params


def check_merged(owner: str, merged: Any, params: Any) -> np.ndarray:
    """Validate ``merged`` and ``params`` for ``update``; return ``merged`` as an array.

    Raises
    ------
    DataTypeError
        Unless ``merged`` holds real numbers (and ``params`` passes :func:`check_params`).
    ParameterStructureError
        Unless ``merged`` has the shape of ``params``.
    """
    check_params(owner, "update", params)
    merged = np.asarray(merged)
    if merged.dtype.kind not in "fiu":
        raise DataTypeError(
            f"{owner}.update: merged must hold real numbers; got dtype {merged.dtype}"
        )
    if merged.shape != params.shape:
        raise ParameterStructureError(
            f"{owner}.update: merged has shape {merged.shape}; params have shape {params.shape}"
        )
    return merged


def pseudo_gradient(owner: str, merged: Any, params: Any) -> np.ndarray:
    """Return ``delta = merged - params`` in the dtype of ``params``, after validation."""
    merged = check_merged(owner, merged, params)
    return merged.astype(params.dtype, copy=False) - params


def check_buffer(owner: str, name: str, buffer: Any, params: np.ndarray) -> np.ndarray:
    """Check that a state array matches ``params``, as ``init(params)`` would have made it."""
    if not isinstance(buffer, np.ndarray) or buffer.shape != params.shape:
        shape = buffer.shape if isinstance(buffer, np.ndarray) else type(buffer).__name__
        raise ParameterStructureError(
            f"{owner}.update: state.{name} has shape {shape}; params have shape "
            f"{params.shape}. Make sure you pass the state returned by init(params)."
        )
    return buffer


def validate_options(optimizer: Any) -> None:
    """Check a frozen optimizer dataclass's options at construction; store them as floats.

    Of the options it has, ``learning_rate`` and ``tau`` must be > 0; ``momentum``,
    ``beta1`` and ``beta2`` in [0, 1). They are checked in that order.
    """
    owner = type(optimizer).__name__
    for name in ("learning_rate", "tau"):
        if hasattr(optimizer, name):
            value = check_float(owner, name, getattr(optimizer, name), low=0.0, low_open=True)
            object.__setattr__(optimizer, name, value)
    for name in ("momentum", "beta1", "beta2"):
        if hasattr(optimizer, name):
            value = check_float(
                owner, name, getattr(optimizer, name), low=0.0, high=1.0, high_open=True
            )
            object.__setattr__(optimizer, name, value)
