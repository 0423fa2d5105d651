"""Numerical kernels of the robust merge rules, over a stacked ``(K, P)`` matrix.

The rule classes in :mod:`datapredict.merge.rules` validate their inputs and call these
module-level functions. Each kernel reads the stacked matrix once, in column blocks that
fit the L2 cache (a ``(K, B)`` block of about 1 MiB), never loops over parameters in
Python, and never writes to its input.

- Order statistics (median, trimmed mean) run a sorting network of ``np.minimum`` /
  ``np.maximum`` comparators over the K rows of each block, pruned to the positions the
  rule needs: about 3× faster than ``np.sort`` along the short axis for K ≤ 40, which in
  turn is about 5× faster than ``np.median`` / ``np.partition`` (BASELINES.md). More rows
  fall back to ``np.sort``. Both give the same values (min/max only move values).
- Pairwise squared distances (Krum) and the Weiszfeld iterations (geometric median) use
  the Gram matrix of the rows *centred on a pivot row*, accumulated in float64 block by
  block. The plain identity ``|x|² + |y|² − 2x·y`` on raw float32 rows loses every digit
  when children are close (the realistic case); centred rows are small, so it keeps
  float32's precision. The pivot is the most central row of a small column sample, so an
  outlying child cannot pull the centre away as it pulls the mean.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "NETWORK_MAX_ROWS",
    "block_columns",
    "centred_gram",
    "krum_scores",
    "order_statistic_mean",
    "row_sq_norms",
    "selection_network",
    "sorting_network",
    "sq_distances",
    "weiszfeld",
]

#: Up to this many rows, order statistics use a sorting network; above, ``np.sort``.
NETWORK_MAX_ROWS = 40
_BLOCK_BYTES = 1 << 20
_SAMPLE_CHUNKS, _SAMPLE_WIDTH = 32, 1024


def block_columns(n_rows: int, itemsize: int, block_bytes: int = _BLOCK_BYTES) -> int:
    """Number of columns B such that a ``(n_rows, B)`` block takes about ``block_bytes``."""
    return max(256, block_bytes // max(1, n_rows * itemsize))


@functools.cache
def sorting_network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort for ``n`` inputs.

    Applying them in order (min to ``i``, max to ``j``) sorts any ``n`` values ascending.
    The network is built for the next power of two; comparators touching the padding are
    dropped, which is exact because padding values (+inf) never move.
    """
    size = 1 << max(0, n - 1).bit_length()
    comparators = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        comparators.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple((i, j) for i, j in comparators if j < n)


@functools.cache
def selection_network(n: int, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """The comparators of :func:`sorting_network` that sorted positions ``lo:hi`` depend on."""
    needed, kept = set(range(lo, hi)), []
    for i, j in reversed(sorting_network(n)):
        if i in needed or j in needed:
            kept.append((i, j))
            needed.update((i, j))
    return tuple(reversed(kept))


def order_statistic_mean(stacked: np.ndarray, lo: int, hi: int, method: str = "auto") -> np.ndarray:
    """Per column, the mean of the sorted values at positions ``lo .. hi - 1``.

    ``lo = K // 2, hi = lo + 1`` is the median of odd K; ``lo = k, hi = K - k`` is the mean
    trimmed of k values at each end. ``method`` is ``"network"`` (sorting network over
    column blocks), ``"sort"`` (``np.sort`` along axis 0, the reference) or ``"auto"``.
    """
    n_rows, n_cols = stacked.shape
    if method == "auto":
        method = "network" if n_rows <= NETWORK_MAX_ROWS else "sort"
    if method == "sort":
        out = np.add.reduce(np.sort(stacked, axis=0)[lo:hi], axis=0)
    else:
        out = np.empty(n_cols, stacked.dtype)
        comparators = selection_network(n_rows, lo, hi)
        width = min(block_columns(n_rows, stacked.itemsize), max(n_cols, 1))
        buffer = np.empty((n_rows + 1, width), stacked.dtype)
        for start in range(0, n_cols, width):
            stop = min(start + width, n_cols)
            rows = [buffer[r, : stop - start] for r in range(n_rows)]
            spare = buffer[n_rows, : stop - start]
            np.copyto(buffer[:n_rows, : stop - start], stacked[:, start:stop])
            for i, j in comparators:
                np.minimum(rows[i], rows[j], out=spare)
                np.maximum(rows[i], rows[j], out=rows[j])
                rows[i], spare = spare, rows[i]
            block = out[start:stop]
            np.copyto(block, rows[lo])
            for row in rows[lo + 1 : hi]:
                block += row
    if hi - lo > 1:
        out /= hi - lo
    return out


def row_sq_norms(stacked: np.ndarray) -> np.ndarray:
    """Squared L2 norm of each row, float64, accumulated block by block."""
    n_rows, n_cols = stacked.shape
    width = block_columns(n_rows, stacked.itemsize)
    total = np.zeros(n_rows)
    for start in range(0, n_cols, width):
        block = stacked[:, start : start + width]
        total += np.einsum("kp,kp->k", block, block)
    return total


def _sample(stacked: np.ndarray) -> np.ndarray:
    """A float64 copy of evenly spaced column chunks (all columns when P is small)."""
    n_cols = stacked.shape[1]
    if n_cols <= _SAMPLE_CHUNKS * _SAMPLE_WIDTH:
        return stacked.astype(np.float64)
    starts = np.linspace(0, n_cols - _SAMPLE_WIDTH, _SAMPLE_CHUNKS).astype(np.intp)
    return np.concatenate([stacked[:, s : s + _SAMPLE_WIDTH] for s in starts], axis=1).astype(
        np.float64
    )


def _distances_from_gram(gram: np.ndarray) -> np.ndarray:
    diag = np.diag(gram)
    dist = diag[:, None] + diag[None, :] - 2.0 * gram
    np.maximum(dist, 0.0, out=dist)
    np.fill_diagonal(dist, 0.0)
    return dist


def _pivot_row(stacked: np.ndarray) -> int:
    """The row with the smallest distances to its nearest half, on a column sample."""
    sample = _sample(stacked)
    sample -= sample.mean(axis=0)
    return int(np.argmin(krum_scores(_distances_from_gram(sample @ sample.T), len(sample) // 2)))


def centred_gram(stacked: np.ndarray) -> np.ndarray:
    """Gram matrix (float64) of the rows minus a pivot row, accumulated over column blocks.

    Distances between rows, and between a row and any affine combination of rows, are
    unchanged by the shift; the products of small centred values keep their precision.
    """
    n_rows, n_cols = stacked.shape
    pivot = _pivot_row(stacked)
    width = min(block_columns(n_rows, stacked.itemsize), max(n_cols, 1))
    buffer = np.empty((n_rows, width), stacked.dtype)
    gram = np.zeros((n_rows, n_rows))
    for start in range(0, n_cols, width):
        stop = min(start + width, n_cols)
        block = buffer[:, : stop - start]
        np.subtract(stacked[:, start:stop], stacked[pivot, start:stop], out=block)
        gram += block @ block.T
    return gram


def sq_distances(stacked: np.ndarray) -> np.ndarray:
    """Pairwise squared L2 distances between rows, ``(K, K)`` float64, zero diagonal."""
    return _distances_from_gram(centred_gram(stacked))


def krum_scores(dist: np.ndarray, n_neighbours: int) -> np.ndarray:
    """Krum score of each row: the sum of its ``n_neighbours`` smallest distances to others.

    Blanchard et al. (2017): ``s(i) = sum of |V_i - V_j|² over the K - f - 2 nearest j``.
    ``dist`` holds squared distances; a row is never its own neighbour.
    """
    masked = dist.copy()
    np.fill_diagonal(masked, np.inf)
    return np.sort(masked, axis=1)[:, :n_neighbours].sum(axis=1)


def weiszfeld(
    gram: np.ndarray, alpha: np.ndarray, max_iterations: int, tolerance: float, nu: float
) -> np.ndarray:
    """Smoothed Weiszfeld iterations (Pillutla et al. 2022) in the coefficients of the rows.

    Every iterate ``z = sum_k a_k w_k`` is an affine combination of the rows (``a`` on the
    simplex), so its distances to the rows follow from the centred Gram matrix ``G``:
    ``|w_i - z|² = G_ii - 2 (G a)_i + a·G a``. Starting at ``a = alpha`` (the weighted
    mean), each step sets ``beta_k = alpha_k / max(nu, |z - w_k|)`` and ``a = beta / sum
    beta``; it stops when the objective ``F = sum_k alpha_k |z - w_k|`` changes by less than
    ``tolerance * F`` or after ``max_iterations`` steps. Returns the coefficients ``a``.
    """
    diag = np.diag(gram)

    def distances(coef: np.ndarray) -> np.ndarray:
        projected = gram @ coef
        return np.sqrt(np.maximum(diag - 2.0 * projected + coef @ projected, 0.0))

    coef = alpha.copy()
    dist = distances(coef)
    objective = alpha @ dist
    for _ in range(max_iterations):
        beta = alpha / np.maximum(dist, nu)
        coef = beta / beta.sum()
        dist = distances(coef)
        previous, objective = objective, alpha @ dist
        if abs(previous - objective) <= tolerance * objective:
            break
    return coef
