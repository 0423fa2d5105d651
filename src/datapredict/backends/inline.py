"""The inline backend: every child runs in the caller's thread, in submission order."""

from __future__ import annotations

import traceback
from collections import deque

import numpy as np

from datapredict.backends.base import ChildResult, ChildSpec, ChildWorker
from datapredict.parameters import Layout

__all__ = ["InlineBackend", "run_safely"]


def run_safely(worker: ChildWorker, main: np.ndarray, version: int, layout: Layout) -> ChildResult:
    """Run one unit of work; a failure becomes a ``ChildResult`` with ``error`` set."""
    try:
        return worker.work(main, version, layout)
    except Exception as exc:  # a child's failure is reported, never fatal to the job
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return ChildResult(worker.index, None, version, 0, float("nan"), 0.0, error=detail)


class InlineBackend:
    """Run children one after another in the calling thread (deterministic, no overhead)."""

    hosts_coordinator = False  # the coordinator lives in the driver's process
    streams_async = False

    def start(self, specs: list[ChildSpec], layout: Layout) -> None:
        """Create the children's workers in this process."""
        self._workers = [ChildWorker(spec) for spec in specs]
        self._layout = layout
        self._pending: deque = deque()

    def broadcast(self, main: np.ndarray, version: int):
        """The main vector itself: children run one at a time, before it changes."""
        return main, version

    def submit(self, child: int, handle) -> None:
        """Queue one unit of work for ``child``; it runs in :meth:`wait`."""
        self._pending.append((child, handle))

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """Run the oldest queued unit and return its result (none queued: empty)."""
        if not self._pending:
            return []
        child, (main, version) = self._pending.popleft()
        return [run_safely(self._workers[child], main, version, self._layout)]

    def close(self) -> None:
        """Forget the queued work."""
        self._pending.clear()
