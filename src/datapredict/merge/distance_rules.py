"""Distance rules: Krum, Multi-Krum, Bulyan and the geometric median.

They need every child's whole vector and compare children by L2 distance over all P
parameters; the kernels (:mod:`datapredict.merge.distances`) reduce the P columns to a
K × K Gram matrix in one pass, safe for extreme finite values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datapredict._validation import check_float, check_int
from datapredict.merge import distances
from datapredict.merge.base import MergeRule
from datapredict.merge.order_statistics import closest_to_median_mean
from datapredict.merge.stacked import check_stacked, weighted_mean

__all__ = ["Bulyan", "GeometricMedian", "Krum", "MultiKrum"]


@dataclass(frozen=True)
class Krum(MergeRule):
    """Krum: the child closest to its ``K - f - 2`` nearest neighbours.

    Blanchard, El Mhamdi, Guerraoui and Stainer, "Machine Learning with Adversaries:
    Byzantine Tolerant Gradient Descent", NeurIPS 2017. Each row's score is the sum of its
    squared L2 distances to the ``K - f - 2`` nearest other rows; the row with the lowest
    score is returned (ties go to the lowest index). Requires ``K > 2f + 2``. Unweighted.

    Parameters
    ----------
    num_malicious : int >= 0, default=1
        f, the number of hostile children to tolerate.
    """

    name = "krum"
    num_malicious: int = 1

    def __post_init__(self) -> None:
        owner = type(self).__name__
        self._set_options(
            num_malicious=check_int(owner, "num_malicious", self.num_malicious, minimum=0)
        )

    def _requirement(self) -> tuple[int, str]:
        f = self.num_malicious
        return 2 * f + 3, f"K > 2f + 2 = {2 * f + 2} children (f = num_malicious = {f})"

    def scores(self, stacked: Any) -> np.ndarray:
        """Krum score of each row, ``(K,)`` float64 (lower is more central; ``+inf`` for
        a row too far away for float64)."""
        owner = type(self).__name__
        stacked = check_stacked(stacked, owner)
        self.check_num_children(stacked.shape[0], owner)
        return self._scores(stacked)

    def _scores(self, stacked: np.ndarray) -> np.ndarray:
        dist = distances.sq_distances(distances.centred_gram(stacked))
        return distances.krum_scores(dist, stacked.shape[0] - self.num_malicious - 2)

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        return stacked[int(np.argmin(self._scores(stacked)))].copy()


@dataclass(frozen=True)
class MultiKrum(Krum):
    """Multi-Krum: the plain mean of the ``num_to_keep`` rows with the lowest Krum scores.

    Blanchard et al., NeurIPS 2017. ``num_to_keep = 1`` is :class:`Krum`; ties go to the
    lowest index. Keeping at most ``K - f`` rows leaves the f hostile ones out when they
    score worst. Unweighted (Flower weights the kept rows by sample counts; the paper
    does not).

    Parameters
    ----------
    num_malicious : int >= 0, default=1
        f, the number of hostile children to tolerate (K > 2f + 2).
    num_to_keep : int >= 1 or None, default=None
        m, the number of rows averaged (K >= m + f); None means ``K - num_malicious``.
    """

    name = "multi_krum"
    num_to_keep: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_to_keep is not None:
            keep = check_int("MultiKrum", "num_to_keep", self.num_to_keep, minimum=1)
            self._set_options(num_to_keep=keep)

    def _requirement(self) -> tuple[int, str]:
        minimum, requirement = super()._requirement()
        m, f = self.num_to_keep, self.num_malicious
        if m is None or m + f <= minimum:
            return minimum, requirement
        return m + f, f"K >= num_to_keep + f = {m + f} children (f = num_malicious = {f})"

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        n_rows = stacked.shape[0]
        keep = n_rows - self.num_malicious if self.num_to_keep is None else self.num_to_keep
        chosen = np.zeros(n_rows)
        chosen[np.argsort(self._scores(stacked), kind="stable")[:keep]] = 1.0 / keep
        return weighted_mean(stacked, chosen)


@dataclass(frozen=True)
class Bulyan(MergeRule):
    """Bulyan: Krum picks ``theta = K - 2f`` rows, then a trimmed mean around their median.

    El Mhamdi, Guerraoui and Rouault, "The Hidden Vulnerability of Distributed Learning in
    Byzantium", ICML 2018. Step 1: ``theta = K - 2f`` times, the Krum winner of the rows
    not yet picked joins the selection (its score sums the squared L2 distances to the
    ``max(1, m - f - 2)`` nearest of the ``m`` remaining rows; ties go to the lowest
    index). Step 2: per coordinate, the mean of the ``beta = theta - 2f`` selected values
    closest to the selection's coordinate-wise median. Requires ``K >= 4f + 3``.

    Unweighted, like :class:`Krum`: non-uniform weights are rejected (Flower's
    ``aggregate_bulyan`` ignores the sample counts). Agrees with Flower's
    ``aggregate_bulyan(results, f, aggregate_krum, to_keep=0)`` to rounding: the pairwise
    distances are computed once (:func:`~datapredict.merge.distances.krum_selection`)
    instead of once per pick, and the ``max(1, .)`` neighbour count of the last picks,
    where ``m - f - 2 < 1``, is Flower's (the paper leaves it open).

    **Row order matters.** Once a pick scores a single neighbour (``m <= f + 3``, always
    reached: the last pick has ``2f + 1`` rows), the two rows of the closest pair tie
    exactly (``d_ij = d_ji``), and the tie goes to the lower index, as in Flower and
    :class:`Krum`. Permuting the children can therefore swap one selected row for its
    nearest neighbour and change the result slightly (within the honest spread). Safe
    for extreme finite values: a hostile row gets an infinite Krum score, never NaN.

    Parameters
    ----------
    num_malicious : int >= 0, default=1
        f, the number of hostile children to tolerate.
    """

    name = "bulyan"
    num_malicious: int = 1

    def __post_init__(self) -> None:
        self._set_options(
            num_malicious=check_int("Bulyan", "num_malicious", self.num_malicious, minimum=0)
        )

    def _requirement(self) -> tuple[int, str]:
        f = self.num_malicious
        return 4 * f + 3, f"K >= 4f + 3 = {4 * f + 3} children (f = num_malicious = {f})"

    def selection(self, stacked: Any) -> np.ndarray:
        """Indices of the ``K - 2f`` rows Krum picks (step 1), ``(K - 2f,)``, in pick order."""
        owner = type(self).__name__
        stacked = check_stacked(stacked, owner)
        self.check_num_children(stacked.shape[0], owner)
        return self._selection(stacked)

    def _selection(self, stacked: np.ndarray) -> np.ndarray:
        f = self.num_malicious
        dist = distances.sq_distances(distances.centred_gram(stacked))
        return distances.krum_selection(dist, f, stacked.shape[0] - 2 * f)

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        selected = self._selection(stacked)
        return closest_to_median_mean(stacked, selected, len(selected) - 2 * self.num_malicious)


@dataclass(frozen=True)
class GeometricMedian(MergeRule):
    """Geometric median by the smoothed Weiszfeld algorithm (robust federated aggregation).

    Pillutla, Kakade and Harchaoui, "Robust Aggregation for Federated Learning", IEEE
    Trans. Signal Processing 2022: ``argmin_z sum_k alpha_k |z - w_k|`` with ``alpha`` the
    normalised weights (uniform when None). Each iteration reweights the rows by
    ``alpha_k / max(nu, |z - w_k|)``. One pass over ``stacked`` builds a centred Gram
    matrix; the iterations then run on K coefficients (every iterate is an affine
    combination of the rows), and one ``coef @ stacked`` gives the result. The iterations
    start from a robust reweighting of the mean (:func:`~datapredict.merge.distances.robust_start`)
    rather than the mean itself, so that one child pushing extreme values cannot hold the
    result away. Breakdown point: half the total weight.

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
    max_iterations: int = 100
    tolerance: float = 1e-6
    nu: float = 1e-6

    def __post_init__(self) -> None:
        owner = "GeometricMedian"
        self._set_options(
            max_iterations=check_int(owner, "max_iterations", self.max_iterations, minimum=1),
            tolerance=check_float(owner, "tolerance", self.tolerance, low=0),
            nu=check_float(owner, "nu", self.nu, low=0, low_open=True),
        )

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        n_rows = stacked.shape[0]
        alpha = np.full(n_rows, 1.0 / n_rows) if coef is None else coef
        gram = distances.centred_gram(stacked)
        coef = distances.weiszfeld(gram, alpha, self.max_iterations, self.tolerance, self.nu)
        return weighted_mean(stacked, coef)
