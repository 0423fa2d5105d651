"""``train_distributed``: one call for a whole distributed training job.

The runner owns the loop; a backend owns where children run; a coordinator owns the
main parameters. Sync mode is deterministic: the main parameters are initialised once
from ``random_state``, every child starts from them with its own seed from
``SeedSequence(random_state).spawn``, and pushes are combined in child order, so the
inline, threads and Ray backends give the same main parameters to the last bit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from datapredict._validation import check_choice, check_features, check_int, option_error
from datapredict.backends.base import ChildSpec
from datapredict.backends.coordinator import Checkpointer, LocalCoordinator
from datapredict.distributed.gradients import DistributedGradients
from datapredict.distributed.merger import ModelParametersMerger
from datapredict.distributed.model_parameters import DistributedModelParameters
from datapredict.errors import InvalidDataError, NotInitializedError
from datapredict.parameters import Layout
from datapredict.runner import History, RoundRecord, Runner

__all__ = ["History", "RoundRecord", "TrainingResult", "train_distributed"]

_OWNER = "train_distributed"


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
        loop = Runner(host, backend_impl, main_model, eval_data, callback)
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
