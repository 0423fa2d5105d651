"""Where the coordinator runs: in this process (:class:`LocalCoordinator`) or as a Ray actor.

The runner's loop talks to the coordinator only through this small interface, so the
same loop drives a coordinator in the driver (inline and threads backends) and one in
a Ray actor (``RayCoordinator`` in :mod:`datapredict.backends.ray.coordinator`):

- ``push(result, push_id, extra)`` / ``push_round(results, push_ids, extra)`` apply pushes
  (a sync round in one call, so a crash never leaves half a round applied);
- ``main()`` returns the main flat vector (or a handle to it) and its version;
- ``parameters()`` returns them in the model's structure;
- after every update, the host checkpoints itself when due (``extra`` is the runner's
  position: round and next push number), so an acknowledged push is on disk.

A backend whose children can reach the coordinator themselves (Ray) may run an async
job without the driver in the loop: each child pushes straight to the coordinator and
takes the new main parameters from its reply. :class:`AsyncStream` is the
coordinator's accounting for such a job: how much work is left to hand out, and what
arrived, for the driver's history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult
from datapredict.coordinators._door import enter_flat, new_main
from datapredict.coordinators.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from datapredict.coordinators.core import CoordinatorCore, PushOutcome
from datapredict.parameters import Layout

__all__ = ["Arrival", "AsyncStream", "Checkpointer", "LocalCoordinator"]


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
        """Load ``directory``'s checkpoint into ``coordinator``; returns the position
        saved with it (the runner's round and next push number, and any other ints the
        host added, such as an async stream's accounting)."""
        own = coordinator.state_dict()
        state = load_checkpoint(directory, own["optimizer_state"])
        coordinator.load_state_dict(state)
        self.saved_version = coordinator.version
        skip = own.keys() | {"last_seq"}  # load_checkpoint gives it for every coordinator
        return {key: int(value) for key, value in state.items() if key not in skip}


class LocalCoordinator:
    """A coordinator living in this process: the runner's pushes go straight to its core.

    A child's flat payload is validated at the door without a copy and pushed to the
    coordinator's :class:`~datapredict.coordinators.core.CoordinatorCore`: applied in
    place (a parameter server's step) or copied once into the rows of the next update.

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
        vector, bounded = enter_flat(self.layout, result.payload, "the child's push")
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

    def push_round(
        self,
        results: Sequence[ChildResult],
        push_ids: Sequence[tuple[int, int]],
        extra: dict[str, int],
    ) -> None:
        """Apply a sync round's pushes in order, close the round, then checkpoint if due."""
        for result, push_id in zip(results, push_ids, strict=True):
            self._apply(result, push_id)
        self.core.close_round()
        self.checkpointer.maybe_save(self.core, extra)

    def resume(self, directory: str | Path) -> dict[str, int]:
        """Load a checkpoint; returns the runner's position (round, next push number)."""
        return self.checkpointer.restore(self.core, directory)

    def close(self) -> None:
        """Nothing to release in this process."""


@dataclass
class Arrival:
    """One push as the coordinator received it, for the driver's history.

    ``result`` is the child's result without its payload (``error`` set if its work
    failed); ``lag`` is its staleness (versions applied since it was computed);
    ``dropped`` whether it was dropped as too stale; ``version`` the coordinator's
    version after it; ``seq`` the child's push number (a push retried on a restarted
    coordinator arrives again with the same number); ``received_at`` when it arrived
    (``time.time()`` on the coordinator).
    """

    result: ChildResult
    lag: int
    dropped: bool
    version: int
    seq: int
    received_at: float = field(default_factory=time.time)


class AsyncStream:
    """The coordinator's accounting for an async job whose children push to it directly.

    Work goes out in units, ``budget`` in all: one to each child at the start, then one
    more with each reply while any are left, so exactly ``budget`` pushes are computed
    (less the units of children that die). Each arrival is logged until the driver
    drains the log.

    Parameters
    ----------
    budget : int
        Units of work in the whole job.
    children : iterable of int
        The children that start, each holding one unit.
    n_children : int
        Children in the job (a round is ``n_children`` pushes).
    first_round, first_seq : int
        The round the job starts at (after a resume), and the first push number each
        child uses (above every push id the coordinator has seen).
    max_staleness : int or None
        Pushes more than this many versions old are dropped here (model parameters;
        a gradient coordinator applies its own bound).
    """

    def __init__(
        self,
        budget: int,
        children: Iterable[int],
        n_children: int,
        first_round: int,
        first_seq: int,
        max_staleness: int | None,
    ) -> None:
        self.holding = set(children)
        self.budget, self.granted = budget, len(self.holding)
        self.n_children, self.first_round, self.first_seq = n_children, first_round, first_seq
        self.max_staleness = max_staleness
        self.arrived = 0
        self._next_seq: dict[int, int] = {}
        self._log: list[Arrival] = []

    def join(self, child: int) -> tuple[bool, int]:
        """Whether ``child`` holds a unit it has not pushed yet, and its next push number.

        A child asks when it starts, and again if Ray restarts it mid-job.
        """
        return child in self.holding, self._next_seq.get(child, self.first_seq)

    def too_stale(self, lag: int) -> bool:
        """Whether a push ``lag`` versions old is dropped here."""
        return self.max_staleness is not None and lag > self.max_staleness

    def position(self) -> dict[str, int]:
        """What a checkpoint keeps of the job: the round reached, a push number above
        every child's so far, and this accounting (see :meth:`from_position`)."""
        return {
            "round": self.first_round + self.arrived // self.n_children,
            "next_seq": max(self._next_seq.values(), default=self.first_seq),
            "stream.budget": self.budget,
            "stream.granted": self.granted,
            "stream.arrived": self.arrived,
            "stream.n_children": self.n_children,
            "stream.first_round": self.first_round,
            "stream.max_staleness": -1 if self.max_staleness is None else self.max_staleness,
        }

    @classmethod
    def from_position(cls, position: dict[str, int]) -> AsyncStream | None:
        """The accounting as a checkpoint kept it, for a coordinator restarted mid-job
        (``None`` if the checkpoint is not from an async stream).

        Every child is taken to hold a unit (one that finished simply never asks again),
        and push numbers restart above every one seen. Units handed out after the
        checkpoint are handed out again, so a crash may add a few pushes to the job.
        """
        if "stream.budget" not in position:
            return None
        n_children = position["stream.n_children"]
        max_staleness = position["stream.max_staleness"]
        stream = cls(
            position["stream.budget"],
            range(n_children),
            n_children,
            position["stream.first_round"],
            position["next_seq"],
            None if max_staleness < 0 else max_staleness,
        )
        stream.granted = position["stream.granted"]
        stream.arrived = position["stream.arrived"]
        return stream

    def arrive(self, arrival: Arrival) -> bool:
        """Log ``arrival``; return whether its child gets another unit."""
        child = arrival.result.child
        self._log.append(arrival)
        self.arrived += 1
        self._next_seq[child] = arrival.seq + 1
        if arrival.result.error is None and self.granted < self.budget:
            self.granted += 1
            return True
        self.holding.discard(child)
        return False

    def drain(self) -> list[Arrival]:
        """The arrivals since the last drain, oldest first."""
        log, self._log = self._log, []
        return log
