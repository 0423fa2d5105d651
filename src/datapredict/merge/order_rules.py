"""Order-statistic rules: coordinate-wise median and trimmed mean (Yin et al., 2018).

Both are unweighted by definition and sort each coordinate's K values
(:mod:`datapredict.merge.order_statistics`); a hostile child can only move a coordinate
within the range of the others' values, however extreme its own values are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datapredict._validation import check_float
from datapredict.merge.base import MergeRule
from datapredict.merge.order_statistics import order_statistic_mean

__all__ = ["Median", "TrimmedMean"]


@dataclass(frozen=True)
class Median(MergeRule):
    """Coordinate-wise median (the mean of the two middle values for even K).

    Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning: Towards
    Optimal Statistical Rates", ICML 2018. Unweighted by definition: non-uniform weights
    are rejected. Robust to fewer than K/2 arbitrary children per coordinate.
    """

    name = "median"

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        n_rows = stacked.shape[0]
        lo = (n_rows - 1) // 2
        return order_statistic_mean(stacked, lo, n_rows - lo)


@dataclass(frozen=True)
class TrimmedMean(MergeRule):
    """Coordinate-wise trimmed mean: drop the ``floor(beta * K)`` smallest and largest values.

    Yin, Chen, Ramchandran and Bartlett, ICML 2018 (``trmean_beta``); the cut matches
    ``scipy.stats.trim_mean(stacked, beta, axis=0)`` and Flower's ``FedTrimmedAvg``.
    Unweighted by definition. The guarantee needs ``beta`` at least the hostile fraction
    (and ``floor(beta * K)`` at least the number of hostile children). Any K >= 1 works:
    ``beta < 0.5`` leaves ``K - 2 floor(beta K) >= 1`` values per coordinate.

    Parameters
    ----------
    beta : float in [0, 0.5), default=0.1
        Fraction cut at each end; 0 gives the mean.
    """

    name = "trimmed_mean"
    beta: float = 0.1

    def __post_init__(self) -> None:
        beta = check_float("TrimmedMean", "beta", self.beta, low=0, high=0.5, high_open=True)
        self._set_options(beta=beta)

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        n_rows = stacked.shape[0]
        cut = int(self.beta * n_rows)
        return order_statistic_mean(stacked, cut, n_rows - cut)
