"""Where the coordinator runs, as the runner sees it: :class:`LocalCoordinator` in this
process; ``RayCoordinator`` (:mod:`datapredict.backends.ray.coordinator`) hosts the same
object in a Ray actor.

The runner's loop talks to the coordinator only through this small interface:

- ``push(result, push_id, extra)`` / ``push_round(results, push_ids, extra)`` apply pushes
  (a sync round in one call, so a crash never leaves half a round applied);
- ``main()`` returns the main flat vector (or a handle to it) and its version;
- ``parameters()`` returns them in the model's structure;
- ``round_setup(round, children)`` starts a secure round (secure aggregation only; None
  otherwise) and returns its public setup, which the workers mask with;
- after every update, the host checkpoints itself when due (``extra`` is the runner's
  position: round and next push number), so an acknowledged push is on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult
from datapredict.compression import Payload, decode_push
from datapredict.coordinators._door import enter_flat, new_main
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.coordinators.core import CoordinatorCore
from datapredict.coordinators.outcome import PushOutcome
from datapredict.parameters import Layout
from datapredict.secure.rounds import SecureRounds

__all__ = ["LocalCoordinator"]


class LocalCoordinator:
    """A coordinator living in this process: the runner's pushes go straight to its core.

    A child's flat payload is validated at the door without a copy and pushed to the
    coordinator's :class:`~datapredict.coordinators.core.CoordinatorCore`: applied in
    place (a parameter server's step) or copied once into the rows of the next update.
    A compressed push is decoded first; new parameters travel as their update and get
    the current main vector added back (in async mode the latest one, not necessarily
    the one the child started from).

    Parameters
    ----------
    make_coordinator : callable
        Builds the coordinator (DistributedGradients or DistributedModelParameters).
    main : ndarray of shape (P,)
        The initial main parameters, flat.
    layout : Layout
        Their structure.
    checkpointer : Checkpointer
        Where and how often to checkpoint.
    """

    def __init__(
        self,
        make_coordinator: Callable[[], Any],
        main: np.ndarray,
        layout: Layout,
        checkpointer: Checkpointer,
    ) -> None:
        self.coordinator = make_coordinator()
        self.core: CoordinatorCore = self.coordinator.core
        self.layout = layout
        self.checkpointer = checkpointer
        self.core.set_main(*new_main(layout.unflatten(np.asarray(main)), "main"))
        checkpointer.saved_version = self.core.version
        job = getattr(make_coordinator, "secure", None)
        self.secure = None if job is None else SecureRounds(job)

    @property
    def version(self) -> int:
        """The coordinator's version."""
        return self.core.version

    def main(self) -> tuple[np.ndarray, int]:
        """The main flat vector (a copy) and its version."""
        return self.core.snapshot()

    def main_view(self) -> tuple[np.ndarray, int]:
        """The current main flat vector, read-only and not copied (see ``main_vector``),
        and its version."""
        return self.core.main_vector, self.core.version

    def parameters(self) -> tuple[Any, int]:
        """The main parameters in the model's structure (a copy) and their version."""
        main, version = self.core.snapshot()
        return self.layout.unflatten(main), version

    def _apply(self, result: ChildResult, push_id: tuple[int, int]) -> PushOutcome:
        pushed = result.vector()
        if isinstance(pushed, Payload):  # compressed: decoded here, before the door
            # new parameters (no step sign) travel as their update from the main vector
            main = self.core.main_vector if self.core.sign is None else None
            pushed = decode_push(pushed, main)
        vector, bounded = enter_flat(self.layout, pushed, "the child's push")
        return self.core.push(
            vector,
            version=result.version,
            push_id=push_id,
            weight=result.n_samples,
            bounded=bounded,
        )

    def push(
        self, result: ChildResult, push_id: tuple[int, int], extra: dict[str, int]
    ) -> PushOutcome:
        """Apply one push as it arrives (async), then checkpoint if due."""
        outcome = self._apply(result, push_id)
        self.checkpointer.maybe_save(self.core, extra)
        return outcome

    def round_setup(self, round_index: int, children: Sequence[int]) -> Any:
        """Secure aggregation: start round ``round_index`` of ``children`` and return its
        public :class:`~datapredict.secure.protocol.RoundSetup`; None without it."""
        return None if self.secure is None else self.secure.begin(round_index, children)

    def _apply_secure(self, results: Sequence[ChildResult]) -> None:
        """Unmask the round's sum and push the averaged update as one push."""
        update, weight = self.secure.finish(results)
        if self.secure.job.delta:
            update += self.core.main_vector
        vector, bounded = enter_flat(self.layout, update.astype(self.layout.dtype), "the sum")
        self.core.push(vector, version=results[0].version, weight=weight, bounded=bounded)

    def push_round(
        self,
        results: Sequence[ChildResult],
        push_ids: Sequence[tuple[int, int]],
        extra: dict[str, int],
    ) -> None:
        """Apply a sync round's pushes in order (a secure round's unmasked average as one
        push), close the round, then checkpoint if due."""
        if self.secure is None:
            for result, push_id in zip(results, push_ids, strict=True):
                self._apply(result, push_id)
        elif results:
            self._apply_secure(results)
        self.core.close_round()
        self.checkpointer.maybe_save(self.core, extra)

    def resume(self, directory: str | Path) -> dict[str, int]:
        """Load a checkpoint; returns the runner's position (round, next push number)."""
        return self.checkpointer.restore(self.core, directory)

    def close(self) -> None:
        """Nothing to release in this process."""
