"""How a coordinator's collected pushes become new main parameters (the core's update).

The chain combines the rows (:func:`~datapredict.coordinators._pending.update_rows`),
the result becomes a target (a step applied to the main parameters, or new parameters),
the server optimizer turns it into the new main vector, and the update is committed only
if that vector is finite: otherwise it raises and nothing changes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from datapredict.coordinators._door import check_finite_vector
from datapredict.coordinators._pending import Push, update_rows, update_sources
from datapredict.coordinators.chain import apply_step_in_place
from datapredict.errors import NonFiniteError

__all__ = ["UpdateMixin"]


class UpdateMixin:
    """The update of :class:`~datapredict.coordinators.core.CoordinatorCore` (whose fields
    it uses: ``chain``, ``main``, ``sign``, ``rate``, ``layout``, ``optimizer_state``,
    ``privacy_state``, ``pending``, ``slots``, ``stats_``, ``on_update``); called with the
    core's lock held."""

    def _update(self, item: Push | None, lag: int = 0) -> None:
        """Combine what is collected (and ``item``), apply it, or raise changing nothing."""
        rows, weights = update_rows(self.pending, self.slots, self.chain, item, lag)
        main, privacy = self.main, self.privacy_state
        if self.chain.privacy is None:
            sources = None
            if self.chain.rule_takes_sources:  # which child each row came from
                sources = update_sources(self.pending, self.slots, item)
            merged = self.chain.merge(rows, weights, sources)
        else:  # DP-FedAvg (unweighted by definition); its new state is committed with main
            merged, privacy = self.chain.privacy.aggregate_into(
                rows, privacy, main, relative=self.sign is None, norms=self._norms(item, rows)
            )
        if self.sign is not None and self.chain.replaces:
            # A step whose squares sum to a finite value has every |value| < 2**511:
            # added to finite parameters it cannot overflow, so it is applied in place.
            bounded = math.isfinite(np.vdot(merged, merged))
            new_main = main if bounded else main.copy()
            with np.errstate(over="ignore", invalid="ignore"):  # checked by _commit
                apply_step_in_place(new_main, merged, self.sign, self.rate)
            self._commit(new_main, self.optimizer_state, privacy, checked=bounded)
            return
        if self.sign is None:
            target = merged
        else:
            target = main * (1.0 - self.rate) if self.rate else main.copy()
            target += (self.sign * (self.rate or 1.0)) * merged
        if main is None:
            new_main = np.array(target, dtype=self.layout.dtype)
            self._commit(new_main, self.chain.init(new_main), privacy)
            return
        new_main, state = self.chain.update(target, self.optimizer_state, main)
        self._commit(np.asarray(new_main, dtype=self.layout.dtype), state, privacy)

    def _update_norm(self, vector: np.ndarray) -> float:
        """The L2 norm of one push's update (parameters: from the main ones)."""
        center = self.main if self.sign is None else None
        return float(self.chain.privacy.update_norms(vector[None, :], center)[0])

    def _norms(self, item: Push | None, rows: np.ndarray) -> np.ndarray | None:
        """The updates' norms of ``rows``: those taken as the pushes arrived, and
        ``item``'s; None (the aggregation computes them) when the rows are not exactly
        the collected pushes and ``item``."""
        if self.slots.count or (item is not None and item.slot is not None):
            return None
        norms = self.pending.norms[: self.pending.count]
        if item is not None:
            norms = [*norms, self._update_norm(item.vector)]
        return np.array(norms) if len(norms) == len(rows) else None

    def _commit(
        self, new_main: np.ndarray, state: Any, privacy: Any, *, checked: bool = False
    ) -> None:
        """Adopt ``new_main`` (with the optimizer's and the private aggregation's states)
        if it is finite (``checked``: known to be); otherwise raise and change nothing."""
        if not checked:
            try:
                check_finite_vector(new_main, f"{self.owner}: the updated main parameters")
            except NonFiniteError as exc:
                raise NonFiniteError(
                    f"{exc}; the update overflowed (pushes too large?) and was refused: "
                    "the main parameters are unchanged"
                ) from None
        self.main, self.optimizer_state, self.privacy_state = new_main, state, privacy
        self.stats_.applied += 1
        self.stats_.version += 1
        self.pending.clear()
        self.slots.fill(new_main)
        if self.on_update is not None:
            self.on_update(new_main)
