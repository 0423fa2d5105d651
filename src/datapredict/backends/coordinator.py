"""Where the coordinator runs: in this process (:class:`LocalCoordinator`) or as a Ray actor.

The runner's loop talks to the coordinator only through this small interface, so the
same loop drives a coordinator in the driver (inline and threads backends) and one in
a Ray actor (``RayCoordinator`` in :mod:`datapredict.backends.ray`):

- ``push(result, push_id, extra)`` / ``push_round(results, push_ids, extra)`` apply pushes
  (a sync round in one call, so a crash never leaves half a round applied);
- ``main()`` returns the main flat vector (or a handle to it) and its version;
- ``parameters()`` returns them in the model's structure;
- after every update, the host checkpoints itself when due (``extra`` is the runner's
  position: round and next push number), so an acknowledged push is on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult
from datapredict.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from datapredict.distributed.gradients import DistributedGradients
from datapredict.parameters import Layout

__all__ = ["Checkpointer", "LocalCoordinator"]


class Checkpointer:
    """Save a coordinator's state every ``every`` updates to ``directory`` (atomically)."""

    def __init__(self, directory: str | Path | None, every: int) -> None:
        self.directory = None if directory is None else Path(directory)
        self.every = every
        self.saved_version = 0

    def exists(self) -> bool:
        """Whether a checkpoint is there to resume from."""
        return self.directory is not None and (self.directory / CHECKPOINT_NAME).is_file()

    def maybe_save(self, coordinator: Any, extra: dict[str, int]) -> None:
        """Save if ``every`` updates passed since the last save (or since the start)."""
        if self.directory is None:
            return
        version = coordinator.version
        if version - self.saved_version < self.every:
            return
        state = coordinator.state_dict()
        state.update(extra)
        save_checkpoint(self.directory, state)
        self.saved_version = version

    def restore(self, coordinator: Any, directory: str | Path) -> dict[str, int]:
        """Load ``directory``'s checkpoint into ``coordinator``; returns the runner's position."""
        template = coordinator.state_dict()["optimizer_state"]
        state = load_checkpoint(directory, template)
        coordinator.load_state_dict(state)
        self.saved_version = coordinator.version
        return {"round": int(state["round"]), "next_seq": int(state["next_seq"])}


class LocalCoordinator:
    """A coordinator living in this process.

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
        self.layout = layout
        self.checkpointer = checkpointer
        self.is_gradients = isinstance(self.coordinator, DistributedGradients)
        params = layout.unflatten(np.array(main, copy=True))
        if self.is_gradients:
            self.coordinator.set_model_parameters(params)
        else:
            self.coordinator.set_main_model_parameters(params)
        checkpointer.saved_version = self.coordinator.version

    @property
    def version(self) -> int:
        """The coordinator's version."""
        return self.coordinator.version

    def dropped_stale(self) -> int:
        """Pushes the coordinator dropped as too stale so far."""
        return self.coordinator.stats.dropped_stale if self.is_gradients else 0

    def main(self) -> tuple[np.ndarray, int]:
        """The main flat vector (a copy) and its version."""
        params, version = self.parameters()
        return self.layout.flatten(params), version

    def parameters(self) -> tuple[Any, int]:
        """The main parameters in the model's structure (a copy) and their version."""
        if self.is_gradients:
            return self.coordinator.get_model_parameters(return_version=True)
        return self.coordinator.get_main_model_parameters(return_version=True)

    def _apply(self, payload: np.ndarray, result: ChildResult, push_id: tuple[int, int]) -> None:
        params = self.layout.unflatten(payload)
        if self.is_gradients:
            self.coordinator.add_gradients(params, version=result.version, push_id=push_id)
        else:
            self.coordinator.add_model_parameters(params, weight=result.n_samples)

    def push(self, result: ChildResult, push_id: tuple[int, int], extra: dict[str, int]) -> None:
        """Apply one push as it arrives (async), then checkpoint if due."""
        self._apply(result.payload, result, push_id)
        self.checkpointer.maybe_save(self.coordinator, extra)

    def push_round(
        self,
        results: Sequence[ChildResult],
        push_ids: Sequence[tuple[int, int]],
        extra: dict[str, int],
    ) -> None:
        """Apply a sync round's pushes in order, close the round, then checkpoint if due."""
        for result, push_id in zip(results, push_ids, strict=True):
            self._apply(result.payload, result, push_id)
        if self.is_gradients:
            self.coordinator.apply_pending()
        else:
            self.coordinator.merge_now()
        self.checkpointer.maybe_save(self.coordinator, extra)

    def resume(self, directory: str | Path) -> dict[str, int]:
        """Load a checkpoint; returns the runner's position (round, next push number)."""
        return self.checkpointer.restore(self.coordinator, directory)

    def close(self) -> None:
        """Nothing to release in this process."""
