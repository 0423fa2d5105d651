"""The threads backend: ``num_workers`` threads, each with its own worker (one model).

numpy releases the GIL inside its kernels, so children with large arrays train in
parallel; small ones mostly take turns (see the README's note on speed).
"""

from __future__ import annotations

import concurrent.futures as cf
import os

import numpy as np

from datapredict._validation import check_int
from datapredict.backends._pool import PoolBackend
from datapredict.backends.base import ChildResult
from datapredict.backends.worker import PoolWorker

__all__ = ["ThreadsBackend"]


class ThreadsBackend(PoolBackend):
    """Run children on ``num_workers`` threads; each thread's worker trains its children.

    Child ``c`` always goes to worker ``c % num_workers``, which keeps its training
    state between rounds. A ``submit`` gives each worker one batch (its children of the
    submission, in order), returned as one (k, P) block when the batch is done.

    Parameters
    ----------
    num_workers : int, optional
        Threads (and model instances); default ``os.cpu_count()``.
    """

    hosts_coordinator = False  # the coordinator lives in the driver's process

    def __init__(self, num_workers: int | None = None) -> None:
        count = (os.cpu_count() or 1) if num_workers is None else num_workers
        self.num_workers = check_int("ThreadsBackend", "num_workers", count, minimum=1)

    def __repr__(self) -> str:
        return f"ThreadsBackend(num_workers={self.num_workers})"

    def _start_workers(self) -> None:
        self._threads = [
            cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"datapredict-worker-{w}")
            for w in range(self.num_workers)
        ]
        self._futures: set[cf.Future] = set()

    def _load(self) -> None:
        self._workers = [PoolWorker(self.job, self.shards) for _ in self._threads]

    def broadcast(self, main: np.ndarray, version: int):
        """A read-only copy of the main vector, shared by the threads of this version."""
        main = main.copy()
        main.flags.writeable = False
        return main, version

    def submit(self, children: list[int], handle, setup=None) -> None:
        """Start one batch per worker: its share of ``children``, in their order."""
        main, version = handle
        batches: dict[int, list[int]] = {}
        for child in children:
            batches.setdefault(child % self.num_workers, []).append(child)
        for w, batch in batches.items():
            work = self._workers[w].work
            future = self._threads[w].submit(work, batch, main, version, setup)
            self._futures.add(future)

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """The results of the batches finished first (empty on timeout or when idle)."""
        if not self._futures:
            return []
        done, self._futures = cf.wait(
            self._futures, timeout=timeout, return_when=cf.FIRST_COMPLETED
        )
        return [result for future in done for result in future.result()]

    def _forget_job(self) -> None:
        for future in self._futures:
            future.cancel()
        cf.wait(self._futures)
        self._futures = set()

    def _stop_workers(self) -> None:
        for pool in self._threads:
            pool.shutdown(wait=True)
