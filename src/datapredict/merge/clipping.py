"""Norm clipping: a pure step that bounds each child's L2 norm.

``clip_rows(stacked, max_norm)`` scales row k by ``min(1, max_norm / |row_k|)`` (norm
thresholding, Sun et al. 2019; the FlatClip of DP-FedAvg, McMahan et al. 2018). It is
one step of the aggregation chain and what :class:`~datapredict.merge.rules.NormClip`
applies before its rule.

>>> import numpy as np
>>> clip_rows(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]]), 1.0)
array([[0.6, 0.8],
       [0.3, 0.4],
       [0. , 0. ]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict._validation import check_float
from datapredict.errors import DataTypeError, InvalidDataError, NonFiniteError
from datapredict.merge.order_statistics import block_columns

__all__ = ["clip_factors", "clip_matrix", "clip_rows", "row_norms"]


def _fast_sq_norms(matrix: np.ndarray) -> np.ndarray:
    """Squared row norms, float64, from per-block sums in the matrix dtype (``inf`` on
    overflow, which :func:`row_norms` then redoes with scaling)."""
    n_rows, n_cols = matrix.shape
    width = block_columns(n_rows, matrix.itemsize)
    total = np.zeros(n_rows)
    with np.errstate(over="ignore"):
        for start in range(0, n_cols, width):
            block = matrix[:, start : start + width]
            total += np.einsum("kp,kp->k", block, block)
    return total


def _scaled_rows(matrix: np.ndarray, rows: np.ndarray, owner: str) -> tuple[np.ndarray, ...]:
    """For the chosen ``rows``: float64 copies scaled by ``2**-e`` (exact, entries below 1),
    their scaled norms, and ``e``. Raises NonFiniteError for rows with NaN or infinity."""
    scaled = matrix[rows].astype(np.float64)
    peaks = np.abs(scaled).max(axis=1)
    if not np.isfinite(peaks).all():
        bad = rows[~np.isfinite(peaks)].tolist()
        raise NonFiniteError(f"{owner}: rows {bad} of stacked are not finite")
    exponents = np.frexp(peaks)[1]
    np.ldexp(scaled, -exponents[:, None], out=scaled)
    return scaled, np.sqrt(np.einsum("kp,kp->k", scaled, scaled)), exponents


def row_norms(matrix: np.ndarray, owner: str = "row_norms") -> tuple[np.ndarray, np.ndarray]:
    """L2 norm of each row of a (K, P) float matrix, safe for any finite values.

    Returns
    -------
    norms : ndarray of shape (K,), float64
        ``+inf`` only where the norm exceeds float64's range.
    extreme : ndarray of shape (K,), bool
        Rows whose squares overflowed in the fast pass (norms recomputed with scaling).

    Raises
    ------
    NonFiniteError
        For rows holding NaN or infinity.
    """
    norms = np.sqrt(_fast_sq_norms(matrix))
    extreme = ~np.isfinite(norms)
    if extreme.any():
        _, scaled_norms, exponents = _scaled_rows(matrix, np.flatnonzero(extreme), owner)
        with np.errstate(over="ignore"):
            norms[extreme] = np.ldexp(scaled_norms, exponents)
    return norms, extreme


def clip_rows(stacked: Any, max_norm: float, *, out: np.ndarray | None = None) -> np.ndarray:
    """Scale each row to L2 norm at most ``max_norm``: ``row * min(1, max_norm / |row|)``.

    Parameters
    ----------
    stacked : ndarray of shape (K, P) or (P,), float32 or float64
        One row per child (a vector is one row). Finite; never modified unless
        ``out is stacked``.
    max_norm : float > 0
        The bound M on each row's L2 norm (over the whole row).
    out : ndarray or None, default=None
        Where to write: None gives a new array; ``stacked`` itself clips in place; any
        other array must have the shape and dtype of ``stacked``.

    Returns
    -------
    ndarray
        ``out`` (a new array when None), shape and dtype of ``stacked``. Rows with norm
        at most ``max_norm`` (zero rows included) are copied bit for bit; the others are
        scaled by the positive factor ``max_norm / |row|``, so their direction is kept and
        their norm is ``max_norm`` up to the dtype's rounding (relative ``2 eps`` per
        element plus the summation error of the norm). The norm is accumulated in the
        dtype over cache-sized blocks and in float64 across them; rows whose squares
        overflow (values beyond about 1e19 in float32, 1e154 in float64) are scaled by a
        power of two first, so any finite row is clipped correctly. One vectorised pass
        over the rows, no Python loop over them.

    Raises
    ------
    DataTypeError
        Unless ``stacked`` (and ``out``) are float32 or float64 arrays.
    InvalidDataError
        For an empty ``stacked``, one of more than 2 dimensions, or an ``out`` of another
        shape or dtype.
    InvalidOptionError
        Unless ``max_norm`` is a finite float > 0.
    NonFiniteError
        For rows holding NaN or infinity.
    """
    owner = "clip_rows"
    max_norm = check_float(owner, "max_norm", max_norm, low=0, low_open=True)
    array = _check_rows(stacked, owner)
    if out is None:
        out = np.empty_like(array)
    elif not isinstance(out, np.ndarray) or out.shape != array.shape or out.dtype != array.dtype:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise InvalidDataError(
            f"{owner}: out must be None or an array of the dtype and shape of stacked "
            f"({array.dtype} {array.shape}); got {got}"
        )
    matrix, target = array.reshape(-1, array.shape[-1]), out.reshape(-1, array.shape[-1])
    clip_matrix(matrix, max_norm, *row_norms(matrix, owner), target, owner)
    return out


def clip_factors(norms: np.ndarray, max_norm: float) -> np.ndarray:
    """``min(1, max_norm / norm)`` per row (1 for zero rows), float64."""
    factors = np.ones_like(norms)
    over = norms > max_norm
    factors[over] = max_norm / norms[over]
    return factors


def clip_matrix(
    matrix: np.ndarray,
    max_norm: float,
    norms: np.ndarray,
    extreme: np.ndarray,
    target: np.ndarray,
    owner: str = "clip_rows",
) -> None:
    """Write the clipped rows of a (K, P) ``matrix`` to ``target`` (``matrix`` itself allowed).

    ``norms`` and ``extreme`` come from :func:`row_norms`. Extreme rows, and rows whose
    factor is below the dtype's smallest normal number, are clipped from a power-of-two
    scaled copy where the factor is moderate, so that neither overflow nor a subnormal
    factor loses them. :func:`clip_rows` is this plus its checks.
    """
    factors = clip_factors(norms, max_norm)
    redo = np.flatnonzero((extreme | (factors < np.finfo(matrix.dtype).tiny)) & (factors < 1))
    if redo.size:  # read before an in-place multiply overwrites them
        scaled, scaled_norms, _ = _scaled_rows(matrix, redo, owner)
    np.multiply(matrix, factors.astype(matrix.dtype)[:, None], out=target)
    if redo.size:
        target[redo] = scaled * (max_norm / scaled_norms)[:, None]


def _check_rows(stacked: Any, owner: str) -> np.ndarray:
    """``stacked`` as a float32/float64 array of shape (P,) or (K, P), K, P >= 1."""
    if not isinstance(stacked, np.ndarray) or stacked.dtype not in (np.float32, np.float64):
        kind = stacked.dtype if isinstance(stacked, np.ndarray) else type(stacked).__name__
        raise DataTypeError(f"{owner}: stacked must be a float32 or float64 array; got {kind}")
    if stacked.ndim not in (1, 2) or stacked.size == 0:
        raise InvalidDataError(
            f"{owner}: stacked must have shape (K, P) or (P,) with K, P >= 1; "
            f"got shape {stacked.shape}"
        )
    return stacked
