"""What every backend shares: a job's description, a child's result, the backend protocol.

Children are data: a child is its index, its shard and its seed (plus the training
state its worker keeps between rounds). A backend runs a fixed pool of workers (inline:
one; threads: ``num_workers`` threads; Ray: ``num_workers`` actors); each worker keeps
one model instance and trains many children with it, one after another
(:class:`~datapredict.backends.worker.PoolWorker`), and returns their pushes as one
stacked (k, P) block. The coordinators and the runner's loop are the same for every
backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from datapredict.errors import InvalidOptionError
from datapredict.parameters import Layout

__all__ = ["Backend", "ChildResult", "JobSpec", "Shards", "SpawnedSeeds", "check_backend"]


@dataclass(frozen=True)
class JobSpec:
    """What every worker of a job needs to train any of its children.

    Attributes
    ----------
    model_factory : callable
        Zero-argument callable returning a fresh model.
    strategy : {"gradients", "model_parameters"}
        Push the last step, or the trained parameters.
    local_iterations : int
        Iterations per unit of work (1 for "gradients").
    n_features : int
        Features of the whole dataset.
    labels : ndarray
        Every class of the job (so a classifier knows them all).
    layout : Layout
        The main parameters' structure.
    compression : Compressor, optional
        Compress what each child pushes (:mod:`datapredict.compression`).
    """

    model_factory: Callable[[], Any]
    strategy: str
    local_iterations: int
    n_features: int
    labels: np.ndarray
    layout: Layout
    compression: Any = None


@dataclass(frozen=True)
class SpawnedSeeds(Sequence):
    """The seeds ``parent.spawn(...)`` gives its children ``start`` to ``start + count - 1``,
    each made when it is asked for: the same ``SeedSequence`` objects, without making
    (and, on Ray, shipping) ten thousand of them for a job whose rounds use a tenth.

    Examples
    --------
    >>> parent = np.random.SeedSequence(7)
    >>> seeds = SpawnedSeeds.of(parent, start=1, count=3)
    >>> seeds[2].generate_state(1) == parent.spawn(4)[3].generate_state(1)
    array([ True])
    """

    entropy: Any
    spawn_key: tuple[int, ...]
    pool_size: int
    start: int
    count: int

    @classmethod
    def of(cls, parent: np.random.SeedSequence, *, start: int, count: int) -> SpawnedSeeds:
        """Children ``start`` to ``start + count - 1`` of ``parent``."""
        return cls(parent.entropy, tuple(parent.spawn_key), parent.pool_size, start, count)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.random.SeedSequence:  # type: ignore[override]
        if not -self.count <= index < self.count:
            raise IndexError(f"seed {index} of {self.count}")
        key = (*self.spawn_key, self.start + index % self.count)
        return np.random.SeedSequence(self.entropy, spawn_key=key, pool_size=self.pool_size)


@dataclass(frozen=True)
class Shards:
    """Every child's data and seed: shard ``i`` is ``(X[i], y[i])``, seeded by ``seeds[i]``.

    The arrays are the validated shards themselves (no copy); a Ray object store holds
    the whole as one object, which every worker reads without a copy.
    """

    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]
    seeds: Sequence[np.random.SeedSequence]

    @classmethod
    def of(cls, shards: Sequence[tuple[np.ndarray, np.ndarray]], seeds: Sequence) -> Shards:
        """``shards`` (a list of (X, y)), with one seed per child."""
        seeds = seeds if isinstance(seeds, SpawnedSeeds) else tuple(seeds)
        return cls(tuple(X for X, _ in shards), tuple(y for _, y in shards), seeds)

    def __len__(self) -> int:
        return len(self.X)

    def shard(self, child: int) -> tuple[np.ndarray, np.ndarray]:
        """Child ``child``'s (X, y)."""
        return self.X[child], self.y[child]


@dataclass
class ChildResult:
    """What a child pushes after one unit of work.

    ``payload`` holds the flat step (gradients) or flat parameters: row ``row`` of the
    (k, P) block its worker returned for the children it trained together (on Ray, a
    reference to that block). With compression the block is a list of the k children's
    :class:`~datapredict.compression.Payload` instead (item ``row`` is this child's).
    ``version`` is the version of the main parameters the child started from; ``cost``
    the cost at those parameters on the child's shard; ``nbytes`` the bytes of the push
    as sent. ``error`` is set (and ``payload`` None) when the child failed.
    """

    child: int
    payload: Any
    version: int
    n_samples: int
    cost: float
    seconds: float
    error: str | None = None
    row: int = 0
    nbytes: int = 0

    def vector(self) -> Any:
        """The pushed flat vector (a view of the block's row), or its compressed payload."""
        return self.payload[self.row]


class Backend(Protocol):
    """Where children run: a pool of workers, started once and reused across jobs.

    A job calls :meth:`open` (start the workers if needed, place the job's data), then
    rounds of :meth:`broadcast`, :meth:`submit` and :meth:`wait`, then :meth:`release`
    (forget the job; outside a ``with`` block, stop the workers too). :meth:`close`
    stops the workers. Used as a context manager (``with RayBackend(num_workers=2) as
    backend: ...``) a backend keeps its workers for every job inside the block.

    One optional capability changes the flow of a job; a backend declares it with a
    flag, and provides the matching method when the flag is True:
    ``hosts_coordinator``: :meth:`host_coordinator` runs the coordinator where the
    workers can reach it (Ray: an actor, so that blocks go to it without passing
    through the driver); otherwise the coordinator lives in the driver's process
    (:class:`~datapredict.coordinators.host.LocalCoordinator`).
    """

    hosts_coordinator: bool

    def open(self, job: JobSpec, shards: Shards) -> None:
        """Start the workers (once) and give them the job and its data."""

    def broadcast(self, main: np.ndarray, version: int) -> Any:
        """Publish the main parameters once per version; returns a handle for ``submit``."""

    def submit(self, children: list[int], handle: Any, setup: Any = None) -> None:
        """Have ``children`` each do one unit of work from the published parameters.

        ``setup`` (secure aggregation only, passed only when set) is the round's public
        :class:`~datapredict.secure.protocol.RoundSetup`, for
        :meth:`~datapredict.backends.worker.PoolWorker.work`."""

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """Return at least one finished result (empty on timeout or when idle)."""

    def release(self) -> None:
        """End the job: drop its queued work and data; stop the workers unless the
        backend is inside a ``with`` block."""

    def close(self) -> None:
        """Stop the workers."""

    def host_coordinator(
        self, make_coordinator: Callable[[], Any], main: np.ndarray, layout: Layout, checkpointer
    ) -> Any:
        """Only if ``hosts_coordinator``: build the coordinator's host (the runner's
        interface of :class:`~datapredict.coordinators.host.LocalCoordinator`)."""


_REQUIRED = ("open", "broadcast", "submit", "wait", "release", "close")


def check_backend(backend: Any) -> Any:
    """Return ``backend`` if it follows :class:`Backend`; raise naming what is missing."""
    missing = [name for name in _REQUIRED if not callable(getattr(backend, name, None))]
    hosts = getattr(backend, "hosts_coordinator", None)
    if not isinstance(hosts, bool):
        missing.append("hosts_coordinator (a bool)")
    elif hosts and not callable(getattr(backend, "host_coordinator", None)):
        missing.append("host_coordinator (its hosts_coordinator is True)")
    if missing:
        raise InvalidOptionError(
            "The 'backend' option of train_distributed must be 'inline', 'threads', 'ray' "
            f"or a Backend object; {type(backend).__name__} lacks {', '.join(missing)}"
        )
    return backend
