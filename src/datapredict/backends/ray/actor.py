"""The body of a child's Ray actor (``ray.remote`` is applied lazily, by the backend)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult, ChildWorker
from datapredict.backends.inline import run_safely
from datapredict.parameters import Layout

__all__ = ["ChildActor"]


class ChildActor:
    """The body of a child's Ray actor (``ray.remote`` is applied lazily)."""

    def __init__(self, boxed_spec: list[Any], layout: Layout) -> None:
        # The spec's reference comes boxed in a list so that Ray does not resolve it as a
        # constructor argument: the driver owns and pins it, and every (re)start reads it
        # here (zero-copy for the shard's arrays).
        import ray

        self._worker = ChildWorker(ray.get(boxed_spec[0]))
        self._layout = layout

    def work(self, main: np.ndarray, version: int) -> tuple[ChildResult, Any]:
        """One unit of work from ``main`` (resolved from the object store, read-only).

        Returns the result's metadata and its flat payload as two objects, so the payload
        goes from this actor to the coordinator's through the object store without
        passing through the driver.
        """
        result = run_safely(self._worker, main, version, self._layout)
        payload, result.payload = result.payload, None
        return result, payload

    def run(self, coordinator: Any) -> int:
        """Async work without the driver: train, push to ``coordinator``, repeat.

        Each reply of the coordinator's actor carries the new main parameters and
        whether another unit of work is left for this child (see
        :class:`~datapredict.coordinators.stream.AsyncStream`). Returns the number of
        pushes. If Ray restarts this actor it retries the call, and the child goes on
        from what the coordinator's accounting says it holds.
        """
        import ray

        index = self._worker.index
        go_on, seq, version, main = ray.get(coordinator.join.remote(index))
        pushes = 0
        while go_on:
            result = run_safely(self._worker, main, version, self._layout)
            payload, result.payload = result.payload, None
            go_on, version, main = ray.get(coordinator.push_stream.remote(result, payload, seq))
            seq += 1
            pushes += 1
        return pushes

    def ping(self) -> int:
        """The child's index, once its constructor has run."""
        return self._worker.index

    def node_id(self) -> str:
        """The id of the Ray node this actor runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def info(self) -> dict[str, Any]:
        """Where and what this actor is: child index, node id, pid, restarted or not."""
        import ray

        context = ray.get_runtime_context()
        return {
            "child": self._worker.index,
            "node_id": context.get_node_id(),
            "pid": os.getpid(),
            "restarted": bool(context.was_current_actor_reconstructed),
        }
