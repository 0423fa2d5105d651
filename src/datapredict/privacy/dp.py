"""The pure steps of DP-FedAvg (McMahan, Ramage, Talwar and Zhang, ICLR 2018).

Each child's update Δ_k is clipped to L2 norm C (factor ``min(1, C / |Δ_k|)``), the
clipped updates are summed over a fixed denominator m (the children expected per round,
not those that arrived) and Gaussian noise N(0, σ² I) with ``σ = z C / m`` is added.

Fast path: the clip factors divided by m are the weights of one BLAS ``weights @ rows``,
so no clipped copy of the (K, P) rows is made. When the updates are parameters minus the
main ones (``center``), the norms and the weighted sum are computed over cache-sized
column blocks of ``rows - center``: no (K, P) difference is materialised, and nothing
cancels (``|p|² − 2 p·c + |c|²`` would, in float32, when children are close to the main
parameters: the realistic case).

The noise is drawn from a generator seeded by a :class:`numpy.random.SeedSequence` and
the release's index (:func:`release_seed`), never from global state, so every backend
and a resumed job draw the same noise. :func:`gaussian_noise` and :func:`clip_vector`
also serve a single child (distributed DP adds noise on the clients).

>>> import numpy as np
>>> rows = np.array([[3.0, 4.0], [0.3, 0.4]])
>>> np.round(clipped_mean(rows, 1.0, 4)[0], 12).tolist()  # ([0.6, 0.8] + [0.3, 0.4]) / 4
[0.225, 0.3]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from datapredict.merge.clipping import clip_factors, clip_rows, row_norms
from datapredict.merge.order_statistics import block_columns

__all__ = [
    "clip_vector",
    "clipped_mean",
    "clipped_mean_around",
    "gaussian_noise",
    "release_seed",
    "update_norms",
    "weighted_sum",
]

_NORM_COLUMNS = 1 << 16  # columns per partial sum of squares (bounds its rounding)


def clip_vector(vector: np.ndarray, clip_norm: float) -> np.ndarray:
    """One update clipped to L2 norm ``clip_norm`` (a new array; a child can use it).

    Parameters
    ----------
    vector : ndarray of shape (P,), float32 or float64
    clip_norm : float > 0

    Returns
    -------
    ndarray of shape (P,)
        ``vector * min(1, clip_norm / |vector|)``.
    """
    return clip_rows(vector, clip_norm)


def _centered_blocks(rows: np.ndarray, center: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, rows[:, start:stop] - center[start:stop])`` over cache-sized
    column blocks; the difference is written into one reused buffer."""
    n_rows, size = rows.shape
    width = min(block_columns(n_rows, rows.itemsize), size)
    buffer = np.empty((n_rows, width), dtype=rows.dtype)
    for start in range(0, size, width):
        stop = min(start + width, size)
        block = buffer[:, : stop - start]
        np.subtract(rows[:, start:stop], center[start:stop], out=block)
        yield start, stop, block


def _square_sums(block: np.ndarray) -> np.ndarray:
    """Each row's sum of squares (one BLAS dot per row, in the block's dtype), float64."""
    return np.matmul(block[:, None, :], block[:, :, None])[:, 0, 0].astype(np.float64)


def update_norms(rows: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """L2 norm of each update: of ``rows[k]``, or of ``rows[k] - center``.

    Parameters
    ----------
    rows : ndarray of shape (K, P)
        Finite float32 or float64 rows.
    center : ndarray of shape (P,), optional
        Subtracted from every row first (block by block, never as a (K, P) copy).

    Returns
    -------
    ndarray of shape (K,), float64
        Squares summed by BLAS dots in the rows' dtype over at most ``2**16`` columns
        (float32: relative error ~1e-7) and in float64 across them; rows whose squares
        overflow the dtype are recomputed in float64 with scaling.
    """
    squares = np.zeros(rows.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        if center is None:
            for start in range(0, rows.shape[1], _NORM_COLUMNS):
                squares += _square_sums(rows[:, start : start + _NORM_COLUMNS])
        else:
            for _, _, block in _centered_blocks(rows, center):
                squares += _square_sums(block)
    norms = np.sqrt(squares)
    huge = np.flatnonzero(~np.isfinite(norms))
    if huge.size:  # squares beyond the dtype's range: exact in float64, rescaled
        exact = rows[huge].astype(np.float64)
        if center is not None:
            exact -= center.astype(np.float64)
        norms[huge] = row_norms(exact, "update_norms")[0]
    return norms


def weighted_sum(
    rows: np.ndarray, weights: np.ndarray, center: np.ndarray | None = None
) -> np.ndarray:
    """``Σ_k weights[k] · (rows[k] − center)`` (``center`` None: 0) in the rows' dtype.

    One BLAS ``weights @ rows`` without a center; with one, the same over cache-sized
    blocks of the difference.
    """
    coefficients = weights.astype(rows.dtype)
    if center is None:
        return coefficients @ rows
    total = np.empty(rows.shape[1], dtype=rows.dtype)
    for start, stop, block in _centered_blocks(rows, center):
        np.matmul(coefficients, block, out=total[start:stop])
    return total


def _clip_weights(rows, clip_norm, per_round, center, norms):
    """Each update's weight in the clipped mean, ``min(1, C / |Δ_k|) / m``, and the norms
    (computed unless given)."""
    norms = update_norms(rows, center) if norms is None else norms
    return clip_factors(norms, clip_norm) / per_round, norms


def clipped_mean(
    rows: np.ndarray,
    clip_norm: float,
    per_round: int,
    center: np.ndarray | None = None,
    norms: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``Σ_k clip(Δ_k, C) / m`` and the norms ``|Δ_k|``, with ``Δ_k = rows[k] − center``.

    Parameters
    ----------
    rows : ndarray of shape (K, P)
        The children's pushes, K <= m (a quorum may bring fewer).
    clip_norm : float > 0
        C.
    per_round : int
        m, the fixed denominator: the children expected per round.
    center : ndarray of shape (P,), optional
        The main parameters when the pushes are parameters (None: they are updates).
    norms : ndarray of shape (K,), optional
        The updates' norms (:func:`update_norms`), when already known.

    Returns
    -------
    mean : ndarray of shape (P,)
        In the rows' dtype. Its sensitivity to one child's update is ``C / m``.
    norms : ndarray of shape (K,), float64
        The unclipped norms (adaptive clipping counts those under C).
    """
    weights, norms = _clip_weights(rows, clip_norm, per_round, center, norms)
    return weighted_sum(rows, weights, center), norms


def clipped_mean_around(
    rows: np.ndarray,
    clip_norm: float,
    per_round: int,
    center: np.ndarray,
    norms: np.ndarray | None = None,
    plus: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``center + Σ_k clip(rows[k] − center, C) / m (+ plus)``: new parameters, and the
    norms, as one BLAS ``weights @ rows`` plus ``(1 − Σ weights) · center``.

    The same value as ``center + clipped_mean(rows, C, m, center)[0]``, without passing
    over ``rows - center``: the result is of the parameters' magnitude, so the sum of
    those two terms loses nothing the result's dtype could hold (the mean update alone,
    much smaller, is what :func:`clipped_mean` computes blockwise). ``plus`` (shape (P,),
    the release's noise) is added, then its buffer is overwritten by the center's term:
    no temporary of P values is made (at large P, fresh memory costs more than a pass).
    """
    weights, norms = _clip_weights(rows, clip_norm, per_round, center, norms)
    merged = weights.astype(rows.dtype) @ rows
    if plus is not None:
        merged += plus
    term = np.multiply(center, center.dtype.type(1.0 - weights.sum()), out=plus)
    merged += term
    return merged, norms


def release_seed(
    seed: np.random.SeedSequence, release: int, stream: int = 0
) -> np.random.SeedSequence:
    """The seed of release ``release``'s noise: ``seed``'s child ``spawn_key + (release,
    stream)`` (stream 0: the update's noise; 1: adaptive clipping's count noise)."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, release, stream))


def gaussian_noise(
    size: int, std: float, seed: np.random.SeedSequence | int, dtype: type = np.float64
) -> np.ndarray:
    """``size`` independent N(0, std²) values of ``dtype`` (float32 or float64), from a
    generator seeded by ``seed`` alone (numpy's ziggurat sampler).

    >>> a = gaussian_noise(3, 2.0, 7)
    >>> bool((a == gaussian_noise(3, 2.0, 7)).all()), a.dtype
    (True, dtype('float64'))
    """
    noise = np.random.default_rng(seed).standard_normal(size, dtype=dtype)
    noise *= noise.dtype.type(std)
    return noise
