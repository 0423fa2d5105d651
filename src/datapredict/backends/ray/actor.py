"""The body of a pool worker's Ray actor (``ray.remote`` is applied lazily, by the backend)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult
from datapredict.backends.worker import PoolWorker

__all__ = ["WorkerActor"]


class WorkerActor:
    """One process of the pool: a :class:`PoolWorker` for the current job.

    The job's description and its data come as object references boxed in a list (so
    Ray passes the references, not their values), with every call: a worker that Ray
    restarted, or one that served another job before, loads them on its next call
    (``ray.get`` of the data is zero-copy: every worker of a node reads the same
    object-store memory).
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self._job_id: Any = None
        self._worker: PoolWorker | None = None

    def _load(self, job: list[Any]) -> PoolWorker:
        import ray

        job_ref, shards_ref = job
        if self._job_id != job_ref.hex():
            self._worker = PoolWorker(ray.get(job_ref), ray.get(shards_ref))
            self._job_id = job_ref.hex()
        return self._worker

    def work(
        self, job: list[Any], children: list[int], main: np.ndarray, version: int, setup=None
    ) -> tuple[list[ChildResult], np.ndarray | None]:
        """Train ``children`` from ``main``; return their results (without payload) and
        their pushes as one (k, P) block (masked, in a secure round): two objects, so the
        block goes from here to the coordinator's actor without passing through the
        driver."""
        results = self._load(job).work(children, main, version, setup)
        block = next((r.payload for r in results if r.error is None), None)
        for result in results:
            result.payload = None
        return results, block

    def ready(self, job: list[Any]) -> int:
        """Load ``job`` now; returns this worker's index once it is built."""
        self._load(job)
        return self.index

    def node_id(self) -> str:
        """The id of the Ray node this actor runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def info(self) -> dict[str, Any]:
        """Where and what this actor is: worker index, node id, pid, restarted or not."""
        import ray

        context = ray.get_runtime_context()
        return {
            "worker": self.index,
            "node_id": context.get_node_id(),
            "pid": os.getpid(),
            "restarted": bool(context.was_current_actor_reconstructed),
        }
