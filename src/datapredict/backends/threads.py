"""The threads backend: one thread per child (numpy releases the GIL in its kernels)."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np

from datapredict.backends.base import ChildResult, ChildSpec, ChildWorker
from datapredict.backends.inline import run_safely
from datapredict.parameters import Layout

__all__ = ["ThreadsBackend"]


class ThreadsBackend:
    """Run each child's work on a thread pool; results come back as they complete.

    Parameters
    ----------
    max_workers : int, optional
        Threads in the pool; default one per child.
    """

    hosts_coordinator = False  # the coordinator lives in the driver's process
    streams_async = False

    def __init__(self, max_workers: int | None = None) -> None:
        self._max_workers = max_workers

    def start(self, specs: list[ChildSpec], layout: Layout) -> None:
        """Create the children's workers and the thread pool."""
        self._workers = [ChildWorker(spec) for spec in specs]
        self._layout = layout
        self._pool = cf.ThreadPoolExecutor(
            max_workers=self._max_workers or len(specs), thread_name_prefix="datapredict-child"
        )
        self._futures: set[cf.Future] = set()

    def broadcast(self, main: np.ndarray, version: int):
        """A read-only copy of the main vector, shared by the threads of this version."""
        main = main.copy()
        main.flags.writeable = False
        return main, version

    def submit(self, child: int, handle) -> None:
        """Start one unit of work for ``child`` on the pool."""
        main, version = handle
        self._futures.add(
            self._pool.submit(run_safely, self._workers[child], main, version, self._layout)
        )

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """The results finished first (at least one; empty on timeout or when idle)."""
        if not self._futures:
            return []
        done, self._futures = cf.wait(
            self._futures, timeout=timeout, return_when=cf.FIRST_COMPLETED
        )
        return [future.result() for future in done]

    def close(self) -> None:
        """Cancel what has not started and join the threads."""
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)
