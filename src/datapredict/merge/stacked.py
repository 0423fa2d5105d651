"""The input of every merge rule: a stacked (K, P) matrix and optional per-child weights.

:func:`check_stacked` and :func:`check_weights` validate them once, at a rule's door;
:func:`weighted_mean` is the one BLAS pass that averages rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict.errors import DataTypeError, InvalidDataError

__all__ = ["check_stacked", "check_weights", "show", "weighted_mean"]


def check_stacked(stacked: Any, owner: str = "merge rule") -> np.ndarray:
    """Return ``stacked`` as a C-contiguous (K, P) float32 or float64 array.

    Raises
    ------
    DataTypeError
        Unless the dtype is float32 or float64.
    InvalidDataError
        Unless ``stacked`` is 2-D with K >= 1 rows (one per child) and P >= 1 columns.
    """
    array = np.asarray(stacked)
    if array.dtype not in (np.float32, np.float64):
        raise DataTypeError(
            f"{owner}: stacked must have dtype float32 or float64; got dtype {array.dtype}"
        )
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidDataError(
            f"{owner}: stacked must have shape (K, P) with K >= 1 rows, one per child, and "
            f"P >= 1 parameters; got shape {array.shape}"
        )
    return np.ascontiguousarray(array)


def check_weights(weights: Any, n_rows: int, owner: str = "merge rule") -> np.ndarray | None:
    """Validate per-child ``weights`` and return them normalised to sum 1 (float64).

    Returns None when ``weights`` is None or all weights are equal, so that uniform weights
    and no weights take the same path.

    Raises
    ------
    DataTypeError
        If ``weights`` are not numbers.
    InvalidDataError
        Unless ``weights`` has shape (K,), is finite and non-negative, and sums to a
        positive number.
    """
    if weights is None:
        return None
    try:
        array = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataTypeError(
            f"{owner}: weights must be numbers, one per child; got {weights!r}"
        ) from None
    if array.shape != (n_rows,):
        raise InvalidDataError(
            f"{owner}: weights must have shape ({n_rows},), one per row of stacked; "
            f"got shape {array.shape}"
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise InvalidDataError(
            f"{owner}: weights must be finite and non-negative; got {show(array)}"
        )
    total = array.sum()
    if not total > 0:
        raise InvalidDataError(f"{owner}: weights must sum to a positive number; got {show(array)}")
    if (array == array[0]).all():
        return None
    return array / total


def show(array: np.ndarray) -> str:
    """A short rendering of ``array`` for error messages."""
    return np.array2string(array, threshold=8, precision=6)


def weighted_mean(stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
    """``coef @ stacked`` (BLAS, coefficients cast to the stacked dtype); uniform when None."""
    if coef is None:
        coef = np.full(stacked.shape[0], 1.0 / stacked.shape[0])
    return coef.astype(stacked.dtype) @ stacked
