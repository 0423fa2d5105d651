"""The affine map shared by the linear models: one matrix, intercept in the first row."""

from __future__ import annotations

import numpy as np

from datapredict.errors import ParameterStructureError
from datapredict.parameters import Layout


def affine(
    W: np.ndarray, X: np.ndarray, fit_intercept: bool, out: np.ndarray | None = None
) -> np.ndarray:
    """Return ``X @ W[1:] + W[0]`` (or ``X @ W`` without intercept), shape (n, n_outputs).

    ``out``, a C-contiguous float64 array of that shape, receives the result if given.
    """
    if not fit_intercept:
        return np.matmul(X, W, out=out)
    Z = np.matmul(X, W[1:], out=out)
    Z += W[0]
    return Z


def column_sums(R: np.ndarray) -> np.ndarray:
    """``R.sum(axis=0)`` for a C-ordered (n, k) matrix, several times faster for k > 1.

    numpy's strided reduction over axis 0 is slow for a few columns; ``einsum`` is not.
    """
    return np.einsum("ij->j", R)


def affine_gradient(X: np.ndarray, R: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Gradient of ``mean`` loss w.r.t. ``W`` given residual-like ``R`` (already divided by n)."""
    if not fit_intercept:
        return X.T @ R
    G = np.empty((X.shape[1] + 1, R.shape[1]))
    G[1:] = X.T @ R  # faster than matmul(..., out=G[1:]), which can miss the BLAS path
    G[0] = column_sums(R)
    return G


def affine_by_class(
    W: np.ndarray, X: np.ndarray, fit_intercept: bool, out: np.ndarray | None = None
) -> np.ndarray:
    """:func:`affine` transposed: ``(X @ W[1:] + W[0]).T``, shape (n_outputs, n), with
    the outputs along the rows (``out``, C-contiguous, receives it if given).

    Leading axes are a stack: ``W`` (B, rows, n_outputs) and ``X`` (B, n, n_features)
    give (B, n_outputs, n), each slice computed exactly as the 2-D call would.
    """
    weights = W[..., 1:, :] if fit_intercept else W
    ZT = np.matmul(np.swapaxes(weights, -1, -2), np.swapaxes(X, -1, -2), out=out)
    if fit_intercept:
        ZT += W[..., 0, :, None]
    return ZT


def affine_gradient_by_class(X: np.ndarray, RT: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """:func:`affine_gradient` from residuals ``RT`` (n_outputs, n) with the outputs along
    the rows; the intercept's gradient is then a sum along each contiguous row.

    Leading axes are a stack, as for :func:`affine_by_class`.
    """
    product = np.swapaxes(RT @ X, -1, -2)
    if not fit_intercept:
        return product
    G = np.empty((*product.shape[:-2], X.shape[-1] + 1, RT.shape[-2]))
    G[..., 1:, :] = product
    G[..., 0, :] = RT.sum(axis=-1)
    return G


def initial_matrix(n_features: int, n_outputs: int, fit_intercept: bool, rng) -> np.ndarray:
    """Small uniform weights in ``±1/sqrt(n_features + 1)``; zero intercept."""
    rows = n_features + int(fit_intercept)
    limit = 1.0 / np.sqrt(rows)
    W = rng.uniform(-limit, limit, size=(rows, n_outputs))
    if fit_intercept:
        W[0] = 0.0
    return W


def intercept_mask(W: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """1 where a penalty applies, 0 on the intercept row; flat, shape (W.size,)."""
    mask = np.ones_like(W)
    if fit_intercept:
        mask[0] = 0.0
    return mask.ravel()


def matrix_features(layout: Layout, owner: str, fit_intercept: bool, n_outputs: int | None) -> int:
    """Check a single-matrix layout for a linear model; return its number of features."""
    if layout.kind != "array" or len(layout.shapes[0]) != 2:
        raise ParameterStructureError(
            f"params for {owner} must be one 2-D ndarray of shape (n_features"
            f"{' + 1' if fit_intercept else ''}, n_outputs); got {layout.describe()}"
        )
    rows, cols = layout.shapes[0]
    n_features = rows - int(fit_intercept)
    if n_features < 1 or cols < 1:
        raise ParameterStructureError(
            f"params for {owner} must have at least {1 + int(fit_intercept)} rows and 1 "
            f"column; got shape {(rows, cols)}"
        )
    if n_outputs is not None and cols != n_outputs:
        raise ParameterStructureError(
            f"params for {owner} must have {n_outputs} columns (one per output); got {cols}"
        )
    return n_features
