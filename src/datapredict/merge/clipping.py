"""Clipping pushes to an L2 norm (the first step of the aggregation chain)."""

from __future__ import annotations

import numpy as np

__all__ = ["clip_rows"]


def clip_rows(rows: np.ndarray, max_norm: float, *, out: np.ndarray | None = None) -> np.ndarray:
    """Scale each row of ``rows`` (K, P), or the vector ``rows`` (P,), to L2 norm <= ``max_norm``.

    Rows within the bound are unchanged; longer ones keep their direction. Returns
    ``out`` (pass ``out=rows`` to clip in place) or a new array.
    """
    matrix = rows if rows.ndim == 2 else rows[None, :]
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    with np.errstate(divide="ignore"):
        factors = np.minimum(1.0, max_norm / norms).astype(rows.dtype)
    factors = factors[0] if rows.ndim == 1 else factors[:, None]
    return np.multiply(rows, factors, out=out)
