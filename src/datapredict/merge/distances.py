"""Kernels of the distance rules (Krum, Multi-Krum, geometric median) over a stacked (K, P) matrix.

Everything these rules need from the P columns is the Gram matrix of the rows *centred on
a pivot row*, accumulated in float64 over column blocks that fit the L2 cache; the rest
works on K × K numbers. The plain identity ``|x|² + |y|² − 2x·y`` on raw float32 rows
loses every digit when children are close (the realistic case); centred rows are small,
so it keeps float32's precision. Distances between rows, and between a row and any affine
combination of rows, do not depend on the centre.

**Extreme values.** A hostile child may push finite values up to the dtype's maximum,
whose squares overflow. The fast Gram (one pass, block products in the stacked dtype) is
kept when it is finite and at most 1/16 of float64's maximum: then no formula below can
overflow. Otherwise a second pass builds a *scaled* Gram: row i minus the pivot, times
``2**-e_i`` (exact), where ``2**e_i`` bounds the magnitudes of the row and the pivot, so
every scaled entry lies in (-2, 2). Distances are computed with the larger of the two
rows' scales factored out and multiplied back with ``np.ldexp``: a hostile row gets a
huge or infinite distance, never NaN, and the honest rows keep their precision. With all
exponents 0 the formulas are the plain ones.

The pivot is the most central row of a small column sample, measured around a robust
centre (the coordinate-wise median of three rows) with the same overflow-safe distances,
so that one extreme child can neither become the pivot nor pull the centre as it pulls
the mean. (A child that looks
honest on the sampled columns and extreme elsewhere can still be picked; the results
stay finite and near the honest rows, but distances among the honest rows lose
precision.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from datapredict.merge.order_statistics import block_columns, order_statistic_mean

__all__ = [
    "Gram",
    "centred_gram",
    "krum_scores",
    "krum_selection",
    "pivot_row",
    "robust_start",
    "sq_distances",
    "weiszfeld",
]

_SAMPLE_CHUNKS, _SAMPLE_WIDTH = 32, 1024
_GRAM_LIMIT = np.finfo(np.float64).max / 16


class Gram(NamedTuple):
    """Gram matrix of centred rows, row i scaled by ``2**-exponents[i]``.

    Attributes
    ----------
    matrix : ndarray of shape (K, K), float64
        ``matrix[i, j] = <(x_i - c) 2**-e_i, (x_j - c) 2**-e_j>`` for the centre c.
    exponents : ndarray of shape (K,), int
        The ``e_i`` (all 0 for the unscaled Gram).
    """

    matrix: np.ndarray
    exponents: np.ndarray


def _sample(stacked: np.ndarray) -> np.ndarray:
    """A float64 copy of evenly spaced column chunks (all columns when P is small)."""
    n_cols = stacked.shape[1]
    if n_cols <= _SAMPLE_CHUNKS * _SAMPLE_WIDTH:
        return stacked.astype(np.float64)
    starts = np.linspace(0, n_cols - _SAMPLE_WIDTH, _SAMPLE_CHUNKS).astype(np.intp)
    return np.concatenate([stacked[:, s : s + _SAMPLE_WIDTH] for s in starts], axis=1).astype(
        np.float64
    )


def _blocks(n_rows: int, n_cols: int, itemsize: int):
    width = min(block_columns(n_rows, itemsize), max(n_cols, 1))
    return ((start, min(start + width, n_cols)) for start in range(0, n_cols, width))


def _scaled_gram(rows: np.ndarray, centre: np.ndarray) -> Gram:
    """The scaled Gram of ``rows - centre`` (two passes, float64): safe for any finite input."""
    n_rows, n_cols = rows.shape
    peaks = np.zeros(n_rows)
    for start, stop in _blocks(n_rows, n_cols, 8):
        np.maximum(peaks, np.abs(rows[:, start:stop]).max(axis=1), out=peaks)
    exponents = np.frexp(np.maximum(peaks, np.abs(centre).max()))[1]
    shifts = -exponents[:, None]
    gram = np.zeros((n_rows, n_rows))
    for start, stop in _blocks(n_rows, n_cols, 8):
        block = np.ldexp(rows[:, start:stop].astype(np.float64), shifts)
        block -= np.ldexp(centre[start:stop].astype(np.float64), shifts)
        gram += block @ block.T
    return Gram(gram, exponents)


def _centred_gram(rows: np.ndarray, centre: np.ndarray) -> Gram:
    """The Gram matrix of ``rows - centre``: one unscaled pass (block products in the rows'
    dtype, accumulated in float64), or the scaled one when that overflows or comes near
    float64's maximum."""
    n_rows, n_cols = rows.shape
    buffer = np.empty((n_rows, min(block_columns(n_rows, rows.itemsize), n_cols)), rows.dtype)
    gram = np.zeros((n_rows, n_rows))
    with np.errstate(over="ignore", invalid="ignore"):
        for start, stop in _blocks(n_rows, n_cols, rows.itemsize):
            block = buffer[:, : stop - start]
            np.subtract(rows[:, start:stop], centre[start:stop], out=block)
            gram += block @ block.T
    if np.isfinite(gram).all() and np.abs(gram).max() <= _GRAM_LIMIT:
        return Gram(gram, np.zeros(n_rows, dtype=np.intc))
    return _scaled_gram(rows, centre)


def pivot_row(stacked: np.ndarray) -> int:
    """The row with the smallest distances to its nearest half, on a column sample.

    The sample is centred on the coordinate-wise median of its first three rows: a centre
    that one extreme row cannot move out of the others' range (the Gram matrix only needs
    a centre near the honest rows to keep their precision), at a tenth of the cost of the
    median of all K rows.
    """
    sample = _sample(stacked)
    head = sample[:3]
    centre = order_statistic_mean(head, (len(head) - 1) // 2, len(head) - (len(head) - 1) // 2)
    dist = sq_distances(_centred_gram(sample, centre))
    return int(np.argmin(krum_scores(dist, len(sample) // 2)))


def centred_gram(stacked: np.ndarray) -> Gram:
    """The Gram matrix of the rows minus a pivot row (:func:`pivot_row`), scaled only when
    the values are extreme."""
    return _centred_gram(stacked, stacked[pivot_row(stacked)])


def sq_distances(gram: Gram) -> np.ndarray:
    """Pairwise squared L2 distances between rows, ``(K, K)`` float64, zero diagonal.

    ``+inf`` where the distance exceeds float64's range (a hostile row), never NaN.
    """
    matrix, exponents = gram
    diag = np.diag(matrix)
    row, col = exponents[:, None], exponents[None, :]
    top = np.maximum(row, col)
    inner = np.ldexp(diag[:, None], 2 * (row - top)) + np.ldexp(diag[None, :], 2 * (col - top))
    inner -= np.ldexp(2.0 * matrix, row + col - 2 * top)
    np.maximum(inner, 0.0, out=inner)
    with np.errstate(over="ignore"):
        dist = np.ldexp(inner, 2 * top)
    np.fill_diagonal(dist, 0.0)
    return dist


def krum_scores(dist: np.ndarray, n_neighbours: int) -> np.ndarray:
    """Krum score of each row: the sum of its ``n_neighbours`` smallest distances to others.

    Blanchard et al. (2017): ``s(i) = sum of |V_i - V_j|² over the K - f - 2 nearest j``.
    ``dist`` holds squared distances (``+inf`` allowed); a row is never its own neighbour.
    """
    masked = dist.copy()
    np.fill_diagonal(masked, np.inf)
    return np.sort(masked, axis=1)[:, :n_neighbours].sum(axis=1)


def krum_selection(dist: np.ndarray, num_malicious: int, count: int) -> np.ndarray:
    """Indices of ``count`` rows picked by Krum one at a time (Bulyan's first step).

    Each pick is the Krum winner of the rows not yet picked: the lowest score over
    ``max(1, m - f - 2)`` nearest neighbours among the ``m`` remaining rows (the
    ``max(1, .)`` is Flower's, for the last picks where ``m - f - 2 < 1``); ties go to the
    lowest index. Distances between rows do not change when others leave the pool, so
    ``dist`` (:func:`sq_distances`) is computed once: ``count`` steps on K × K numbers.
    Returns the indices in the order picked.
    """
    remaining = np.arange(len(dist))
    picked = np.empty(count, dtype=np.intp)
    for step in range(count):
        pool = dist[np.ix_(remaining, remaining)]
        scores = krum_scores(pool, max(1, len(remaining) - num_malicious - 2))
        best = int(np.argmin(scores))
        picked[step] = remaining[best]
        remaining = np.delete(remaining, best)
    return picked


def _weighted_medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Lower weighted median of each row of ``values`` (``weights`` sum to 1, one per column)."""
    order = np.argsort(values, axis=1, kind="stable")
    cumulative = np.cumsum(weights[order], axis=1)
    # the tolerance makes integer weights and repeated rows reach one half alike
    index = np.argmax(cumulative >= 0.5 - 1e-12, axis=1)
    return np.take_along_axis(values, order, axis=1)[np.arange(len(values)), index]


def robust_start(dist: np.ndarray, alpha: np.ndarray, nu: float) -> np.ndarray:
    """Starting coefficients of the Weiszfeld iterations, robust to extreme rows.

    Row k gets ``alpha_k / max(nu, rho, m_k)``, normalised, where ``m_k`` is the weighted
    median of its distances to the rows and ``rho`` the weighted median of the ``m_k``: a
    mean that down-weights only the rows far from most of the weight. From the plain mean,
    Weiszfeld removes an extreme row's pull by a factor of about K - 1 per iteration (and
    its relative stopping rule is dominated by that row's distance), so one child pushing
    1e160 would still hold the result far away after any practical number of iterations.

    Parameters
    ----------
    dist : ndarray of shape (K, K)
        Squared pairwise distances (:func:`sq_distances`).
    alpha : ndarray of shape (K,)
        Normalised weights.
    nu : float
        The smoothing floor of the distances.
    """
    medians = _weighted_medians(np.sqrt(dist), alpha)
    rho = _weighted_medians(medians[None, :], alpha)[0]
    start = alpha / np.maximum(np.maximum(medians, rho), nu)
    total = start.sum()
    # zero only when every weighted row has infinite distances (half the weight hostile)
    return start / total if total > 0 else alpha.copy()


def _objective(alpha: np.ndarray, dist: np.ndarray) -> float:
    """``sum_k alpha_k d_k`` over the finite distances (an infinite one is constant)."""
    return float(alpha @ np.where(np.isfinite(dist), dist, 0.0))


def _distances_to(gram: Gram, coef: np.ndarray) -> np.ndarray:
    """Distance of each row to ``z = sum_j coef_j x_j`` (coefficients on the simplex).

    ``|x_i - z|² = 4**t_i |2**(e_i - t_i) u_i - 2**(r - t_i) sum_j s_j u_j|²`` with ``u`` the
    scaled centred rows, ``s_j = coef_j 2**(e_j - r)`` scaled by the largest pull
    ``2**r >= max_j coef_j 2**e_j`` and ``t_i = max(e_i, r)``: every factor is at most 1,
    so nothing overflows before the final ``ldexp`` (``+inf`` beyond float64's range).
    """
    matrix, exponents = gram
    positive = coef > 0
    reference = int((np.frexp(coef[positive])[1] + exponents[positive]).max())
    scaled = np.ldexp(coef, exponents - reference)
    projected = matrix @ scaled
    top = np.maximum(exponents, reference)
    inner = np.ldexp(np.diag(matrix), 2 * (exponents - top))
    inner -= np.ldexp(2.0 * projected, exponents + reference - 2 * top)
    inner += np.ldexp(scaled @ projected, 2 * (reference - top))
    with np.errstate(over="ignore"):
        return np.ldexp(np.sqrt(np.maximum(inner, 0.0)), top)


def weiszfeld(
    gram: Gram, alpha: np.ndarray, max_iterations: int, tolerance: float, nu: float
) -> np.ndarray:
    """Smoothed Weiszfeld iterations (Pillutla et al. 2022) in the coefficients of the rows.

    Every iterate ``z = sum_k a_k w_k`` is an affine combination of the rows (``a`` on the
    simplex), so its distances to the rows follow from the Gram matrix ``G``:
    ``|w_i - z|² = G_ii - 2 (G a)_i + a·G a`` (:func:`_distances_to` scales the terms).
    Starting at :func:`robust_start`, each step sets ``beta_k = alpha_k / max(nu, |z - w_k|)``
    and ``a = beta / sum beta``; it stops when the objective ``F = sum_k alpha_k |z - w_k|``
    changes by less than ``tolerance * F`` or after ``max_iterations`` steps. Returns ``a``.
    """
    coef = robust_start(sq_distances(gram), alpha, nu)
    dist = _distances_to(gram, coef)
    objective = _objective(alpha, dist)
    for _ in range(max_iterations):
        beta = alpha / np.maximum(dist, nu)
        total = beta.sum()
        if not total > 0:  # every distance infinite: nowhere better to go
            break
        coef = beta / total
        dist = _distances_to(gram, coef)
        previous, objective = objective, _objective(alpha, dist)
        if abs(previous - objective) <= tolerance * objective:
            break
    return coef
