"""The Ray backend: a fixed pool of worker actors; children are data.

``train_distributed(..., backend=RayBackend(num_workers=2))`` runs the same loop as the
inline and threads backends; only where children run changes:

- the pool's actors start once (:meth:`RayBackend.open`, or entering ``with
  RayBackend(...) as backend:``) and serve every job until :meth:`RayBackend.close`;
  start-up does not grow with the number of children;
- a job's description and all its shards go to the object store once, as two objects
  that every worker reads without a copy;
- the main parameters go through the object store once per version; one actor call per
  worker and round carries that worker's children (child ``c`` goes to worker
  ``c % num_workers``), and returns their pushes as one stacked (k, P) block, which goes
  to the coordinator's actor by reference: the coordinator receives a block per worker
  per round, and no array passes through the driver;
- a worker whose actor dies for good has its batch given to a live worker (its
  children lose their training state and restart from their seeds); with no worker
  left, the children are reported as failed.

Fault tolerance: with ``max_restarts`` > 0 (the default is 3) an actor whose process
dies is restarted by Ray and the call in flight is retried (``max_task_retries``): the
worker reloads the job from the object store and the runner sees no failure.

``import ray`` happens only when a :class:`RayBackend` is created; install it with
``pip install 'datapredict[ray]'``. Clusters: see :class:`RayBackend`'s ``address``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from datapredict._validation import check_float, check_int, option_error
from datapredict.backends.base import ChildResult, JobSpec, Shards
from datapredict.backends.ray._common import remote_class, short_error
from datapredict.backends.ray.actor import WorkerActor
from datapredict.backends.ray.cluster import check_address, connect, import_ray
from datapredict.backends.ray.coordinator import RayCoordinator
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.errors import ChildFailureError
from datapredict.parameters import Layout

__all__ = ["RayBackend"]

logger = logging.getLogger("datapredict")
_OWNER = "RayBackend"


class RayBackend:
    """Run children on a pool of Ray actors; data and parameters travel through the object store.

    Parameters
    ----------
    num_workers : int, optional
        Worker actors in the pool; default: the cluster's CPUs divided by ``num_cpus``.
    address : str, optional
        ``None`` reuses the Ray instance this process is connected to, else joins the
        cluster named by ``RAY_ADDRESS``, else starts a new local instance (shut down
        again by :meth:`close`); it never joins a cluster merely found running on the
        machine. ``"auto"`` joins the cluster running on this machine, ``"HOST:PORT"``
        the cluster whose head is there, ``"ray://HOST:PORT"`` goes through Ray Client;
        ``"local"`` always starts a new local instance. ``init_options`` that size an
        instance (``num_cpus``, ...) are refused when joining one.
    num_cpus : float, default=1
        CPUs each worker actor reserves.
    num_gpus : float, default=0
        GPUs each worker actor reserves.
    coordinator_num_cpus : float, default=0
        CPUs the coordinator's actor reserves (its work is a few vector operations per
        push, so by default none: it is always placed).
    max_restarts : int, default=3
        How often Ray restarts a worker whose process died (-1: without limit).
    max_task_retries : int, optional
        Retries of a call interrupted by a crash; default -1 (until the actor is dead for
        good) when ``max_restarts`` is not 0, else 0.
    resources : dict, optional
        Custom resources each worker needs, e.g. ``{"gpu_node": 1}``.
    scheduling_strategy : str or Ray strategy, optional
        E.g. ``"SPREAD"`` to place workers on as many nodes as possible.
    runtime_env : dict, optional
        The actors' runtime environment, e.g. ``{"py_modules": [...]}`` when the cluster's
        nodes do not have datapredict installed.
    init_options : dict, optional
        Extra keywords for ``ray.init`` when this backend connects or starts Ray
        (default ``include_dashboard=False``).
    driver_blas_threads : int or None, default=1
        While a job runs, limit this process's BLAS thread pool to this many threads, as
        Ray does for every actor (idle OpenBLAS threads spin and take cores from the
        workers on the same machine). Needs threadpoolctl; ``None`` leaves it alone.
    start_timeout : float, default=120
        Seconds to wait for every worker to be placed and built.
    connect_timeout : float, default=10
        Seconds to wait for a ``HOST:PORT`` or ``ray://`` address to accept a connection
        before calling ``ray.init``.

    Raises
    ------
    MissingDependencyError
        If Ray is not installed.
    InvalidOptionError
        For a malformed option; from :meth:`open`, for an address where no Ray cluster
        can be reached.

    Notes
    -----
    ``actors`` lists the workers' actor handles (index = worker), e.g. to kill one from a
    ``train_distributed`` callback in a test; ``coordinator`` is the running job's
    :class:`RayCoordinator` (its ``actor`` the coordinator's actor handle).
    """

    hosts_coordinator = True  # the coordinator is an actor the workers' blocks go to

    def __init__(
        self,
        num_workers: int | None = None,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0,
        coordinator_num_cpus: float = 0.0,
        max_restarts: int = 3,
        max_task_retries: int | None = None,
        resources: Mapping[str, float] | None = None,
        scheduling_strategy: Any = None,
        runtime_env: Mapping[str, Any] | None = None,
        init_options: Mapping[str, Any] | None = None,
        driver_blas_threads: int | None = 1,
        start_timeout: float = 120.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._ray = import_ray()
        self.num_workers = (
            None
            if num_workers is None
            else check_int(_OWNER, "num_workers", num_workers, minimum=1)
        )
        self.address = check_address(address)
        self.num_cpus = check_float(_OWNER, "num_cpus", num_cpus, low=0)
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
        self.start_timeout = check_float(
            _OWNER, "start_timeout", start_timeout, low=0, low_open=True
        )
        self.connect_timeout = check_float(
            _OWNER, "connect_timeout", connect_timeout, low=0, low_open=True
        )
        self._owns_ray = False
        self._entered = False
        self._blas_limits: Any = None
        self.coordinator: RayCoordinator | None = None
        self._actors: list[Any] = []
        self._live: list[int] = []
        self._job: list[Any] | None = None
        self._in_flight: dict[Any, tuple[int, list[int], Any, int, Any]] = {}

    def __repr__(self) -> str:
        return (
            f"RayBackend(num_workers={self.num_workers!r}, address={self.address!r}, "
            f"num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g}, "
            f"max_restarts={self.max_restarts})"
        )

    # The same with-block semantics as the in-process pools (backends/_pool.py), written
    # again because this class does not share their lifecycle code: alike on purpose.
    def __enter__(self) -> RayBackend:
        self._entered = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._entered = False
        self.close()

    # ------------------------------------------------------------------ access
    @property
    def actors(self) -> list[Any]:
        """The workers' actor handles, by worker index (empty before open / after close)."""
        return list(self._actors)

    def node_ids(self, timeout: float = 30.0) -> list[str]:
        """The Ray node id each worker's actor runs on, by worker index."""
        return self._ray.get([a.node_id.remote() for a in self._actors], timeout=timeout)

    def connect(self) -> None:
        """Connect to the cluster at ``address`` (or start a local instance) now.

        :meth:`open` does this itself; calling it first lets several backends share
        one instance (``RayBackend()`` reuses a connected instance).
        """
        if connect(self._ray, self.address, self.init_options, self.connect_timeout):
            self._owns_ray = True

    # -------------------------------------------------------------- lifecycle
    def open(self, job: JobSpec, shards: Shards) -> None:
        """Start the pool (once), put the job and its data in the object store, and wait
        until every worker has loaded them."""
        self.connect()
        self._limit_driver_blas()
        if not self._actors:
            self._start_pool()
        ray = self._ray
        self._job = [ray.put(job), ray.put(shards)]
        self._wait_ready()

    def _start_pool(self) -> None:
        ray = self._ray
        if self.num_workers is None:
            cpus = ray.cluster_resources().get("CPU", 1.0)
            self.num_workers = max(1, int(cpus // self.num_cpus) if self.num_cpus else 1)
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
        actor_class = remote_class(ray, WorkerActor).options(**options)
        self._actors = [actor_class.remote(w) for w in range(self.num_workers)]
        self._live = list(range(self.num_workers))

    def _wait_ready(self) -> None:
        ray = self._ray
        pings = {self._actors[w].ready.remote(self._job): w for w in self._live}
        ready, pending = ray.wait(list(pings), num_returns=len(pings), timeout=self.start_timeout)
        if pending:
            waiting = sorted(pings[ref] for ref in pending)
            raise ChildFailureError(
                f"RayBackend: workers {waiting} were not placed within {self.start_timeout:g} s; "
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
                    f"RayBackend: worker {pings[ref]} could not load the job: "
                    f"{short_error(error)}{hint}"
                ) from error

    def _limit_driver_blas(self) -> None:
        if self.driver_blas_threads is None or self._blas_limits is not None:
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            logger.debug("Ray backend: threadpoolctl missing; the driver's BLAS pool is left alone")
            return
        self._blas_limits = threadpool_limits(self.driver_blas_threads, user_api="blas")

    # ---------------------------------------------------------------- rounds
    def broadcast(self, main: Any, version: int) -> tuple[Any, int]:
        """One object-store reference to ``main`` for every worker of this version (``main``
        is already one when it comes from the coordinator's actor)."""
        if isinstance(main, self._ray.ObjectRef):
            return main, version
        return self._ray.put(main), version

    def host_coordinator(
        self, make_coordinator: Any, main: np.ndarray, layout: Layout, checkpointer: Checkpointer
    ) -> RayCoordinator:
        """Run the coordinator as a Ray actor (see :class:`RayCoordinator`)."""
        options: dict[str, Any] = {
            "num_cpus": self.coordinator_num_cpus,
            "max_restarts": -1,
            "max_task_retries": -1,
        }
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        self.coordinator = RayCoordinator(
            self._ray, make_coordinator, main, layout, checkpointer, options, self.start_timeout
        )
        return self.coordinator

    def submit(self, children: list[int], handle: tuple[Any, int], setup: Any = None) -> None:
        """One actor call per worker, carrying its share of ``children`` (and a secure
        round's public ``setup``)."""
        handle = (*handle[:2], setup)
        if not self._live:
            raise ChildFailureError("RayBackend: every worker of the pool died")
        batches: dict[int, list[int]] = {}
        for child in children:
            batches.setdefault(self._live[child % len(self._live)], []).append(child)
        for worker, batch in batches.items():
            self._call(worker, batch, handle)

    def _call(self, worker: int, children: list[int], handle: tuple[Any, int, Any]) -> None:
        ref, version, setup = handle
        call = self._actors[worker].work.options(num_returns=2)
        metas, block = call.remote(self._job, children, ref, version, setup)
        self._in_flight[metas] = (worker, children, block, version, handle)

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """The results of the batches finished first (empty on timeout or when idle).

        A batch whose worker died for good goes to a live worker; with none left, its
        children come back as failures."""
        if not self._in_flight:
            return []
        ray = self._ray
        ready, _ = ray.wait(list(self._in_flight), num_returns=1, timeout=timeout)
        results: list[ChildResult] = []
        for ref in ready:
            worker, children, block, version, handle = self._in_flight.pop(ref)
            try:
                metas = ray.get(ref)
            except ray.exceptions.RayError as error:
                results += self._lost(worker, children, version, handle, error)
                continue
            for meta in metas:
                if meta.error is None:
                    meta.payload = block  # a reference: the coordinator's actor resolves it
            results += metas
        return results

    def _lost(self, worker, children, version, handle, error) -> list[ChildResult]:
        """A batch whose worker's call failed: retried on a live worker, else failures."""
        if isinstance(error, self._ray.exceptions.RayActorError) and worker in self._live:
            self._live.remove(worker)
            logger.warning("Ray backend: worker %d died (%s)", worker, short_error(error))
        if self._live and isinstance(error, self._ray.exceptions.RayActorError):
            self._call(self._live[children[0] % len(self._live)], children, handle)
            return []
        text = f"its Ray worker failed ({short_error(error)})"
        return [ChildResult(c, None, version, 0, math.nan, 0.0, error=text) for c in children]

    def release(self) -> None:
        """End the job: cancel its calls and drop its objects; outside a ``with`` block,
        also stop the pool (:meth:`close`)."""
        for ref in self._in_flight:
            try:
                self._ray.cancel(ref)
            except Exception as error:  # already finished, or the connection is gone
                logger.debug("Ray backend: cancelling a call failed: %s", error)
        self._in_flight, self._job, self.coordinator = {}, None, None
        if self._blas_limits is not None:
            self._blas_limits.restore_original_limits()
            self._blas_limits = None
        if not self._entered:
            self.close()

    def close(self) -> None:
        """Kill the workers; shut Ray down only if this backend started it."""
        self._in_flight, self._job, self.coordinator = {}, None, None
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception as error:  # an already-dead actor, a lost connection
                logger.debug("Ray backend: killing an actor failed: %s", error)
        self._actors, self._live = [], []
        if self._owns_ray:
            self._owns_ray = False
            self._ray.shutdown()
