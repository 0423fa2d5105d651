"""The Ray backend: every child is a Ray actor holding its model and its shard.

``train_distributed(..., backend="ray", backend_options={...})`` runs the same loop as
the inline and threads backends; only where children run changes:

- each child is an actor wrapping :class:`~datapredict.backends.base.ChildWorker`,
  built from its :class:`~datapredict.backends.base.ChildSpec` (put in the object store
  once, so a restarted actor rebuilds model and shard from it);
- the main parameters go through the object store once per version
  (:meth:`RayBackend.broadcast` is one ``ray.put``); every child receives the same
  reference as a top-level argument, which Ray resolves to a zero-copy, read-only array
  (the child only reads it: ``set_model_parameters`` copies);
- in sync mode, pushes come back as they complete (``ray.wait``) and go to the
  coordinator's actor by reference;
- in async mode the driver is not in the loop: each child's actor calls the
  coordinator's actor with its push and takes the new main vector from the reply
  (:meth:`RayBackend.stream_async`), and the driver reads what arrived every
  ``poll_interval`` seconds;
- a child whose actor died becomes a :class:`~datapredict.backends.base.ChildResult`
  with ``error`` set, which the runner records in the history's ``failures`` before
  going on without that child.

``import ray`` happens only here, when a :class:`RayBackend` is created; install it with
``pip install 'datapredict[ray]'``.

Fault tolerance: with ``max_restarts`` > 0 (the default is 3) an actor whose process
dies is restarted by Ray, re-runs its constructor (model and shard rebuilt from the
spec) and, because calls are retried (``max_task_retries``), the push in flight is
computed again: the child rejoins and the runner sees no failure (a retried call still
returns one result, so the push is applied once). A restarted child's own randomness
(batch order) starts again from its seed. An actor killed with ``ray.kill(actor)``
(``no_restart=True``), or out of restarts, is dead for good and reported as a failure.
With ``max_restarts`` > 0, Ray (2.60) logs once per process that the actor "has
constructor arguments in the object store and max_restarts > 0" (ray-project/ray#53727):
harmless here, since this backend holds the spec's reference until :meth:`close`.

Clusters and the options of each: see :class:`RayBackend` and ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from datapredict._validation import check_float, check_int, option_error
from datapredict.backends.base import ChildResult, ChildSpec
from datapredict.backends.ray._common import remote_class, short_error
from datapredict.backends.ray.actor import ChildActor
from datapredict.backends.ray.cluster import check_address, connect, even_share, import_ray
from datapredict.backends.ray.coordinator import RayCoordinator
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.coordinators.stream import Arrival
from datapredict.errors import ChildFailureError
from datapredict.parameters import Layout

__all__ = ["RayBackend"]

logger = logging.getLogger("datapredict")
_OWNER = "RayBackend"


class RayBackend:
    """Run each child as a Ray actor; main parameters travel through the object store.

    Parameters
    ----------
    address : str, optional
        ``None`` reuses the Ray instance this process is connected to, or starts a local
        one (shut down again by :meth:`close`). ``"auto"`` joins the cluster running on
        this machine, ``"HOST:PORT"`` the cluster whose head is there, ``"ray://HOST:PORT"``
        goes through Ray Client; ``"local"`` always starts a new local instance.
    num_cpus : float, optional
        CPUs each child actor reserves. By default the children share the cluster's CPUs
        evenly, at most one each (five children on two CPUs reserve 0.4 each); set it to
        1 or more to spread children over machines.
    num_gpus : float, default=0
        GPUs each child actor reserves.
    coordinator_num_cpus : float, default=0
        CPUs the coordinator's actor reserves. Its work is a few vector operations per
        push, so by default it reserves none and is always placed; it runs where Ray
        puts it (restarted by Ray after a crash, from its checkpoint).
    max_restarts : int, default=3
        How often Ray restarts a child whose process died (-1: without limit). A
        restarted child rebuilds its model and shard and retries the push in flight.
    max_task_retries : int, optional
        Retries of a call interrupted by a crash; default -1 (until the actor is dead for
        good) when ``max_restarts`` is not 0, else 0.
    resources : dict, optional
        Custom resources each child needs, e.g. ``{"gpu_node": 1}``.
    scheduling_strategy : str or Ray strategy, optional
        E.g. ``"SPREAD"`` to place children on as many nodes as possible.
    runtime_env : dict, optional
        The actors' runtime environment, e.g. ``{"py_modules": [...]}`` when the cluster's
        nodes do not have datapredict installed.
    init_options : dict, optional
        Extra keywords for ``ray.init`` when this backend connects or starts Ray
        (default ``include_dashboard=False``).
    driver_blas_threads : int or None, default=1
        While the job runs (:meth:`start` to :meth:`close`), limit this process's BLAS
        thread pool to this many threads, as Ray does for every actor
        (``OMP_NUM_THREADS=1``): the driver's own numpy work (evaluation, history) is
        small, and idle OpenBLAS threads spin, taking cores from the children running
        on the same machine. Needs threadpoolctl (installed with scikit-learn);
        ``None`` leaves the pool alone.
    poll_interval : float, default=0.05
        In async mode, seconds between the driver's reads of what the coordinator
        received (for the history, callbacks and progress); the children do not wait
        for them.
    start_timeout : float, default=120
        Seconds to wait for every child actor to be placed and built.
    connect_timeout : float, default=10
        Seconds to wait for a ``HOST:PORT`` or ``ray://`` address to accept a connection
        before calling ``ray.init`` (which would otherwise hang for minutes on a wrong one).

    Raises
    ------
    MissingDependencyError
        If Ray is not installed.
    InvalidOptionError
        For a malformed option; from :meth:`start`, for an address where no Ray cluster
        can be reached.

    Notes
    -----
    ``actors`` lists the children's actor handles while the job runs (index = child),
    e.g. to kill one from a ``train_distributed`` callback in a test; ``coordinator`` is
    the :class:`RayCoordinator` (its ``actor`` the coordinator's actor handle).
    """

    hosts_coordinator = True  # the coordinator is an actor the children call
    streams_async = True

    def __init__(
        self,
        address: str | None = None,
        num_cpus: float | None = None,
        num_gpus: float = 0,
        coordinator_num_cpus: float = 0.0,
        max_restarts: int = 3,
        max_task_retries: int | None = None,
        resources: Mapping[str, float] | None = None,
        scheduling_strategy: Any = None,
        runtime_env: Mapping[str, Any] | None = None,
        init_options: Mapping[str, Any] | None = None,
        driver_blas_threads: int | None = 1,
        poll_interval: float = 0.05,
        start_timeout: float = 120.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._ray = import_ray()
        self.address = check_address(address)
        self.num_cpus = (
            None if num_cpus is None else check_float(_OWNER, "num_cpus", num_cpus, low=0)
        )
        self.num_gpus = check_float(_OWNER, "num_gpus", num_gpus, low=0)
        self.coordinator_num_cpus = check_float(
            _OWNER, "coordinator_num_cpus", coordinator_num_cpus, low=0
        )
        self.max_restarts = check_int(_OWNER, "max_restarts", max_restarts, minimum=-1)
        if max_task_retries is None:
            max_task_retries = 0 if self.max_restarts == 0 else -1
        self.max_task_retries = check_int(_OWNER, "max_task_retries", max_task_retries, minimum=-1)
        for name, value in (
            ("resources", resources),
            ("runtime_env", runtime_env),
            ("init_options", init_options),
        ):
            if value is not None and not isinstance(value, Mapping):
                raise option_error(_OWNER, name, "a dict or None", value)
        self.resources = dict(resources) if resources else None
        self.scheduling_strategy = scheduling_strategy
        self.runtime_env = dict(runtime_env) if runtime_env else None
        self.init_options = {"include_dashboard": False, **(init_options or {})}
        self.driver_blas_threads = (
            None
            if driver_blas_threads is None
            else check_int(_OWNER, "driver_blas_threads", driver_blas_threads, minimum=1)
        )
        self._blas_limits: Any = None
        self.poll_interval = check_float(
            _OWNER, "poll_interval", poll_interval, low=0, low_open=True
        )
        self.start_timeout = check_float(
            _OWNER, "start_timeout", start_timeout, low=0, low_open=True
        )
        self.connect_timeout = check_float(
            _OWNER, "connect_timeout", connect_timeout, low=0, low_open=True
        )
        self._owns_ray = False
        self.coordinator: RayCoordinator | None = None
        self._actors: list[Any] = []
        self._spec_refs: list[Any] = []
        self._in_flight: dict[Any, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return (
            f"RayBackend(address={self.address!r}, num_cpus={self.num_cpus!r}, "
            f"num_gpus={self.num_gpus:g}, max_restarts={self.max_restarts})"
        )

    # ------------------------------------------------------------------ access
    @property
    def actors(self) -> list[Any]:
        """The children's actor handles, by child index (empty before start / after close)."""
        return list(self._actors)

    def node_ids(self, timeout: float = 30.0) -> list[str]:
        """The Ray node id each child's actor runs on, by child index."""
        ray = self._ray
        return ray.get([actor.node_id.remote() for actor in self._actors], timeout=timeout)

    # -------------------------------------------------------------- connecting
    def connect(self) -> None:
        """Connect to the cluster at ``address`` (or start a local instance) now.

        :meth:`start` does this itself; calling it first lets several jobs share one
        instance (``RayBackend()`` reuses a connected instance), as the demo does.
        """
        if connect(self._ray, self.address, self.init_options, self.connect_timeout):
            self._owns_ray = True

    # ----------------------------------------------------------------- backend
    def start(self, specs: list[ChildSpec], layout: Layout) -> None:
        """Connect to (or start) Ray and create one actor per child; wait until all are built."""
        self.connect()
        try:
            self._limit_driver_blas()
            self._create(specs, layout)
        except BaseException:
            self.close()
            raise

    def _limit_driver_blas(self) -> None:
        if self.driver_blas_threads is None or self._blas_limits is not None:
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            logger.debug("Ray backend: threadpoolctl missing; the driver's BLAS pool is left alone")
            return
        self._blas_limits = threadpool_limits(self.driver_blas_threads, user_api="blas")

    def _create(self, specs: list[ChildSpec], layout: Layout) -> None:
        ray = self._ray
        if self.num_cpus is None:
            self.num_cpus = even_share(ray.cluster_resources().get("CPU", 1.0), len(specs))
        options: dict[str, Any] = {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "max_restarts": self.max_restarts,
            "max_task_retries": self.max_task_retries,
        }
        if self.resources:
            options["resources"] = self.resources
        if self.scheduling_strategy is not None:
            options["scheduling_strategy"] = self.scheduling_strategy
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        actor_class = remote_class(ray, ChildActor).options(**options)
        self._spec_refs = [ray.put(spec) for spec in specs]
        self._actors = [actor_class.remote([ref], layout) for ref in self._spec_refs]
        self._in_flight = {}
        pings = {actor.ping.remote(): i for i, actor in enumerate(self._actors)}
        try:
            ready, pending = ray.wait(
                list(pings), num_returns=len(pings), timeout=self.start_timeout
            )
        except Exception as error:  # pragma: no cover - ray.wait itself failing
            raise ChildFailureError(f"RayBackend: starting the children failed: {error}") from error
        if pending:
            waiting = sorted(pings[ref] for ref in pending)
            raise ChildFailureError(
                f"RayBackend: children {waiting} were not placed within {self.start_timeout:g} s; "
                f"each asks for num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g}"
                + (f", resources={self.resources}" if self.resources else "")
                + f"; the cluster has {ray.cluster_resources()}"
            )
        for ref in ready:
            try:
                ray.get(ref)
            except ray.exceptions.RayError as error:
                hint = ""
                if "No module named" in str(error):
                    hint = (
                        "; the model factory must be importable on Ray's workers: define it "
                        "in an installed module or in __main__ (or use a lambda), or ship "
                        "its module with runtime_env={'py_modules': [...]}"
                    )
                raise ChildFailureError(
                    f"RayBackend: child {pings[ref]} could not be built: {short_error(error)}{hint}"
                ) from error
        logger.info(
            "Ray backend: %d children on %d node(s)",
            len(self._actors),
            len(set(self.node_ids(timeout=self.start_timeout))),
        )

    def broadcast(self, main: Any, version: int) -> tuple[Any, int]:
        """Every child of this version gets one reference to ``main`` in the object store.

        ``main`` is already there when it comes from the coordinator actor (an ObjectRef);
        an array is put once.
        """
        if isinstance(main, self._ray.ObjectRef):
            return main, version
        return self._ray.put(main), version

    def host_coordinator(
        self, make_coordinator: Any, main: np.ndarray, layout: Layout, checkpointer: Checkpointer
    ) -> RayCoordinator:
        """Run the coordinator as a Ray actor (see :class:`RayCoordinator`)."""
        self.coordinator = RayCoordinator(
            self._ray,
            make_coordinator,
            main,
            layout,
            checkpointer,
            self._coordinator_options(),
            self.start_timeout,
        )
        return self.coordinator

    def _coordinator_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_cpus": self.coordinator_num_cpus,
            "max_restarts": -1,
            "max_task_retries": -1,
        }
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        return options

    def stream_async(
        self,
        children: list[int],
        n_children: int,
        budget: int,
        position: dict[str, int],
        max_staleness: int | None,
    ) -> Iterator[tuple[list[Arrival], list[ChildResult]]]:
        """Run an async job with children pushing straight to the coordinator's actor.

        Each child's actor loops in :meth:`ChildActor.run` until the coordinator has
        handed out ``budget`` units of work; one actor call per push, and no array
        passes through the driver. Every ``poll_interval`` seconds (or when a child's
        loop ends) yields what the coordinator received since the last time, and the
        children whose actor died.
        """
        ray, coordinator = self._ray, self.coordinator
        coordinator.open_stream(budget, children, n_children, position, max_staleness)
        runs = {self._actors[child].run.remote(coordinator.actor): child for child in children}
        while runs:
            ready, _ = ray.wait(list(runs), num_returns=1, timeout=self.poll_interval)
            lost = []
            for ref in ready:
                child = runs.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayError as error:
                    lost.append(self._failure(child, -1, error))
            # If the coordinator died (the children's failures then come from it), the
            # drain raises ChildFailureError naming it before any child is reported.
            yield coordinator.drain(), lost

    def submit(self, child: int, handle: tuple[Any, int]) -> None:
        """Ask ``child``'s actor for one unit of work from the published parameters."""
        ref, version = handle
        meta, payload = self._actors[child].work.options(num_returns=2).remote(ref, version)
        self._in_flight[meta] = (child, version, payload)

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """Block until a push is ready (or ``timeout``); a dead actor becomes a failure."""
        if not self._in_flight:
            return []
        ray = self._ray
        ready, _ = ray.wait(list(self._in_flight), num_returns=1, timeout=timeout)
        results = []
        for ref in ready:
            child, version, payload = self._in_flight.pop(ref)
            try:
                result = ray.get(ref)
                if result.error is None:
                    result.payload = payload  # an ObjectRef: the coordinator actor resolves it
                results.append(result)
            except ray.exceptions.RayError as error:
                results.append(self._failure(child, version, error))
        return results

    def _failure(self, child: int, version: int, error: Exception) -> ChildResult:
        """A child's Ray call that failed, as a result with ``error`` set."""
        if isinstance(error, self._ray.exceptions.RayActorError):
            text = f"its Ray actor died ({short_error(error)})"
        else:
            text = f"Ray failed: {short_error(error)}"
        return ChildResult(child, None, version, 0, math.nan, 0.0, error=text)

    def close(self) -> None:
        """Kill the children's actors; shut Ray down only if this backend started it."""
        ray = self._ray
        for actor in self._actors:
            try:
                ray.kill(actor)
            except Exception as error:  # an already-dead actor, a lost connection
                logger.debug("Ray backend: killing an actor failed: %s", error)
        self._actors, self._spec_refs, self._in_flight = [], [], {}
        self.coordinator = None
        if self._blas_limits is not None:
            self._blas_limits.restore_original_limits()
            self._blas_limits = None
        if self._owns_ray:
            self._owns_ray = False
            ray.shutdown()
