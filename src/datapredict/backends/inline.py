"""The inline backend: one worker, in the caller's thread, children in submission order."""

from __future__ import annotations

from collections import deque

import numpy as np

from datapredict.backends._pool import PoolBackend
from datapredict.backends.base import ChildResult
from datapredict.backends.worker import PoolWorker

__all__ = ["InlineBackend"]


class InlineBackend(PoolBackend):
    """Run every child in the calling thread, one after another (deterministic, no overhead).

    One :class:`~datapredict.backends.worker.PoolWorker` trains every child; the work of
    a ``submit`` runs in the next :meth:`wait`, as one (k, P) block.
    """

    hosts_coordinator = False  # the coordinator lives in the driver's process

    def _start_workers(self) -> None:
        self._pending: deque = deque()

    def _load(self) -> None:
        self._worker = PoolWorker(self.job, self.shards)

    def broadcast(self, main: np.ndarray, version: int):
        """The main vector itself: children run one at a time, before it changes."""
        return main, version

    def submit(self, children: list[int], handle, setup=None) -> None:
        """Queue one unit of work for each of ``children``; they run in :meth:`wait`."""
        self._pending.append((list(children), handle, setup))

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """Run the oldest submission and return its results (none queued: empty)."""
        if not self._pending:
            return []
        children, (main, version), setup = self._pending.popleft()
        return self._worker.work(children, main, version, setup)

    def _forget_job(self) -> None:
        self._pending.clear()
