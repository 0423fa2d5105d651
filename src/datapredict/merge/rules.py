"""Merge rules: how the K children's flat vectors become one.

A merge rule is a small, pure callable ``rule(stacked, weights=None) -> merged``:
``stacked`` is a (K, P) float32 or float64 array, one row per child (flat parameters or
steps); ``weights`` is None or a (K,) array-like of non-negative per-child weights such as
sample counts (see :func:`check_weights`); ``merged`` is a new (P,) array of the dtype of
``stacked``. Rules never modify their inputs and read ``stacked`` in one pass, without a
Python loop over parameters; ``stacked`` is taken as finite (coordinators check pushes at
their door). Rules that are unweighted by definition (median, trimmed mean, Krum) reject
non-uniform weights instead of ignoring them. Each rule is a frozen dataclass whose
options are validated fields, and checks the number of children it needs
(:meth:`~datapredict.merge.base.MergeRule.check_num_children`).

The rules live by family: :mod:`~datapredict.merge.mean_rules` (Average, FedAvg),
:mod:`~datapredict.merge.order_rules` (Median, TrimmedMean) and
:mod:`~datapredict.merge.distance_rules` (Krum, MultiKrum, Bulyan, GeometricMedian). This module
adds :class:`NormClip`, which wraps any of them, and the registry: every rule but
NormClip has a name in :data:`MERGE_RULES`, so ``"median"`` and ``Median()`` are accepted
in the same places (:func:`resolve_rule`).

The robust rules (Median, TrimmedMean with ``floor(beta K) >= 1``, Krum, MultiKrum,
Bulyan, GeometricMedian, and NormClip around any of them) return a finite result near the honest
children's under one hostile child pushing any finite values, up to the dtype's maximum.

>>> import numpy as np
>>> stacked = np.array([[0.0, 2.0], [2.0, 4.0], [100.0, -48.0]])
>>> Average()(stacked), Median()(stacked)
(array([ 34., -14.]), array([2., 2.]))
>>> FedAvg()(stacked, weights=[1, 3, 0])
array([1.5, 3.5])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from datapredict._validation import check_float
from datapredict.merge.base import MergeRule
from datapredict.merge.clipping import clip_factors, clip_matrix, row_norms
from datapredict.merge.distance_rules import Bulyan, GeometricMedian, Krum, MultiKrum
from datapredict.merge.mean_rules import Average, FedAvg
from datapredict.merge.order_rules import Median, TrimmedMean
from datapredict.merge.registry import Registry
from datapredict.merge.stacked import check_stacked, check_weights, weighted_mean

__all__ = [
    "MERGE_RULES",
    "Average",
    "Bulyan",
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


@dataclass(frozen=True)
class NormClip(MergeRule):
    """Clip each child's vector to L2 norm ``max_norm``, then merge with ``rule``.

    Sun, Kairouz, Suresh and McMahan, "Can You Really Backdoor Federated Learning?",
    arXiv 1911.07963, 2019 (norm thresholding of updates): row k is scaled by
    ``min(1, max_norm / |row_k|)`` (:func:`~datapredict.merge.clipping.clip_rows`; zero
    rows are left alone), so a child cannot weigh more than ``max_norm``. Weights are
    passed on to ``rule``. Meant for steps (updates), not raw parameters. Around an
    average, the clipping factors are folded into the averaging weights (no clipped copy).

    Parameters
    ----------
    max_norm : float > 0
    rule : merge rule or str, default=Average()
        Any rule accepted by :func:`resolve_rule`.
    """

    max_norm: float
    rule: Any = None

    def __post_init__(self) -> None:
        self._set_options(
            max_norm=check_float("NormClip", "max_norm", self.max_norm, low=0, low_open=True),
            rule=Average() if self.rule is None else resolve_rule(self.rule, owner="NormClip"),
        )

    @property
    def weighted(self) -> bool:  # type: ignore[override]
        """Whether the wrapped rule uses weights (True for a custom callable)."""
        return getattr(self.rule, "weighted", True)

    @property
    def requires_weights(self) -> bool:  # type: ignore[override]
        """Whether the wrapped rule needs weights."""
        return getattr(self.rule, "requires_weights", False)

    def check_num_children(self, n: int, owner: str = "merge rule") -> None:
        """Raise unless the wrapped rule can merge ``n`` children (K >= 1 for a callable)."""
        check = getattr(self.rule, "check_num_children", None)
        if check is None:
            super().check_num_children(n, owner)
        else:
            check(n, owner)

    def __call__(self, stacked: Any, weights: Any = None) -> np.ndarray:
        """Clip the rows of ``stacked`` to ``max_norm``, then merge them with ``rule``."""
        stacked = check_stacked(stacked, "NormClip")
        self.check_num_children(stacked.shape[0], "NormClip")
        norms, extreme = row_norms(stacked, "NormClip")
        factors = clip_factors(norms, self.max_norm)
        if (factors == 1.0).all():
            return self.rule(stacked, weights)
        if isinstance(self.rule, Average) and not extreme.any():
            coef = self.rule._coefficients(weights, stacked.shape[0])
            coef = np.full(stacked.shape[0], 1.0 / stacked.shape[0]) if coef is None else coef
            coef = coef * factors
            if ((coef == 0) | (coef >= np.finfo(stacked.dtype).tiny)).all():
                return weighted_mean(stacked, coef)
        clipped = np.empty_like(stacked)
        clip_matrix(stacked, self.max_norm, norms, extreme, clipped, "NormClip")
        return self.rule(clipped, weights)


MERGE_RULES: dict[str, type[MergeRule]] = {
    rule.name: rule
    for rule in (Average, FedAvg, Median, TrimmedMean, Krum, MultiKrum, Bulyan, GeometricMedian)
}
"""Registered string names → rule classes (built with their default options)."""

_REGISTRY: Registry[Any] = Registry(
    option="merge_type",
    names=MERGE_RULES,
    instance="a merge rule instance (a callable rule(stacked, weights=None))",
    is_instance=callable,
)


def resolve_rule(
    merge_type: Any, *, owner: str = "datapredict.merge"
) -> MergeRule | Callable[..., np.ndarray]:
    """Return a merge rule from a rule object (any callable) or a registered name.

    Names are case-insensitive (``"Average"`` is the seed's); ``"trimmed_mean"``, ``"krum"``,
    ``"multi_krum"`` and ``"bulyan"`` use the default options ``beta=0.1``,
    ``num_malicious=1``.

    Raises
    ------
    InvalidOptionError
        For anything else, listing the valid names.
    """
    return _REGISTRY.resolve(merge_type, owner=owner)
