"""Link functions and the cross-entropy losses of the classifiers, in place where it pays.

The binary loss works on one column of logits with one exp and one division per row
and a log per four rows; the softmax loss avoids numpy's reductions along a short row
(a per-row max or sum over 10 classes is several times slower than a pass over the
whole matrix). Logits beyond exp's range take stable formulas a few passes slower.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Above this logit, exp overflows float64 (at 709.78); the fast binary loss needs exp(z).
_EXP_SAFE_LOGIT = 700.0
# Below this logit, a product of four values 1 + exp(z) stays under exp(_EXP_SAFE_LOGIT).
_FOURFOLD_SAFE_LOGIT = _EXP_SAFE_LOGIT / 4 - 1.0


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))``, to a few ulps relative for any ``z``.

    With ``e = exp(-|z|)``, never above 1: ``1 / (1 + e)`` for ``z >= 0`` and
    ``e / (1 + e)`` below, so nothing overflows and tiny values keep their precision.
    ``out``, a float array like ``z`` (``z`` itself allowed), receives the result.
    """
    positive = z >= 0.0  # before ``out``, maybe ``z`` itself, is written
    e = np.abs(z, out=out)
    np.negative(e, out=e)
    np.exp(e, out=e)
    numerator = np.where(positive, 1.0, e)
    e += 1.0
    return np.divide(numerator, e, out=e)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax (a new array), stable for any logits (see :func:`_common_shift`)."""
    shift = _common_shift(z)
    e = np.subtract(z, z.max(axis=1, keepdims=True) if shift is None else shift)
    np.exp(e, out=e)
    e *= (1.0 / (e @ np.ones(e.shape[1])))[:, None]
    return e


def _sum_of_logs(values: np.ndarray, largest_logit: float) -> float:
    """``sum(log(values))`` for the values ``1 + exp(z)`` of logits up to ``largest_logit``;
    ``values`` (1-D, contiguous) is overwritten.

    A log costs several multiplications, so while no product of four values can
    overflow, the log is taken of the products of four (a quarter of the logs); each
    product adds a few roundings of a part in 2**53, as the sum does anyway.
    """
    if not largest_logit < _FOURFOLD_SAFE_LOGIT:  # also NaN, which the plain path carries
        return float(np.log(values, out=values).sum())
    quarter = values.size // 4
    products = values[:quarter]
    for part in range(1, 4):
        products *= values[part * quarter : (part + 1) * quarter]
    left_over = values[4 * quarter :]
    return float(np.log(products, out=products).sum() + np.log(left_over, out=left_over).sum())


def _binary_cross_entropy(
    z: np.ndarray, Y: np.ndarray, work: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """Sigmoid cross-entropy of logits ``z`` (n, 1); ``z`` is overwritten by the gradient.

    With ``e = exp(z)``: the loss is ``log(1 + e) - y z`` and its derivative
    ``e / (1 + e) - y``, one exp and one division over the rows, and a log for every row
    or every fourth (see :func:`_sum_of_logs`). ``work`` (like ``z``, C-contiguous, or
    ``None`` for a fresh array) holds ``1 + e``. Logits above ``_EXP_SAFE_LOGIT``, where
    ``e`` would overflow, take :func:`_stable_binary_cross_entropy`.
    """
    largest = float(z.max())
    if largest > _EXP_SAFE_LOGIT:
        return _stable_binary_cross_entropy(z, Y)
    n = z.shape[0]
    linear = float(np.vdot(Y, z))
    np.exp(z, out=z)
    work = np.add(z, 1.0, out=work)
    np.divide(z, work, out=z)
    cost = _sum_of_logs(work.reshape(-1), largest) - linear
    z -= Y
    z *= 1.0 / n
    return cost / n, z


def _stable_binary_cross_entropy(z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """:func:`_binary_cross_entropy` for any logits, in place in ``z``; a few passes slower.

    With ``d = 1 + exp(-|z|)``: ``log(1 + exp(z)) = max(z, 0) + log(d)`` and
    ``sigmoid(z) - 1/2 = sign(z) * (1/d - 1/2)``, neither of which can overflow.
    """
    n = z.shape[0]
    sign = (z < 0).view(np.int8)  # 1 where negative, then 1 - 2 * that: -1 or +1
    sign *= -2
    sign += 1
    cost = -float(np.vdot(Y, z)) + 0.5 * float(z.sum())
    np.abs(z, out=z)
    cost += 0.5 * float(z.sum())  # now sum(max(z, 0)) - y.z
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.log(z, out=z)
    cost += float(z.sum())
    np.negative(z, out=z)
    np.exp(z, out=z)  # 1 / d
    z -= 0.5
    z *= sign
    z += 0.5
    z -= Y
    z /= n
    return cost / n, z


def _common_shift(Z: np.ndarray) -> float | None:
    """One shift ``s`` for every row of logits ``Z`` (n, K) such that ``exp(Z - s)``
    neither overflows nor underflows a whole row: 0 when the logits are all within
    exp's range, else the largest logit; ``None`` when they spread wider than that range
    (or hold NaN or infinity), and each row needs its own shift.

    The softmax does not change when a row's logits all move by the same amount; two
    whole-matrix reductions decide this, where a per-row maximum over a short row is
    several times slower.
    """
    high, low = float(Z.max()), float(Z.min())
    if low > -_EXP_SAFE_LOGIT and high + math.log(Z.shape[1]) < _EXP_SAFE_LOGIT:
        return 0.0
    if high - low < _EXP_SAFE_LOGIT:
        return high
    return None


def _softmax_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy of logits ``Z`` (n, K); ``Z`` is overwritten by the gradient.

    ``exp`` takes one shift for all rows (:func:`_common_shift`) and the row sums are
    one BLAS product. Logits spread wider than exp's range take
    :func:`_stable_softmax_cross_entropy`.
    """
    n, k = Z.shape
    shift = _common_shift(Z)
    if shift is None:
        return _stable_softmax_cross_entropy(Z, Y)
    linear = float(np.vdot(Y, Z))
    if shift:
        Z -= shift
    np.exp(Z, out=Z)
    sums = Z @ np.ones(k)
    cost = float(np.log(sums).sum()) + n * shift - linear
    np.reciprocal(sums, out=sums)
    Z *= sums[:, None]
    Z -= Y
    Z *= 1.0 / n
    return cost / n, Z


def _stable_softmax_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """:func:`_softmax_cross_entropy` for any logits, shifting each row by its largest."""
    n = Z.shape[0]
    shift = Z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(Z - shift).sum(axis=1, keepdims=True)) + shift
    cost = float(np.sum(log_norm - np.sum(Y * Z, axis=1, keepdims=True))) / n
    return cost, (np.exp(Z - log_norm) - Y) / n


def softmax_cross_entropy_by_class(ZT: np.ndarray, YT: np.ndarray) -> tuple[Any, np.ndarray]:
    """Softmax cross-entropy with the classes along the rows: logits ``ZT`` (K, n),
    one-hot (or probability) targets ``YT`` (K, n); ``ZT`` is overwritten by the gradient
    w.r.t. the logits, divided by n.

    With the samples along the rows, the per-sample work (largest logit, shift, sum,
    normalisation) is K whole-row operations instead of reductions and broadcasts over
    rows of K, so each sample can take its own shift at no cost: stable for any logits.

    Leading axes are a stack (B, K, n): the cost is then one per slice, shape (B,), and
    each slice's gradient is computed exactly as the 2-D call would.
    """
    k, n = ZT.shape[-2:]
    # Each slice's sum runs along its own contiguous k * n values, as a lone slice's
    # would: a slice's cost does not depend on the stack it is in.
    linear = (YT * ZT).reshape(*ZT.shape[:-2], k * n).sum(axis=-1)
    shift = ZT.max(axis=-2, keepdims=True)
    ZT -= shift
    np.exp(ZT, out=ZT)
    sums = np.ones(k) @ ZT
    cost = np.log(sums).sum(axis=-1) + shift.sum(axis=(-2, -1)) - linear
    np.reciprocal(sums, out=sums)
    ZT *= sums[..., None, :]
    ZT -= YT
    ZT *= 1.0 / n
    return (cost if ZT.ndim > 2 else float(cost)) / n, ZT


def cross_entropy(
    Z: np.ndarray, Y: np.ndarray, work: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits ``Z`` against targets ``Y`` and its gradient w.r.t. ``Z``.

    One column: binary (sigmoid) cross-entropy against 0/1 ``Y``; ``work``, an optional
    array like ``Z``, receives intermediate values. Several: softmax cross-entropy
    against one-hot (or any probability rows) ``Y``. ``Z`` may be overwritten by the
    gradient returned, which is already divided by the number of rows.
    """
    if Z.shape[1] == 1:
        return _binary_cross_entropy(Z, Y, work)
    return _softmax_cross_entropy(Z, Y)


def probabilities(Z: np.ndarray) -> np.ndarray:
    """Class probabilities (n, K) from logits: two columns for the binary case."""
    if Z.shape[1] == 1:
        p = sigmoid(Z[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(Z)
