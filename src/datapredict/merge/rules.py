"""Merge rules: how the K children's flat vectors become one.

A merge rule is a small, pure callable ``rule(stacked, weights=None) -> merged``:
``stacked`` is a (K, P) float32 or float64 array, one row per child (flat parameters or
steps); ``weights`` is None or a (K,) array-like of non-negative per-child weights such as
sample counts (see :func:`check_weights`); ``merged`` is a new (P,) array of the dtype of
``stacked``. Rules never modify their inputs and read ``stacked`` in one pass, without a
Python loop over parameters (kernels in :mod:`datapredict.merge.robust`); ``stacked`` is
taken as finite (coordinators check pushes at their door). Rules that are
unweighted by definition (median, trimmed mean, Krum) reject non-uniform weights instead
of ignoring them. Every rule but :class:`NormClip` has a name in :data:`MERGE_RULES`, so
``"median"`` and ``Median()`` are accepted in the same places (:func:`resolve_rule`).

>>> import numpy as np
>>> stacked = np.array([[0.0, 2.0], [2.0, 4.0], [100.0, -48.0]])
>>> Average()(stacked), Median()(stacked)
(array([ 34., -14.]), array([2., 2.]))
>>> FedAvg()(stacked, weights=[1, 3, 0])
array([1.5, 3.5])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from datapredict._validation import check_float, check_int, option_error
from datapredict.errors import DataTypeError, InvalidDataError, InvalidOptionError, NonFiniteError
from datapredict.merge import robust

__all__ = [
    "MERGE_RULES",
    "Average",
    "FedAvg",
    "GeometricMedian",
    "Krum",
    "Median",
    "MergeRule",
    "MultiKrum",
    "NormClip",
    "TrimmedMean",
    "check_stacked",
    "check_weights",
    "resolve_rule",
]


def check_stacked(stacked: Any, owner: str = "merge rule") -> np.ndarray:
    """Return ``stacked`` as a C-contiguous (K, P) float32 or float64 array (K >= 1)."""
    array = np.asarray(stacked)
    if array.dtype not in (np.float32, np.float64):
        raise DataTypeError(
            f"{owner}: stacked must have dtype float32 or float64; got dtype {array.dtype}"
        )
    if array.ndim != 2 or array.shape[0] < 1:
        raise InvalidDataError(
            f"{owner}: stacked must have shape (K, P) with K >= 1 rows, one per child; "
            f"got shape {array.shape}"
        )
    return np.ascontiguousarray(array)


def check_weights(weights: Any, n_rows: int, owner: str = "merge rule") -> np.ndarray | None:
    """Validate per-child ``weights`` and return them normalised to sum 1 (float64).

    Returns None when ``weights`` is None or all weights are equal, so that uniform weights
    and no weights take the same path. Raises :class:`InvalidDataError` unless ``weights``
    has shape (K,), is finite and non-negative, and sums to a positive number.
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
            f"{owner}: weights must be finite and non-negative; got {_show(array)}"
        )
    total = array.sum()
    if not total > 0:
        raise InvalidDataError(
            f"{owner}: weights must sum to a positive number; got {_show(array)}"
        )
    if (array == array[0]).all():
        return None
    return array / total


def _show(array: np.ndarray) -> str:
    return np.array2string(array, threshold=8, precision=6)


def _mean(stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
    """``coef @ stacked`` (BLAS, coefficients in the stacked dtype); uniform when None."""
    n_rows = stacked.shape[0]
    if coef is None:
        coef = np.full(n_rows, 1.0 / n_rows)
    return coef.astype(stacked.dtype) @ stacked


class MergeRule:
    """Base of the merge rules: a callable ``rule(stacked, weights=None) -> (P,) array``.

    Attributes
    ----------
    name : str
        The registered string name ("" when none).
    weighted : bool
        Whether the rule uses non-uniform per-child weights (unweighted rules reject them).
    requires_weights : bool
        Whether weights must be given.
    """

    name: ClassVar[str] = ""
    weighted: ClassVar[bool] = False
    requires_weights: ClassVar[bool] = False

    def __call__(self, stacked: Any, weights: Any = None) -> np.ndarray:
        stacked = check_stacked(stacked, type(self).__name__)
        return self._merge(stacked, self._coefficients(weights, stacked.shape[0]))

    def _coefficients(self, weights: Any, n_rows: int) -> np.ndarray | None:
        """Checked, normalised weights (None when uniform), per this rule's needs."""
        owner = type(self).__name__
        if weights is None and self.requires_weights:
            raise InvalidDataError(
                f"{owner} needs weights (the children's sample counts); got None. "
                "Use Average() for an unweighted mean."
            )
        coef = check_weights(weights, n_rows, owner)
        if coef is not None and not self.weighted:
            raise InvalidDataError(
                f"{owner} is unweighted by definition and does not ignore weights; got "
                f"non-uniform weights {_show(np.asarray(weights, dtype=float))}. Pass "
                "weights=None or equal weights, or use Average, FedAvg or GeometricMedian."
            )
        return coef

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _options(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self._options().items())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._options() == other._options()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class Average(MergeRule):
    """Mean of the children: uniform, or weighted by ``weights`` when given.

    ``merged = sum_k w_k stacked[k] / sum_k w_k`` (the seed's ``"Average"`` merge type),
    computed as one BLAS ``weights @ stacked`` at memory speed.
    """

    name = "average"
    weighted = True

    def _merge(self, stacked, coef):
        return _mean(stacked, coef)


class FedAvg(Average):
    """Federated averaging: the mean weighted by the children's sample counts.

    McMahan, Moore, Ramage, Hampson and Agüera y Arcas, "Communication-Efficient Learning
    of Deep Networks from Decentralized Data", AISTATS 2017:
    ``x = sum_k n_k w_k / sum_k n_k``. ``weights`` (the counts n_k) are required.
    """

    name = "fedavg"
    requires_weights = True


class Median(MergeRule):
    """Coordinate-wise median (the mean of the two middle values for even K).

    Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning: Towards
    Optimal Statistical Rates", ICML 2018. Unweighted by definition: non-uniform weights
    are rejected. Robust to fewer than K/2 arbitrary children per coordinate.
    """

    name = "median"

    def _merge(self, stacked, coef):
        n_rows = stacked.shape[0]
        lo = (n_rows - 1) // 2
        return robust.order_statistic_mean(stacked, lo, n_rows - lo)


class TrimmedMean(MergeRule):
    """Coordinate-wise trimmed mean: drop the ``floor(beta * K)`` smallest and largest values.

    Yin, Chen, Ramchandran and Bartlett, ICML 2018 (``trmean_beta``); the cut matches
    ``scipy.stats.trim_mean(stacked, beta, axis=0)`` and Flower's ``FedTrimmedAvg``.
    Unweighted by definition. The guarantee needs ``beta`` at least the hostile fraction.

    Parameters
    ----------
    beta : float in [0, 0.5), default=0.1
        Fraction cut at each end; 0 gives the mean.
    """

    name = "trimmed_mean"

    def __init__(self, beta: float = 0.1) -> None:
        self.beta = check_float("TrimmedMean", "beta", beta, low=0, high=0.5, high_open=True)

    def _options(self):
        return {"beta": self.beta}

    def _merge(self, stacked, coef):
        n_rows = stacked.shape[0]
        cut = int(self.beta * n_rows)
        return robust.order_statistic_mean(stacked, cut, n_rows - cut)


class Krum(MergeRule):
    """Krum: the child closest to its ``K - f - 2`` nearest neighbours.

    Blanchard, El Mhamdi, Guerraoui and Stainer, "Machine Learning with Adversaries:
    Byzantine Tolerant Gradient Descent", NeurIPS 2017. Each row's score is the sum of its
    squared L2 distances to the ``K - f - 2`` nearest other rows; the row with the lowest
    score is returned (ties go to the lowest index). Requires ``K >= 2f + 3``. Unweighted.

    Parameters
    ----------
    num_malicious : int >= 0, default=1
        f, the number of hostile children to tolerate.
    """

    name = "krum"

    def __init__(self, num_malicious: int = 1) -> None:
        self.num_malicious = check_int(
            type(self).__name__, "num_malicious", num_malicious, minimum=0
        )

    def _options(self):
        return {"num_malicious": self.num_malicious}

    def scores(self, stacked: Any) -> np.ndarray:
        """Krum score of each row, ``(K,)`` float64 (lower is more central)."""
        stacked = check_stacked(stacked, type(self).__name__)
        n_rows, f = stacked.shape[0], self.num_malicious
        if n_rows < 2 * f + 3:
            raise InvalidOptionError(
                f"{self!r} needs K >= 2f + 3 = {2 * f + 3} children (f = num_malicious = {f}); "
                f"got K = {n_rows} rows in stacked. Use more children or a smaller num_malicious."
            )
        return robust.krum_scores(robust.sq_distances(stacked), n_rows - f - 2)

    def _merge(self, stacked, coef):
        return stacked[int(np.argmin(self.scores(stacked)))].copy()


class MultiKrum(Krum):
    """Multi-Krum: the plain mean of the ``num_to_keep`` rows with the lowest Krum scores.

    Blanchard et al., NeurIPS 2017. ``num_to_keep = 1`` is :class:`Krum`; ties go to the
    lowest index. Unweighted (Flower weights the kept rows by sample counts; the paper
    does not).

    Parameters
    ----------
    num_malicious : int >= 0, default=1
        f, the number of hostile children to tolerate (K >= 2f + 3).
    num_to_keep : int >= 1 or None, default=None
        m, the number of rows averaged; None means ``K - num_malicious``.
    """

    name = "multi_krum"

    def __init__(self, num_malicious: int = 1, num_to_keep: int | None = None) -> None:
        super().__init__(num_malicious)
        if num_to_keep is not None:
            num_to_keep = check_int("MultiKrum", "num_to_keep", num_to_keep, minimum=1)
        self.num_to_keep = num_to_keep

    def _options(self):
        return {"num_malicious": self.num_malicious, "num_to_keep": self.num_to_keep}

    def _merge(self, stacked, coef):
        n_rows = stacked.shape[0]
        keep = n_rows - self.num_malicious if self.num_to_keep is None else self.num_to_keep
        if keep > n_rows:
            raise option_error("MultiKrum", "num_to_keep", f"at most K = {n_rows}", keep)
        scores = self.scores(stacked)
        chosen = np.zeros(n_rows)
        chosen[np.argsort(scores, kind="stable")[:keep]] = 1.0 / keep
        return _mean(stacked, chosen)


class GeometricMedian(MergeRule):
    """Geometric median by the smoothed Weiszfeld algorithm (robust federated aggregation).

    Pillutla, Kakade and Harchaoui, "Robust Aggregation for Federated Learning", IEEE
    Trans. Signal Processing 2022: ``argmin_z sum_k alpha_k |z - w_k|`` with ``alpha`` the
    normalised weights (uniform when None). Starts at the weighted mean; each iteration
    reweights the rows by ``alpha_k / max(nu, |z - w_k|)``. One pass over ``stacked`` builds
    a centred Gram matrix; the iterations then run on K coefficients (every iterate is an
    affine combination of the rows), and one ``coef @ stacked`` gives the result.
    Breakdown point: half the total weight.

    Parameters
    ----------
    max_iterations : int >= 1, default=100
    tolerance : float >= 0, default=1e-6
        Stop when the objective changes by less than ``tolerance`` times itself.
    nu : float > 0, default=1e-6
        Smoothing: distances below ``nu`` count as ``nu``.
    """

    name = "geometric_median"
    weighted = True

    def __init__(
        self, max_iterations: int = 100, tolerance: float = 1e-6, nu: float = 1e-6
    ) -> None:
        owner = "GeometricMedian"
        self.max_iterations = check_int(owner, "max_iterations", max_iterations, minimum=1)
        self.tolerance = check_float(owner, "tolerance", tolerance, low=0)
        self.nu = check_float(owner, "nu", nu, low=0, low_open=True)

    def _options(self):
        return {"max_iterations": self.max_iterations, "tolerance": self.tolerance, "nu": self.nu}

    def _merge(self, stacked, coef):
        n_rows = stacked.shape[0]
        alpha = np.full(n_rows, 1.0 / n_rows) if coef is None else coef
        gram = robust.centred_gram(stacked)
        coef = robust.weiszfeld(gram, alpha, self.max_iterations, self.tolerance, self.nu)
        return _mean(stacked, coef)


class NormClip(MergeRule):
    """Clip each child's vector to L2 norm ``max_norm``, then merge with ``rule``.

    Sun, Kairouz, Suresh and McMahan, "Can You Really Backdoor Federated Learning?",
    arXiv 1911.07963, 2019 (norm thresholding of updates): row k is scaled by
    ``min(1, max_norm / |row_k|)`` (zero rows are left alone), so a child cannot weigh
    more than ``max_norm``. Weights are passed on to ``rule``. Meant for steps (updates),
    not raw parameters.

    Parameters
    ----------
    max_norm : float > 0
    rule : merge rule or str, default=Average()
        Any rule accepted by :func:`resolve_rule`.
    """

    def __init__(self, max_norm: float, rule: Any = None) -> None:
        self.max_norm = check_float("NormClip", "max_norm", max_norm, low=0, low_open=True)
        self.rule = Average() if rule is None else resolve_rule(rule, owner="NormClip")

    @property
    def weighted(self) -> bool:  # type: ignore[override]
        """Whether the wrapped rule uses weights (True for a custom callable)."""
        return getattr(self.rule, "weighted", True)

    @property
    def requires_weights(self) -> bool:  # type: ignore[override]
        """Whether the wrapped rule needs weights."""
        return getattr(self.rule, "requires_weights", False)

    def _options(self):
        return {"max_norm": self.max_norm, "rule": self.rule}

    def __call__(self, stacked: Any, weights: Any = None) -> np.ndarray:
        stacked = check_stacked(stacked, "NormClip")
        norms = np.sqrt(robust.row_sq_norms(stacked))
        if not np.isfinite(norms).all():
            bad = np.flatnonzero(~np.isfinite(norms)).tolist()
            raise NonFiniteError(f"NormClip: rows {bad} of stacked have a non-finite norm")
        factors = np.ones_like(norms)
        over = norms > self.max_norm
        factors[over] = self.max_norm / norms[over]
        if not over.any():
            return self.rule(stacked, weights)
        if isinstance(self.rule, Average):
            coef = self.rule._coefficients(weights, stacked.shape[0])
            coef = np.full(stacked.shape[0], 1.0 / stacked.shape[0]) if coef is None else coef
            return _mean(stacked, coef * factors)
        return self.rule(stacked * factors.astype(stacked.dtype)[:, None], weights)


MERGE_RULES: dict[str, type[MergeRule]] = {
    rule.name: rule
    for rule in (Average, FedAvg, Median, TrimmedMean, Krum, MultiKrum, GeometricMedian)
}
"""Registered string names → rule classes (built with their default options)."""


def resolve_rule(
    merge_type: Any, *, owner: str = "datapredict.merge"
) -> MergeRule | Callable[..., np.ndarray]:
    """Return a merge rule from a rule object (any callable) or a registered name.

    Names are case-insensitive (``"Average"`` is the seed's); ``"trimmed_mean"``, ``"krum"``
    and ``"multi_krum"`` use the default options ``beta=0.1``, ``num_malicious=1``.

    Raises
    ------
    InvalidOptionError
        For anything else, listing the valid names.
    """
    if isinstance(merge_type, str):
        key = merge_type.strip().lower()
        if key in MERGE_RULES:
            return MERGE_RULES[key]()
    elif callable(merge_type) and not isinstance(merge_type, type):
        return merge_type
    names = ", ".join(map(repr, MERGE_RULES))
    expected = f"a merge rule instance (a callable rule(stacked, weights=None)) or one of {names}"
    raise option_error(owner, "merge_type", expected, merge_type)
