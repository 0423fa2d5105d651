"""The base of the merge rules: validation and the children-count check they share.

A merge rule is a frozen dataclass (its options are validated fields; equality, hash and
repr come from them) and a callable ``rule(stacked, weights=None) -> (P,) array``. The
base checks ``stacked`` and ``weights``, checks that the rule can work with K rows, and
calls the subclass's ``_merge(stacked, coef)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from datapredict._validation import check_int
from datapredict.errors import InvalidDataError, InvalidOptionError
from datapredict.merge.stacked import check_stacked, check_weights, show

__all__ = ["MergeRule"]


@dataclass(frozen=True)
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
        """Merge the rows of ``stacked`` into one vector.

        Parameters
        ----------
        stacked : ndarray of shape (K, P), float32 or float64
            One row per child; never modified.
        weights : array-like of shape (K,) or None, default=None
            Non-negative per-child weights (sample counts), for weighted rules.

        Returns
        -------
        ndarray of shape (P,)
            A new array of the dtype of ``stacked``.

        Raises
        ------
        DataTypeError, InvalidDataError
            For a bad ``stacked`` or bad ``weights``.
        InvalidOptionError
            When the rule needs more rows than ``stacked`` has (:meth:`check_num_children`).
        """
        owner = type(self).__name__
        stacked = check_stacked(stacked, owner)
        coef = self._coefficients(weights, stacked.shape[0])
        self.check_num_children(stacked.shape[0], owner)
        return self._merge(stacked, coef)

    def check_num_children(self, n: int, owner: str = "merge rule") -> None:
        """Raise unless the rule can merge ``n`` children.

        Parameters
        ----------
        n : int
            The number of children (rows of ``stacked``).
        owner : str, default="merge rule"
            Who asks, for the error message (``"DistributedGradients"``).

        Raises
        ------
        InvalidOptionError
            Naming the rule, its requirement and ``n``.
        """
        n = check_int(owner, "num_children", n, minimum=0)
        minimum, requirement = self._requirement()
        if n < minimum:
            raise InvalidOptionError(
                f"{owner}: the merge rule {self!r} needs {requirement}; got K = {n}"
            )

    def _requirement(self) -> tuple[int, str]:
        """The least number of children and how the message words the requirement."""
        return 1, "K >= 1 children"

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
                f"non-uniform weights {show(np.asarray(weights, dtype=float))}. Pass "
                "weights=None or equal weights, or use Average, FedAvg or GeometricMedian."
            )
        return coef

    def _merge(self, stacked: np.ndarray, coef: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _set_options(self, **values: Any) -> None:
        """Store validated option values on the frozen instance (from ``__post_init__``)."""
        for key, value in values.items():
            object.__setattr__(self, key, value)
