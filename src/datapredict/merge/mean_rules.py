"""Mean rules: the (weighted) average of the children, one BLAS pass at memory speed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datapredict.merge.base import MergeRule
from datapredict.merge.stacked import weighted_mean

__all__ = ["Average", "FedAvg"]


@dataclass(frozen=True)
class Average(MergeRule):
    """Mean of the children: uniform, or weighted by ``weights`` when given.

    ``merged = sum_k w_k stacked[k] / sum_k w_k`` (the seed's ``"Average"`` merge type),
    computed as one BLAS ``weights @ stacked`` at memory speed. Not robust: one child
    moves the result anywhere.
    """

    name = "average"
    weighted = True

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        return weighted_mean(stacked, coef)


@dataclass(frozen=True)
class FedAvg(Average):
    """Federated averaging: the mean weighted by the children's sample counts.

    McMahan, Moore, Ramage, Hampson and Agüera y Arcas, "Communication-Efficient Learning
    of Deep Networks from Decentralized Data", AISTATS 2017:
    ``x = sum_k n_k w_k / sum_k n_k``. ``weights`` (the counts n_k) are required.
    """

    name = "fedavg"
    requires_weights = True
