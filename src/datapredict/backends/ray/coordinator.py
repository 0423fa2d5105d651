"""The coordinator of a Ray job: an actor holding a :class:`LocalCoordinator`, and its handle.

:class:`RayCoordinator` is what the runner talks to (the same interface as
:class:`~datapredict.coordinators.host.LocalCoordinator`); the coordinator itself runs
in ``_CoordinatorActor``, a Ray actor restarted by Ray after a crash, which reloads its
checkpoint. Pushes arrive as the workers' (k, P) blocks, by reference.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from datapredict.backends.ray._common import remote_class, short_error
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.coordinators.host import LocalCoordinator
from datapredict.errors import ChildFailureError

__all__ = ["RayCoordinator"]

logger = logging.getLogger("datapredict")


def _with_blocks(ray: Any, results: list, blocks: list, rows_of: list[int]) -> list:
    """``results`` with their payloads: the resolved ``blocks`` (one ``ray.get``)."""
    arrays = ray.get(blocks)
    for result, index in zip(results, rows_of, strict=True):
        result.payload = arrays[index]
    return results


class _CoordinatorActor:
    """The body of the coordinator's Ray actor: a :class:`LocalCoordinator` inside it.

    Restarted by Ray after a crash, it reloads its checkpoint; a sync round that the
    checkpoint already holds is not applied again when its call is retried, and a
    retried async push is recognised by its push id. Without a checkpoint directory a
    restart would silently start over from the initial parameters, so the constructor
    refuses it (Ray then reports the actor dead).
    """

    def __init__(self, make_coordinator, main, layout, directory, every) -> None:
        import ray

        self._local = LocalCoordinator(
            make_coordinator, main, layout, Checkpointer(directory, every)
        )
        self._done_round = -1
        with warnings.catch_warnings():  # Ray's own deprecation notice inside this property
            warnings.simplefilter("ignore")
            restarted = ray.get_runtime_context().was_current_actor_reconstructed
        if restarted and directory is None:
            raise ChildFailureError(
                "the coordinator's process died and the job has no checkpoint to resume "
                "from; pass checkpoint=... to train_distributed so that Ray's restart "
                "can resume it"
            )
        if restarted and self._local.checkpointer.exists():
            position = self.resume(directory)
            logger.warning(
                "coordinator restarted from its checkpoint at round %d", position["round"]
            )

    def _latest(self) -> tuple[int, np.ndarray]:
        # Not copied: Ray serialises a method's return value before the next call runs.
        main, version = self._local.main_view()
        return version, main

    def main(self) -> tuple[int, np.ndarray]:
        """The version and the main flat vector (two returned objects)."""
        return self._latest()

    def push_round(self, results, blocks, rows_of, push_ids, extra) -> tuple[int, np.ndarray]:
        """Apply a sync round once (a retried call for a checkpointed round is a no-op)."""
        import ray

        if extra["round"] - 1 > self._done_round:
            results = _with_blocks(ray, results, blocks, rows_of)
            self._local.push_round(results, push_ids, extra)
            self._done_round = extra["round"] - 1
        return self._latest()

    def push(self, result, blocks, push_id, extra) -> tuple[Any, int, np.ndarray]:
        """Apply one async push; return its status, and the version and main vector."""
        import ray

        (result,) = _with_blocks(ray, [result], blocks, [0])
        outcome = self._local.push(result, push_id, extra)
        version, main = self._latest()
        return outcome.status, version, main

    def parameters(self):
        return self._local.parameters()

    def round_setup(self, round_index: int, children: list[int]) -> Any:
        """Start a secure round here, where its masked blocks will arrive."""
        return self._local.round_setup(round_index, children)

    def resume(self, directory: str) -> dict[str, int]:
        """Load a checkpoint: parameters and the round reached."""
        position = self._local.resume(directory)
        self._done_round = position["round"] - 1
        return position

    def pid(self) -> int:
        """The actor's process id (tests use it to see a restart)."""
        return os.getpid()


class RayCoordinator:
    """The driver's handle on the coordinator's Ray actor (same interface as
    :class:`~datapredict.coordinators.host.LocalCoordinator`).

    Workers' blocks go to the actor as object references; the actor returns the new
    main vector as an object, which the driver hands to the workers by reference. So no
    large array passes through the driver. The actor checkpoints itself as it applies
    updates and, with ``max_restarts=-1``, is restarted by Ray after a crash, reloads
    its checkpoint, and the calls in flight are retried.
    """

    def __init__(
        self, ray, make_coordinator, main, layout, checkpointer, options, start_timeout
    ) -> None:
        self._ray = ray
        directory = None if checkpointer.directory is None else str(checkpointer.directory)
        self.checkpointing = directory is not None
        actor_class = remote_class(ray, _CoordinatorActor).options(**options)
        self.actor = actor_class.remote(
            make_coordinator, main, layout, directory, checkpointer.every
        )
        self.secure = getattr(make_coordinator, "secure", None) is not None
        self._latest = self.actor.main.options(num_returns=2).remote()
        ready, _ = ray.wait([self._latest[0]], timeout=start_timeout)
        if not ready:
            ray.kill(self.actor)
            raise ChildFailureError(
                f"RayBackend: the coordinator actor was not placed within {start_timeout:g} s "
                f"(num_cpus={options['num_cpus']:g}); the cluster has {ray.cluster_resources()}"
            )

    def _get(self, ref: Any) -> Any:
        """``ray.get``; a dead coordinator actor becomes a :class:`ChildFailureError`."""
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayActorError as error:
            hint = "" if self.checkpointing else "; pass checkpoint=... to survive a crash"
            raise ChildFailureError(
                f"RayBackend: the coordinator's actor died ({short_error(error)}){hint}"
            ) from error

    @property
    def version(self) -> int:
        """The version after the last update sent (waits for it)."""
        return self._get(self._latest[0])

    def main(self) -> tuple[Any, int]:
        """A reference to the latest main vector, and its version."""
        version_ref, main_ref = self._latest
        return main_ref, self._get(version_ref)

    def parameters(self) -> tuple[Any, int]:
        """The main parameters in the model's structure and their version (fetched)."""
        return self._get(self.actor.parameters.remote())

    def round_setup(self, round_index: int, children: list[int]) -> Any:
        """Secure aggregation: the round's public setup, from the coordinator's actor
        (after the previous round's update); None without it."""
        if not self.secure:
            return None
        return self._get(self.actor.round_setup.remote(round_index, children))

    @staticmethod
    def _by_block(results) -> tuple[list, list, list[int]]:
        """The results without payload, the distinct block references, and the index of
        each result's block among them."""
        blocks: list[Any] = []
        index: dict[Any, int] = {}
        rows_of = []
        for result in results:
            if result.payload not in index:
                index[result.payload] = len(blocks)
                blocks.append(result.payload)
            rows_of.append(index[result.payload])
        return [replace(r, payload=None) for r in results], blocks, rows_of

    def push_round(self, results, push_ids, extra) -> None:
        """Send a sync round to the actor; blocks go by reference, not through the driver."""
        metas, blocks, rows_of = self._by_block(results)
        call = self.actor.push_round.options(num_returns=2)
        self._latest = call.remote(metas, blocks, rows_of, push_ids, extra)

    def push(self, result, push_id, extra):
        """Apply one async push on the actor; returns its :class:`PushOutcome`."""
        from datapredict.coordinators.outcome import PushOutcome

        (meta,), blocks, _ = self._by_block([result])
        status, version, main = self.actor.push.options(num_returns=3).remote(
            meta, blocks, push_id, extra
        )
        self._latest = (version, main)
        return PushOutcome(self._get(status), self._get(version))

    def resume(self, directory) -> dict[str, int]:
        """Load a checkpoint into the actor; returns the runner's position."""
        position = self._get(self.actor.resume.remote(str(directory)))
        self._latest = self.actor.main.options(num_returns=2).remote()
        return position

    def close(self) -> None:
        """Kill the actor."""
        try:
            self._ray.kill(self.actor)
        except Exception as error:  # already dead, or the connection is gone
            logger.debug("Ray backend: killing the coordinator failed: %s", error)
