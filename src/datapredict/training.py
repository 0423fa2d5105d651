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
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from datapredict._validation import (
    check_choice,
    check_features,
    check_int,
    check_targets,
    option_error,
)
from datapredict.adapters._check import check_child
from datapredict.backends.base import JobSpec, Shards, SpawnedSeeds, check_backend
from datapredict.compression import resolve_compressor
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.coordinators.factory import CoordinatorFactory
from datapredict.coordinators.host import LocalCoordinator
from datapredict.errors import DataTypeError, InvalidDataError, NotInitializedError
from datapredict.models.protocol import accepts_random_state
from datapredict.options import Aggregation, AsyncPolicy, Checkpointing, Quorum
from datapredict.parameters import Layout
from datapredict.privacy.options import DifferentialPrivacy
from datapredict.privacy.plan import check_job, plan_privacy
from datapredict.results import RoundRecord, TrainingResult
from datapredict.runner import Runner
from datapredict.sampling import ChildSampler
from datapredict.secure.distributed_dp import check_distributed, with_distributed_noise
from datapredict.secure.options import SecureAggregation
from datapredict.secure.rounds import check_backend as check_secure_backend
from datapredict.secure.rounds import secure_job

__all__ = ["train_distributed"]

_OWNER = "train_distributed"
_MANY_CLASSES = 50  # float labels with more distinct values than this look continuous


def _check_shards(shards: Any, name: str = "shards") -> list[tuple[np.ndarray, np.ndarray]]:
    if not isinstance(shards, Sequence) or len(shards) == 0:
        raise InvalidDataError(
            f"{name} must be a non-empty list of (X, y) pairs; got {type(shards).__name__}"
        )
    checked = []
    for i, shard in enumerate(shards):
        where = name if name == "eval_data" else f"{name}[{i}]"
        if not (isinstance(shard, tuple | list) and len(shard) == 2):
            raise InvalidDataError(f"{where} must be an (X, y) pair; got {type(shard).__name__}")
        X = check_features(shard[0], f"{where}[0]")
        if shard[1] is None:
            raise InvalidDataError(f"{where}[1] (y) must be an array of targets; got None")
        y = np.asarray(shard[1])
        if y.ndim == 0:
            raise InvalidDataError(f"{where}[1] (y) must be an array of targets; got {y!r}")
        if y.shape[0] != X.shape[0]:
            raise InvalidDataError(f"{where}: X has {X.shape[0]} rows but y has {y.shape[0]}")
        checked.append((X, y))
    widths = {X.shape[1] for X, _ in checked}
    if len(widths) != 1:
        raise InvalidDataError(
            f"every shard must have the same number of features; got {sorted(widths)}"
        )
    return checked


def _make_backend(backend: Any):
    if not isinstance(backend, str):
        return check_backend(backend)
    name = check_choice(_OWNER, "backend", backend, ("inline", "threads", "ray"))
    if name == "inline":
        from datapredict.backends.inline import InlineBackend

        return InlineBackend()
    if name == "threads":
        from datapredict.backends.threads import ThreadsBackend

        return ThreadsBackend()
    from datapredict.backends.ray import RayBackend

    return RayBackend()


def _initial_main(
    model_factory: Callable[[], Any], strategy: str, shards: list, labels: np.ndarray, seed
) -> Any:
    """The main model (seeded from ``seed``) and its initial parameters; the factory's
    child is checked against the protocol and the shards' targets against its task.
    ``labels`` are the job's distinct targets (rows of them, for several outputs)."""
    n_features = shards[0][0].shape[1]
    model = model_factory()
    try:
        check_child(model, strategy)
    except DataTypeError as exc:
        raise DataTypeError(f"{_OWNER}: model_factory returned an unusable child: {exc}") from None
    _check_targets(model, shards, labels)
    if accepts_random_state(model):
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


def _check_targets(model: Any, shards: list, labels: np.ndarray) -> None:
    """Each shard's ``y`` suits the model's task (scikit-learn's ``_estimator_type``):
    finite numbers for a regressor, discrete labels (``labels``, distinct) for a
    classifier."""
    kind = getattr(model, "_estimator_type", None)
    task = {"classifier": "classification", "regressor": "regression"}.get(kind)
    if task is None:
        return
    for i, (_, y) in enumerate(shards):
        check_targets(y, f"shards[{i}][1]", task=task)
    rows = sum(len(y) for _, y in shards)
    if task == "classification" and labels.dtype.kind == "f":
        classes = labels.size
        if classes > _MANY_CLASSES and classes > 0.1 * rows:
            warnings.warn(
                f"train_distributed: the classifier's targets are floats with {classes} "
                f"distinct values among {rows} rows, so it builds a {classes}-class "
                "model; if y is a continuous quantity, use a regressor (LinearRegression, "
                "NeuralNetwork(task='regression'))",
                UserWarning,
                stacklevel=3,
            )


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
    aggregation: Aggregation | None = None,
    asynchrony: AsyncPolicy | None = None,
    quorum: Quorum | None = None,
    checkpoint: Checkpointing | str | None = None,
    children_per_round: int | float | None = None,
    progress: bool | None = None,
    callback: Callable[[RoundRecord], None] | None = None,
    secure_aggregation: SecureAggregation | bool | None = None,
    compression: Any = None,
    privacy: DifferentialPrivacy | None = None,
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
        Rounds; every child (or each round's sample) works once per round (async: that
        many pushes make a round).
    mode : {"sync", "async"}, default="sync"
        Sync waits for every child (or a ``quorum``) and combines pushes in child order;
        async applies each push as it arrives.
    backend : {"inline", "threads", "ray"} or backend object, default="inline"
        Where children run; a backend object for options, e.g.
        ``RayBackend(num_workers=2)``. Inside ``with RayBackend() as backend:`` the
        same workers serve every job (they start once); otherwise they stop with the job.
    merger : str, merge rule or ModelParametersMerger, optional
        Shortcut for ``Aggregation(merger=...)``: default "average".
    server_optimizer : str or server optimizer, optional
        Shortcut for ``Aggregation(server_optimizer=...)``, e.g. "fedadam".
    random_state : int, optional
        Seeds the main parameters and every child; same seed, same result on every
        backend in sync mode.
    local_iterations : int, optional
        Child iterations per round for "model_parameters" (default 10); "gradients"
        always takes one step.
    eval_data : (X, y), optional
        Scored with the main model after each round (``history["metric"]``).
    aggregation : Aggregation, optional
        Merge rule, server optimizer and clipping together (see :class:`Aggregation`).
    asynchrony : AsyncPolicy, optional
        Async mode: staleness bound, staleness weights, FedBuff buffer.
    quorum : Quorum, optional
        Sync mode: close a round on ``min_children`` after ``round_timeout`` seconds.
    checkpoint : Checkpointing or path, optional
        Save the coordinator's state atomically (a path: there, after every update), and
        resume from a saved job (``Checkpointing(path, resume_from=path)``).
    children_per_round : int or float, optional
        Client sampling: each round trains this many children (a count, or a fraction
        in (0, 1] of them), drawn uniformly without replacement from ``random_state``
        and the round's index (a resumed job draws the same). Default: every child.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    callback : callable, optional
        Called with each :class:`RoundRecord`.
    secure_aggregation : SecureAggregation or bool, optional
        Hide each child's update from the server (SecAgg+; ``True``: the defaults): sync
        mode and an averaging merge ("average", "fedavg") only. A round with more
        dropouts than the threshold allows is recorded as failed and not applied. See
        :class:`~datapredict.secure.options.SecureAggregation`.
    compression : {"int8", "int4", "topk:<fraction>"} or compressor, optional
        Compress what each child sends (:mod:`datapredict.compression`): unbiased
        stochastic quantisation to 8 or 4 bits, or the top fraction of values with
        error feedback kept on the child; "model_parameters" children send their update
        from the main parameters. ``history["bytes_sent"]`` counts the bytes per round.
    privacy : DifferentialPrivacy, optional
        Client-level differential privacy (DP-FedAvg): each child's update is clipped,
        averaged over the children per round and noised; ε after every round is in
        ``history["epsilon"]`` and the total in ``result.privacy`` (needs the
        ``privacy`` extra). Sync mode and the average merge only. With
        ``secure_aggregation`` the children clip and add the noise themselves before
        masking (distributed DP, the same ε; see
        :mod:`~datapredict.secure.distributed_dp`).

    Returns
    -------
    TrainingResult
        ``.main_parameters``, ``.model`` (a model holding them), ``.history``.

    Examples
    --------
    >>> import datapredict as dp
    >>> from datapredict.datasets import load_dataset, split
    >>> data = load_dataset("diabetes")
    >>> shards = split(data.X, data.y, 3, random_state=0)
    >>> result = dp.train_distributed(
    ...     lambda: dp.LinearRegression(learning_rate=0.5),
    ...     shards, strategy="model_parameters", rounds=3, merger="median", random_state=0,
    ... )
    >>> len(result.history), result.history[-1].children
    (3, [0, 1, 2])
    """
    job = _check_job(
        model_factory, shards, strategy, rounds, mode, random_state, callback, eval_data
    )
    strategy, mode, rounds, shards = job
    aggregation = _aggregation(aggregation, merger, server_optimizer)
    asynchrony = _checked(asynchrony, AsyncPolicy, "asynchrony") or AsyncPolicy()
    quorum = _checked(quorum, Quorum, "quorum")
    checkpoint = Checkpointing.of(checkpoint)
    local_iterations = _local_iterations(strategy, local_iterations)
    compressor = resolve_compressor(compression)
    seeds = _JobSeeds.of(random_state, len(shards))
    sampler = ChildSampler(len(shards), children_per_round, seeds.sampler)
    min_children = _min_children(sampler, quorum)
    secure, private_mean, budget = _protections(
        privacy, secure_aggregation, compressor, compression, strategy, mode, rounds,
        aggregation, sampler, min_children, seeds, shards,
    )  # fmt: skip
    make_coordinator = CoordinatorFactory(
        strategy, mode, sampler.per_round, aggregation, asynchrony, secure, private_mean
    )
    make_coordinator()  # validates the combination of options before anything starts
    backend_impl = _make_backend(backend)
    if secure is not None:
        check_secure_backend(backend_impl)
    main_model, main, spec = _job_spec(
        model_factory, strategy, shards, local_iterations, compressor, seeds.main
    )
    layout = spec.layout
    started = time.perf_counter()
    bar = _progress(rounds, progress, f"{strategy} ({mode})")
    host = None
    try:
        backend_impl.open(spec, Shards.of(shards, seeds.children))
        checkpointer = Checkpointer(
            None if checkpoint is None else checkpoint.directory,
            1 if checkpoint is None else checkpoint.every,
        )
        host = _host(backend_impl, make_coordinator, layout.flatten(main), layout, checkpointer)
        loop = Runner(host, backend_impl, sampler, main_model, eval_data, callback, budget)
        if checkpoint is not None and checkpoint.resume_from is not None:
            loop.resume(checkpoint.resume_from)
        if mode == "sync":
            timeout = None if quorum is None else quorum.round_timeout
            loop.run_sync(rounds, min_children, timeout, bar)
        else:
            bound = asynchrony.max_staleness if strategy == "model_parameters" else None
            loop.run_async(rounds, bound, bar)
        final, version = host.parameters()
    finally:
        if host is not None:
            host.close()
        backend_impl.release()
        if bar is not None:
            bar.close()
    main_model.set_model_parameters(final)
    report = None if budget is None else budget.report()
    seconds = time.perf_counter() - started
    return TrainingResult(final, main_model, loop.history, version, seconds, report)


def _job_spec(model_factory, strategy, shards, local_iterations, compressor, seed):
    """The main model, its initial parameters and what every worker needs. Every class
    (or, for several outputs, every distinct target row) of the job is found once: the
    main model and every worker initialise from it."""
    targets = np.concatenate([y for _, y in shards])
    labels = np.unique(targets, axis=0) if targets.ndim > 1 else np.unique(targets)
    main_model, main = _initial_main(model_factory, strategy, shards, labels, seed)
    n_features = shards[0][0].shape[1]
    layout = Layout.from_template(main)
    spec = JobSpec(
        model_factory, strategy, local_iterations, n_features, labels, layout, compressor
    )
    return main_model, main, spec


class _JobSeeds(NamedTuple):
    """A job's seeds: children 0, 1..N, N+1, N+2 and N+3 of ``SeedSequence(random_state)``
    (the same seeds as its ``spawn(N + 4)``, made on demand): the main model's, each
    child's, the sampler's, the secure rounds' graph's and the privacy noise's."""

    main: np.random.SeedSequence
    children: SpawnedSeeds
    sampler: np.random.SeedSequence
    graph: np.random.SeedSequence
    noise: np.random.SeedSequence

    @classmethod
    def of(cls, random_state: int | None, n: int) -> _JobSeeds:
        root = np.random.SeedSequence(random_state)
        seeds = SpawnedSeeds.of(root, start=0, count=n + 4)
        children = SpawnedSeeds.of(root, start=1, count=n)
        return cls(seeds[0], children, seeds[n + 1], seeds[n + 2], seeds[n + 3])


def _min_children(sampler: ChildSampler, quorum: Quorum | None) -> int:
    """The pushes a sync round needs: every sampled child's, or the quorum's."""
    min_children = sampler.per_round if quorum is None else quorum.min_children
    if min_children > sampler.per_round:
        expected = f"an integer in [1, {sampler.per_round}] (children per round)"
        raise option_error("Quorum", "min_children", expected, min_children)
    return min_children


def _protections(
    privacy, secure_aggregation, compressor, compression, strategy, mode, rounds,
    aggregation, sampler, min_children, seeds, shards,
):  # fmt: skip
    """The job's secure aggregation, central private step and privacy budget, checked
    together: with both, the children clip and add the noise, the server averages."""
    secure = secure_job(
        secure_aggregation,
        strategy=strategy,
        mode=mode,
        merger=aggregation.merger,
        max_norm=aggregation.max_norm,
        per_round=sampler.per_round,
        seeds=seeds.children,
        graph_seed=seeds.graph,
        sample_counts=[len(y) for _, y in shards],
    )
    if secure is not None and compressor is not None:  # masked values are uniform
        raise option_error(_OWNER, "compression", "None with secure_aggregation", compression)
    if privacy is None:
        return secure, None, None
    check_job(privacy, mode, aggregation)
    if secure is not None:
        check_distributed(privacy, secure.option)
    private_mean, budget = plan_privacy(
        privacy, n_children=len(shards), per_round=sampler.per_round, rounds=rounds,
        seed=seeds.noise,
    )  # fmt: skip
    if secure is not None:
        return with_distributed_noise(secure, private_mean, min_children), None, budget
    return secure, private_mean, budget


def _check_job(model_factory, shards, strategy, rounds, mode, random_state, callback, eval_data):
    """Validate the job's plain arguments before any work; return the checked ones."""
    strategy = check_choice(_OWNER, "strategy", strategy, ("gradients", "model_parameters"))
    mode = check_choice(_OWNER, "mode", mode, ("sync", "async"))
    rounds = check_int(_OWNER, "rounds", rounds, minimum=1)
    if not callable(model_factory):
        raise option_error(_OWNER, "model_factory", "a zero-argument callable", model_factory)
    if random_state is not None:
        check_int(_OWNER, "random_state", random_state, minimum=0)
    if callback is not None and not callable(callback):
        raise option_error(_OWNER, "callback", "a callable taking a RoundRecord", callback)
    if eval_data is not None:
        if not (isinstance(eval_data, tuple | list) and len(eval_data) == 2):
            raise option_error(_OWNER, "eval_data", "an (X, y) pair", eval_data)
        _check_shards([eval_data], "eval_data")
    return strategy, mode, rounds, _check_shards(shards)


def _aggregation(aggregation: Any, merger: Any, server_optimizer: Any) -> Aggregation:
    """The job's :class:`Aggregation`, from the object or the two shortcuts (not both)."""
    if aggregation is None:
        return Aggregation(merger=merger, server_optimizer=server_optimizer)
    if merger is not None or server_optimizer is not None:
        raise option_error(
            _OWNER,
            "aggregation",
            "given alone (merger= and server_optimizer= are its shortcuts)",
            aggregation,
        )
    return _checked(aggregation, Aggregation, "aggregation")


def _checked(value: Any, kind: type, name: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise option_error(_OWNER, name, f"None or a {kind.__name__}", value)
    return value


def _local_iterations(strategy: str, local_iterations: Any) -> int:
    if local_iterations is None:
        return 1 if strategy == "gradients" else 10
    local_iterations = check_int(_OWNER, "local_iterations", local_iterations, minimum=1)
    return 1 if strategy == "gradients" else local_iterations


def _host(backend, make_coordinator, main, layout, checkpointer):
    """Where the coordinator runs: the backend decides (Ray: an actor), else this process."""
    if backend.hosts_coordinator:
        return backend.host_coordinator(make_coordinator, main, layout, checkpointer)
    return LocalCoordinator(make_coordinator, main, layout, checkpointer)
