"""``train_distributed``: one call for a whole distributed training job.

The runner owns the loop; a backend owns where children run; a coordinator owns the
main parameters. Sync mode is deterministic: the main parameters are initialised once
from ``random_state``, every child starts from them with its own seed from
``SeedSequence(random_state).spawn``, and pushes are combined in child order, so the
inline, threads and Ray backends give the same main parameters to the last bit.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np

from datapredict._validation import check_choice, check_int, option_error
from datapredict.backends.base import ChildResult, ChildSpec
from datapredict.backends.coordinator import Checkpointer, LocalCoordinator
from datapredict.distributed.gradients import DistributedGradients
from datapredict.distributed.merger import ModelParametersMerger
from datapredict.distributed.model_parameters import DistributedModelParameters
from datapredict.errors import ChildFailureError, InvalidDataError, NotInitializedError
from datapredict.models.base import check_features
from datapredict.parameters import Layout

__all__ = ["History", "RoundRecord", "TrainingResult", "train_distributed"]

logger = logging.getLogger("datapredict")
_OWNER = "train_distributed"


@dataclass
class RoundRecord:
    """One round of a job (in async mode: every K pushes received).

    ``cost`` is the sample-weighted mean of the children's costs at the parameters they
    started from (in sync mode with full-batch children: the main model's training
    cost); ``metric`` is the main model's score on ``eval_data`` after the round.
    """

    round: int
    version: int
    cost: float
    metric: float | None
    seconds: float
    pushes: int
    dropped: int = 0
    failures: list[str] = field(default_factory=list)
    staleness_mean: float = 0.0
    staleness_max: int = 0


class History(list):
    """The list of :class:`RoundRecord`, with column access: ``history["cost"]``."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return np.array(
                [getattr(record, key) for record in self],
                dtype=object if key == "failures" else float,
            )
        return super().__getitem__(key)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Plain dicts, e.g. for ``pandas.DataFrame(history.as_dicts())``."""
        return [asdict(record) for record in self]


@dataclass
class TrainingResult:
    """What :func:`train_distributed` returns."""

    main_parameters: Any
    model: Any
    history: History
    version: int
    seconds: float


def _check_shards(shards: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    if not isinstance(shards, Sequence) or len(shards) == 0:
        raise InvalidDataError(
            f"shards must be a non-empty list of (X, y) pairs; got {type(shards).__name__}"
        )
    checked = []
    for i, shard in enumerate(shards):
        if not (isinstance(shard, tuple | list) and len(shard) == 2):
            raise InvalidDataError(
                f"shards[{i}] must be an (X, y) pair; got {type(shard).__name__}"
            )
        X = check_features(shard[0], f"shards[{i}][0]")
        y = np.asarray(shard[1])
        if y.shape[0] != X.shape[0]:
            raise InvalidDataError(f"shards[{i}]: X has {X.shape[0]} rows but y has {y.shape[0]}")
        checked.append((X, y))
    widths = {X.shape[1] for X, _ in checked}
    if len(widths) != 1:
        raise InvalidDataError(
            f"every shard must have the same number of features; got {sorted(widths)}"
        )
    return checked


def _make_backend(backend: Any, options: dict[str, Any]):
    if not isinstance(backend, str):
        return backend
    name = check_choice(_OWNER, "backend", backend, ("inline", "threads", "ray"))
    if name == "inline":
        from datapredict.backends.inline import InlineBackend

        return InlineBackend()
    if name == "threads":
        from datapredict.backends.threads import ThreadsBackend

        return ThreadsBackend()
    from datapredict.backends.ray import RayBackend

    return RayBackend(**options)


def _initial_main(
    model_factory: Callable[[], Any], n_features: int, labels: np.ndarray, seed
) -> Any:
    model = model_factory()
    params = model.get_params() if hasattr(model, "get_params") else {}
    if "random_state" in params:
        model.set_parameters(random_state=np.random.default_rng(seed))
    if hasattr(model, "initialize") and model.get_model_parameters() is None:
        model.initialize(n_features, labels)
    main = model.get_model_parameters()
    if main is None:
        raise NotInitializedError(
            "train_distributed: the factory's model has no parameters and no initialize(); "
            "return a model that holds parameters"
        )
    return model, main


def _progress(total: int, enabled: bool | None, description: str):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=description, unit="round", leave=False)


def train_distributed(
    model_factory: Callable[[], Any],
    shards: Sequence[tuple[Any, Any]],
    strategy: str = "gradients",
    rounds: int = 10,
    mode: str = "sync",
    backend: Any = "inline",
    merger: Any = None,
    server_optimizer: Any = None,
    random_state: int | None = None,
    *,
    local_iterations: int | None = None,
    eval_data: tuple[Any, Any] | None = None,
    min_children: int | None = None,
    round_timeout: float | None = None,
    max_staleness: int | None = None,
    staleness: Any = None,
    buffer_size: int = 1,
    max_norm: float | None = None,
    progress: bool | None = None,
    callback: Callable[[RoundRecord], None] | None = None,
    backend_options: dict[str, Any] | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 1,
    resume_from: str | None = None,
) -> TrainingResult:
    """Train a main model from children that each hold one shard.

    Parameters
    ----------
    model_factory : callable
        Zero-argument callable returning a new child model (e.g. ``lambda:
        LogisticRegression(learning_rate=0.5)``).
    shards : list of (X, y)
        One shard per child (see :mod:`datapredict.datasets` for splits).
    strategy : {"gradients", "model_parameters"}, default="gradients"
        Children push one step (:class:`DistributedGradients`) or their parameters after
        ``local_iterations`` steps (:class:`DistributedModelParameters`).
    rounds : int, default=10
        Rounds; every child works once per round (async: K pushes make a round).
    mode : {"sync", "async"}, default="sync"
        Sync waits for every child (or ``min_children`` within ``round_timeout``) and
        combines pushes in child order; async applies each push as it arrives.
    backend : {"inline", "threads", "ray"} or backend object, default="inline"
    merger : str, merge rule or ModelParametersMerger, optional
        How pushes are combined: default "average".
    server_optimizer : str or server optimizer, optional
        E.g. "fedadam" or ``FedAvgM(momentum=0.9)``; default replaces main by the merge.
    random_state : int, optional
        Seeds the main parameters and every child; same seed, same result on every
        backend in sync mode.
    local_iterations : int, optional
        Child iterations per round for "model_parameters" (default 10); "gradients"
        always takes one step.
    eval_data : (X, y), optional
        Scored with the main model after each round (``history["metric"]``).
    min_children, round_timeout : optional
        Sync quorum: a round closes once ``min_children`` pushed and ``round_timeout``
        seconds passed; later pushes are dropped and counted.
    max_staleness : int, optional
        Async: drop pushes computed from parameters more than this many updates old.
    staleness, buffer_size, max_norm
        Gradients strategy: staleness weight, FedBuff buffer and step clipping
        (see :class:`DistributedGradients`).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    callback : callable, optional
        Called with each :class:`RoundRecord`.
    backend_options : dict, optional
        Passed to the backend (Ray: ``address``, ``num_cpus``, ``num_gpus``).
    checkpoint_dir : path, optional
        Save the coordinator's state (main parameters, version, server optimizer state,
        last push ids, round) atomically there every ``checkpoint_every`` updates.
    resume_from : path, optional
        Continue a job from the checkpoint in this directory: rounds already done are
        not repeated, and pushes already applied are not applied again.

    Returns
    -------
    TrainingResult
        ``.main_parameters``, ``.model`` (a model holding them), ``.history``.
    """
    strategy = check_choice(_OWNER, "strategy", strategy, ("gradients", "model_parameters"))
    mode = check_choice(_OWNER, "mode", mode, ("sync", "async"))
    rounds = check_int(_OWNER, "rounds", rounds, minimum=1)
    if not callable(model_factory):
        raise option_error(_OWNER, "model_factory", "a zero-argument callable", model_factory)
    shards = _check_shards(shards)
    if local_iterations is None:
        local_iterations = 1 if strategy == "gradients" else 10
    local_iterations = check_int(_OWNER, "local_iterations", local_iterations, minimum=1)
    if strategy == "gradients":
        local_iterations = 1
    n_children = len(shards)
    quorum = (
        n_children
        if min_children is None
        else check_int(_OWNER, "min_children", min_children, minimum=1)
    )
    if quorum > n_children:
        raise option_error(_OWNER, "min_children", f"an integer in [1, {n_children}]", min_children)

    labels = np.concatenate([y for _, y in shards])
    n_features = shards[0][0].shape[1]
    main_seed, *child_seeds = np.random.SeedSequence(random_state).spawn(n_children + 1)
    main_model, main = _initial_main(model_factory, n_features, labels, main_seed)
    layout = Layout.from_template(main)
    make_coordinator = partial(
        _make_coordinator,
        strategy,
        mode,
        n_children,
        merger,
        server_optimizer,
        staleness,
        max_staleness,
        buffer_size,
        max_norm,
    )
    make_coordinator()  # validates every coordinator option before anything starts
    checkpoint_every = check_int(_OWNER, "checkpoint_every", checkpoint_every, minimum=1)
    specs = [
        ChildSpec(
            i, model_factory, X, y, strategy, local_iterations, child_seeds[i], n_features, labels
        )
        for i, (X, y) in enumerate(shards)
    ]
    backend_impl = _make_backend(backend, backend_options or {})
    started = time.perf_counter()
    bar = _progress(rounds, progress, f"{strategy} ({mode})")
    backend_impl.start(specs, layout)
    host = None
    try:
        checkpointer = Checkpointer(checkpoint_dir, checkpoint_every)
        host = _host(backend_impl, make_coordinator, layout.flatten(main), layout, checkpointer)
        loop = _Loop(host, backend_impl, main_model, eval_data, callback)
        if resume_from is not None:
            loop.resume(resume_from)
        if mode == "sync":
            loop.run_sync(rounds, n_children, quorum, round_timeout, bar)
        else:
            loop.run_async(
                rounds, n_children, max_staleness if strategy == "model_parameters" else None, bar
            )
        final, version = host.parameters()
    finally:
        if host is not None:
            host.close()
        backend_impl.close()
        if bar is not None:
            bar.close()
    main_model.set_model_parameters(final)
    return TrainingResult(final, main_model, loop.history, version, time.perf_counter() - started)


def _make_coordinator(
    strategy,
    mode,
    n_children,
    merger,
    server_optimizer,
    staleness,
    max_staleness,
    buffer_size,
    max_norm,
):
    if strategy == "gradients":
        rule = "average" if merger is None else merger
        if isinstance(rule, ModelParametersMerger):
            raise option_error(
                _OWNER, "merger", "a merge rule or its name for strategy='gradients'", rule
            )
        if mode == "sync":
            return DistributedGradients(
                aggregation="sync",
                num_children=n_children,
                merge_type=rule,
                max_norm=max_norm,
                server_optimizer=server_optimizer,
            )
        return DistributedGradients(
            aggregation="async",
            staleness=staleness,
            max_staleness=max_staleness,
            buffer_size=buffer_size,
            max_norm=max_norm,
            server_optimizer=server_optimizer,
        )
    if not isinstance(merger, ModelParametersMerger):
        merger = ModelParametersMerger(merge_type="average" if merger is None else merger)
    return DistributedModelParameters(n_children, merger, server_optimizer=server_optimizer)


def _host(backend, make_coordinator, main, layout, checkpointer):
    """Where the coordinator runs: the backend decides (Ray: an actor), else this process."""
    host = getattr(backend, "host_coordinator", None)
    if host is not None:
        return host(make_coordinator, main, layout, checkpointer)
    return LocalCoordinator(make_coordinator, main, layout, checkpointer)


class _Loop:
    """The runner's loop, the same for every backend and wherever the coordinator runs."""

    def __init__(self, host, backend, main_model, eval_data, callback) -> None:
        self.host, self.backend = host, backend
        self.main_model, self.eval_data, self.callback = main_model, eval_data, callback
        self.history = History()
        self.dead: set[int] = set()
        self._dropped_before = 0
        self.first_round = 0
        self.next_seq = 0
        self.in_flight: dict[int, int] = {}

    def resume(self, directory: str) -> None:
        """Load a checkpoint into the coordinator and continue from its round."""
        position = self.host.resume(directory)
        self.first_round, self.next_seq = position["round"], position["next_seq"]
        self._dropped_before = self.host.dropped_stale()
        logger.info("resumed from %s at round %d", directory, self.first_round)

    def _submit(self, child: int, handle: Any) -> None:
        """Send work to ``child``; its push will carry the id ``(child, seq)``."""
        self.in_flight[child] = self.next_seq
        self.next_seq += 1
        self.backend.submit(child, handle)

    def _position(self, next_round: int) -> dict[str, int]:
        return {"round": next_round, "next_seq": self.next_seq}

    def _record(self, index, results, dropped, failures, staleness, seconds, version=None) -> None:
        ok = [r for r in results if r.error is None]
        samples = np.array([r.n_samples for r in ok], dtype=float)
        cost = float(np.dot(samples, [r.cost for r in ok]) / samples.sum()) if ok else float("nan")
        metric = None
        if version is None:
            version = self.host.version
        if self.eval_data is not None:
            main, version = self.host.parameters()
            self.main_model.set_model_parameters(main)
            metric = float(self.main_model.score(*self.eval_data))
        record = RoundRecord(
            round=index,
            version=version,
            cost=cost,
            metric=metric,
            seconds=seconds,
            pushes=len(ok),
            dropped=dropped,
            failures=failures,
            staleness_mean=float(np.mean(staleness)) if staleness else 0.0,
            staleness_max=int(max(staleness)) if staleness else 0,
        )
        self.history.append(record)
        if self.callback is not None:
            self.callback(record)

    def _failed(self, result: ChildResult, failures: list[str]) -> None:
        self.dead.add(result.child)
        failures.append(f"child {result.child}: {result.error}")
        logger.warning("child %d failed and leaves the job: %s", result.child, result.error)

    def _alive(self, n_children: int) -> list[int]:
        alive = [i for i in range(n_children) if i not in self.dead]
        if not alive:
            raise ChildFailureError("every child failed; see the history's failures")
        return alive

    def run_sync(self, rounds, n_children, quorum, round_timeout, bar) -> None:
        busy: set[int] = set()
        for index in range(self.first_round, rounds):
            started = time.perf_counter()
            main, version = self.host.main()
            handle = self.backend.broadcast(main, version)
            targets = [c for c in self._alive(n_children) if c not in busy]
            for child in targets:
                self._submit(child, handle)
            busy.update(targets)
            results, failures, late = self._collect(
                version, busy, len(targets), min(quorum, len(targets)), round_timeout
            )
            push_ids = [(r.child, self.in_flight[r.child]) for r in results]
            self.host.push_round(results, push_ids, self._position(index + 1))  # child order
            dropped = late + len(targets) - len(results) - len(failures)
            self._record(index, results, dropped, failures, [], time.perf_counter() - started)
            if bar is not None:
                bar.update()

    def _collect(self, version, busy, expected, quorum, round_timeout):
        """Gather this round's results until all came, or the quorum and the deadline."""
        deadline = None if round_timeout is None else time.perf_counter() + round_timeout
        results, failures, late, received = [], [], 0, 0
        while received < expected:
            remaining = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if remaining == 0.0 and len(results) >= quorum:
                break
            for result in self.backend.wait(remaining if len(results) >= quorum else None):
                busy.discard(result.child)
                if result.version != version:
                    late += 1
                    continue
                received += 1
                if result.error is not None:
                    self._failed(result, failures)
                else:
                    results.append(result)
        return sorted(results, key=lambda r: r.child), failures, late

    def run_async(self, rounds, n_children, max_staleness, bar) -> None:
        if getattr(self.backend, "streams_async", False):
            self._run_async_streamed(rounds, n_children, max_staleness, bar)
            return
        budget = (rounds - self.first_round) * n_children
        main, version = self.host.main()
        handles = {version: self.backend.broadcast(main, version)}
        for child in self._alive(n_children):
            self._submit(child, handles[version])
        in_flight = submitted = n_children
        window, failures, staleness, dropped, index = [], [], [], 0, self.first_round
        started = time.perf_counter()
        while in_flight:
            for result in self.backend.wait(None):
                in_flight -= 1
                if result.error is not None:
                    self._failed(result, failures)
                    self._alive(n_children)
                    continue
                lag = self.host.version - result.version
                if max_staleness is not None and lag > max_staleness:
                    dropped += 1
                else:
                    push_id = (result.child, self.in_flight[result.child])
                    self.host.push(result, push_id, self._position(index))
                    staleness.append(lag)
                window.append(result)
                if submitted < budget:
                    main, version = self.host.main()
                    if version not in handles:
                        handles = {version: self.backend.broadcast(main, version)}
                    self._submit(result.child, handles[version])
                    in_flight += 1
                    submitted += 1
                if len(window) == n_children or in_flight == 0:
                    self._record_window(index, window, dropped, failures, staleness, started)
                    index += 1
                    window, failures, staleness, dropped = [], [], [], 0
                    started = time.perf_counter()
                    if bar is not None:
                        bar.update()
        if window or failures:  # the last failures came after the last full window
            self._record_window(index, window, dropped, failures, staleness, started)

    def _run_async_streamed(self, rounds, n_children, max_staleness, bar) -> None:
        """Async with children pushing straight to the coordinator (the backend's
        ``stream_async``): the driver only turns what arrived into the history."""
        budget = (rounds - self.first_round) * n_children
        window, failures, staleness, dropped, index = [], [], [], 0, self.first_round
        started, version = time.time(), None  # then the coordinator's clock (Arrival.received_at)
        events = self.backend.stream_async(
            self._alive(n_children),
            n_children,
            budget,
            self._position(self.first_round),
            max_staleness,
        )
        for arrivals, lost in events:
            for result in lost + [a.result for a in arrivals if a.result.error is not None]:
                self._failed(result, failures)
                self._alive(n_children)
            for arrival in arrivals:
                version = arrival.version
                if arrival.result.error is not None:
                    continue
                if arrival.dropped:
                    dropped += 1
                else:
                    staleness.append(arrival.lag)
                window.append(arrival.result)
                if len(window) == n_children:
                    seconds = arrival.received_at - started
                    self._record(index, window, dropped, failures, staleness, seconds, version)
                    index += 1
                    window, failures, staleness, dropped = [], [], [], 0
                    started = arrival.received_at
                    if bar is not None:
                        bar.update()
        if window or failures:
            seconds = max(0.0, time.time() - started)
            self._record(index, window, dropped, failures, staleness, seconds, version)

    def _record_window(self, index, window, dropped, failures, staleness, started) -> None:
        """Record an async round; on the gradients path the server counts stale drops."""
        stale = self.host.dropped_stale()
        if stale:
            dropped, self._dropped_before = stale - self._dropped_before, stale
        self._record(index, window, dropped, failures, staleness, time.perf_counter() - started)
