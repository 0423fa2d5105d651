"""The aggregation chain: how collected pushes become new main parameters.

One chain, composed once per coordinator, in the spirit of ``optax.chain``: pure steps
over flat vectors and stacked (K, P) matrices, applied in this order:

1. **clip** each push to an L2 norm (``max_norm``);
2. **staleness weights** scale each push by a function of its lag (FedAsync, FedBuff);
3. **merge rule** combines the K rows into one vector (any :mod:`datapredict.merge` rule,
   or a :class:`~datapredict.coordinators.merger.ModelParametersMerger`'s merge);
   With differential privacy, :class:`~datapredict.privacy.aggregator.PrivateMean`
   takes the merge rule's place (clip → sum over a fixed denominator → Gaussian noise),
   with its state kept by the core beside the server optimizer's;
4. **server optimizer** turns the target into the new main parameters, with its state
   returned, never hidden (``Replace``, ``FedAdam``, ...).

What the merged vector means is the coordinator's business: a step for
:class:`~datapredict.coordinators.gradients.DistributedGradients` (the target is
``main -/+ step``), new parameters for
:class:`~datapredict.coordinators.model_parameters.DistributedModelParameters`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datapredict.merge import clip_rows
from datapredict.merge.server_optimizers import Replace, ServerOptimizer
from datapredict.merge.staleness import Constant, StalenessWeight

__all__ = ["AggregationChain", "apply_step_in_place"]


@dataclass(frozen=True)
class AggregationChain:
    """clip → staleness weights → merge rule → server optimizer, as pure steps.

    Parameters
    ----------
    rule : callable
        ``rule(stacked, weights) -> vector`` over the (K, P) rows of one update.
    server_optimizer : ServerOptimizer, default=Replace()
        ``init(main) -> state`` and ``update(target, state, main) -> (main, state)``.
    max_norm : float, optional
        Clip each push to this L2 norm first.
    staleness : StalenessWeight, default=Constant()
        Scale each push by ``staleness(lag)`` after clipping.
    privacy : PrivateMean, optional
        Differential privacy: replaces the merge rule by DP-FedAvg's noisy clipped mean
        (``privacy.aggregate_into(rows, state, main, relative)``).
    rule_takes_sources : bool, default=False
        Whether ``rule`` is called as ``rule(stacked, weights, sources)``, ``sources``
        the child each row came from (None if one is unknown): a merge that holds
        something per child (regression_mean's feature matrices) picks the rows' own.
    """

    rule: Callable[[np.ndarray, Any], np.ndarray]
    server_optimizer: ServerOptimizer = field(default_factory=Replace)
    max_norm: float | None = None
    staleness: StalenessWeight = field(default_factory=Constant)
    privacy: Any = None
    rule_takes_sources: bool = False

    @property
    def replaces(self) -> bool:
        """Whether the server optimizer is ``Replace`` (main = target: in-place updates)."""
        return isinstance(self.server_optimizer, Replace)

    @property
    def scales_rows(self) -> bool:
        """Whether pushes are clipped or staleness-weighted before the merge rule."""
        return self.max_norm is not None or not isinstance(self.staleness, Constant)

    def scale(self, rows: np.ndarray, lags: np.ndarray, *, owned: bool) -> np.ndarray:
        """Steps 1 and 2: clip each row, then weight it by its staleness.

        Parameters
        ----------
        rows : ndarray of shape (K, P) or (P,)
            The pushes.
        lags : ndarray of shape (K,) or scalar
            Each push's staleness.
        owned : bool
            Whether ``rows`` may be scaled in place (the coordinator's own copy);
            otherwise a scaled copy is returned.
        """
        if self.max_norm is not None:
            rows = clip_rows(rows, self.max_norm, out=rows if owned else None)
            owned = True
        if not isinstance(self.staleness, Constant):
            weights = np.asarray(self.staleness(lags), dtype=rows.dtype)
            if rows.ndim == 2:
                weights = weights[:, None]
            rows = np.multiply(rows, weights, out=rows if owned else None)
        return rows

    def merge(self, rows: np.ndarray, weights: Any = None, sources: Any = None) -> np.ndarray:
        """Step 3: the merge rule over the (K, P) rows (from children ``sources``)."""
        if self.rule_takes_sources:
            return self.rule(rows, weights, sources)
        return self.rule(rows, weights)

    def init(self, main: np.ndarray) -> Any:
        """The server optimizer's initial state for ``main``."""
        return self.server_optimizer.init(main)

    def update(self, target: np.ndarray, state: Any, main: np.ndarray) -> tuple[np.ndarray, Any]:
        """Step 4: ``(new main, new state)`` from the target and the current main."""
        return self.server_optimizer.update(target, state, main)


def apply_step_in_place(main: np.ndarray, step: np.ndarray, signed: float, rate: float) -> None:
    """``main = (1 - rate) * main + signed * rate * step`` (``rate=0``: ``main += signed * step``).

    The parameter server's fast path, for the ``Replace`` server optimizer: one in-place
    pass over ``main``, no temporary for the common ``signed = ±1``. Kept apart from the
    chain's ``update`` because building the target first (``main + signed * step``, then
    ``Replace``) costs a temporary and a second pass; ``bench/distributed.py``:
    ``add_gradients P=1e6 ... ratio 0.6`` against a bare ``w -= g`` needs it.
    """
    if rate:
        main *= 1.0 - rate
        main += (signed * rate) * step
    elif signed == -1.0:
        main -= step
    elif signed == 1.0:
        main += step
    else:
        main += signed * step
