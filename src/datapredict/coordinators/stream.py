"""The coordinator's accounting of an async job whose children push to it directly.

A backend whose children can reach the coordinator themselves (Ray) may run an async
job without the driver in the loop: each child pushes straight to the coordinator and
takes the new main parameters from its reply. :class:`AsyncStream` is the
coordinator's accounting for such a job: how much work is left to hand out, and what
arrived (:class:`Arrival`), for the driver's history.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from datapredict.backends.base import ChildResult

__all__ = ["Arrival", "AsyncStream"]


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
