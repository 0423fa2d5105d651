"""What every backend shares: the child's unit of work and the backend interface.

A backend only knows how to run children: create each from the factory and its
shard (:class:`ChildWorker`), send them main parameters, collect what they push and
close. The coordinators and the runner's loop are the same for every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from datapredict.errors import InvalidOptionError
from datapredict.models.base import GradientModel
from datapredict.parameters import Layout

__all__ = ["Backend", "ChildResult", "ChildSpec", "ChildWorker", "check_backend"]


@dataclass(frozen=True)
class ChildSpec:
    """Everything needed to build one child, on any machine.

    Attributes
    ----------
    index : int
        The child's 0-based index.
    model_factory : callable
        Zero-argument callable returning a fresh model.
    X, y : ndarray
        The child's shard.
    strategy : {"gradients", "model_parameters"}
        Push the last step, or the trained parameters.
    local_iterations : int
        Iterations per unit of work (1 for "gradients").
    seed : numpy.random.SeedSequence
        The child's own randomness (batch order).
    n_features : int
        Features of the whole dataset.
    labels : ndarray
        All targets of the job (so classifiers know every class).
    """

    index: int
    model_factory: Callable[[], Any]
    X: np.ndarray
    y: np.ndarray
    strategy: str
    local_iterations: int
    seed: np.random.SeedSequence
    n_features: int
    labels: np.ndarray


@dataclass
class ChildResult:
    """What a child pushes after one unit of work.

    ``payload`` is the flat step (gradients) or flat parameters; ``version`` is the
    version of the main parameters the child started from; ``cost`` is the cost at
    those parameters on the child's shard. ``error`` is set (and ``payload`` None) when
    the child failed.
    """

    child: int
    payload: np.ndarray | None
    version: int
    n_samples: int
    cost: float
    seconds: float
    error: str | None = None


class ChildWorker:
    """One child: its model and its shard. Used inline, in threads or as a Ray actor."""

    def __init__(self, spec: ChildSpec) -> None:
        self.index = spec.index
        self.X, self.y = spec.X, spec.y
        self.strategy = spec.strategy
        self.model = spec.model_factory()
        options: dict[str, Any] = {"max_iterations": spec.local_iterations}
        if _accepts_random_state(self.model):
            options["random_state"] = np.random.default_rng(spec.seed)
        self.model.set_parameters(**options)
        if hasattr(self.model, "initialize"):
            self.model.initialize(spec.n_features, spec.labels)
        if spec.strategy == "gradients":
            self.model.set_are_gradients_saved(True)

    def work(self, main: np.ndarray, version: int, layout: Layout) -> ChildResult:
        """Start from ``main`` (flat), train on the shard, return what to push."""
        started = time.perf_counter()
        self.model.set_model_parameters(layout.unflatten(main))
        costs = np.atleast_1d(np.asarray(self.model.train(self.X, self.y), dtype=float))
        if self.strategy != "gradients":
            pushed = self.model.get_model_parameters()
        elif isinstance(self.model, GradientModel):
            pushed = self.model.get_gradients(copy=False)  # pushed before the next step
        else:
            pushed = self.model.get_gradients()
        return ChildResult(
            child=self.index,
            payload=layout.flatten(pushed, "pushed", copy=False),  # a copy or a read-only view
            version=version,
            n_samples=len(self.X),
            cost=float(costs[0]) if costs.size else float("nan"),
            seconds=time.perf_counter() - started,
        )


def _accepts_random_state(model: Any) -> bool:
    params = getattr(model, "get_params", None)
    return params is not None and "random_state" in params()


class Backend(Protocol):
    """Where children run. Sync rounds and async loops are built from these calls.

    Two optional capabilities change the flow of a job; a backend declares them with
    its two flags, and provides the matching method when its flag is True:

    - ``hosts_coordinator``: :meth:`host_coordinator` runs the coordinator where the
      children can reach it (Ray: an actor); otherwise the coordinator lives in the
      driver's process (:class:`~datapredict.coordinators.host.LocalCoordinator`).
    - ``streams_async``: :meth:`stream_async` runs a whole async job with children
      pushing to the coordinator themselves; otherwise the runner drives async jobs
      with ``submit``/``wait``.
    """

    hosts_coordinator: bool
    streams_async: bool

    def start(self, specs: list[ChildSpec], layout: Layout) -> None:
        """Create the children."""

    def broadcast(self, main: np.ndarray, version: int) -> Any:
        """Publish the main parameters once per version; returns a handle for ``submit``."""

    def submit(self, child: int, handle: Any) -> None:
        """Ask ``child`` to do one unit of work from the published parameters."""

    def wait(self, timeout: float | None) -> list[ChildResult]:
        """Return at least one finished result (empty on timeout), in completion order."""

    def close(self) -> None:
        """Release the children."""

    def host_coordinator(
        self, make_coordinator: Callable[[], Any], main: np.ndarray, layout: Layout, checkpointer
    ) -> Any:
        """Only if ``hosts_coordinator``: build the coordinator's host (the runner's
        interface of :class:`~datapredict.coordinators.host.LocalCoordinator`)."""

    def stream_async(
        self,
        children: list[int],
        n_children: int,
        budget: int,
        position: dict[str, int],
        max_staleness: int | None,
    ) -> Iterator[tuple[list[Any], list[ChildResult]]]:
        """Only if ``streams_async``: run an async job of ``budget`` pushes; yield what
        the coordinator received and the children lost, as it happens."""


_REQUIRED = ("start", "broadcast", "submit", "wait", "close")


def check_backend(backend: Any) -> Any:
    """Return ``backend`` if it follows :class:`Backend`; raise naming what is missing."""
    missing = [name for name in _REQUIRED if not callable(getattr(backend, name, None))]
    for flag, method in (
        ("hosts_coordinator", "host_coordinator"),
        ("streams_async", "stream_async"),
    ):
        if not isinstance(getattr(backend, flag, None), bool):
            missing.append(f"{flag} (a bool)")
        elif getattr(backend, flag) and not callable(getattr(backend, method, None)):
            missing.append(f"{method} (its {flag} is True)")
    if missing:
        raise InvalidOptionError(
            "The 'backend' option of train_distributed must be 'inline', 'threads', 'ray' "
            f"or a Backend object; {type(backend).__name__} lacks {', '.join(missing)}"
        )
    return backend
