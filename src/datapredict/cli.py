"""datapredict demo: the main distributed-training job on a bundled real dataset.

It splits the data among children (IID and by a Dirichlet label split), trains the
main model with DistributedGradients and with DistributedModelParameters under each
merge type, and a centralised model as the reference, then prints a table of score and
time per strategy (and draws the cost per round with --plot).
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from datapredict._cli_args import check_children, check_privacy, parser
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.errors import DataPredictError
from datapredict.models import LinearRegression, LogisticRegression
from datapredict.privacy import DifferentialPrivacy
from datapredict.training import train_distributed

__all__ = ["main"]

SECURE = "fedavg+secagg"  # the merge column of the --secure-aggregation job
DP_CHILDREN = 500
"""Children of the private jobs' federation (at most one per training row)."""
DP_SAMPLED = 0.2
"""The fraction of them sampled each round."""
DP_LOCAL_ITERATIONS = 5
"""Each child's steps per round in the private jobs (and their non-private twins)."""


@dataclass
class Job:
    """One row of the demo's table."""

    split: str
    strategy: str
    merge: str
    optimizer: str
    score: float = float("nan")
    rounds: int = 0
    seconds: float = 0.0
    costs: list[float] = field(default_factory=list)
    bytes_per_round: float = float("nan")
    epsilon: float | None = None  # with differential privacy


def _progress(total: int, quiet: bool):
    if quiet:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="demo", unit="job")


def _classification_jobs(
    args, data, shards_by_split, X_val, y_val, X_test, y_test, bar, cluster=None
) -> list[Job]:
    classes = np.unique(data.y)
    iterations = args.local_iterations

    def factory():
        return LogisticRegression(learning_rate=0.5, classes=classes, max_iterations=iterations)

    merges = args.merge
    optimizers = args.server_optimizer or []
    jobs = []
    for split, shards in shards_by_split.items():
        runs = [("gradients", "average", "-")]
        runs += [("model_parameters", merge, "-") for merge in merges]
        runs += [("model_parameters", "fedavg", opt) for opt in optimizers]
        runs += [("model_parameters", SECURE, "-")] if args.secure_aggregation else []
        for strategy, merge, optimizer in runs:
            job = Job(split, strategy, merge, optimizer)
            merger = "fedavg" if merge == SECURE else merge
            if merge in ("weighted_average", "best"):
                merger = ModelParametersMerger(factory(), "classification", merge)
                merger.set_data(X_val, y_val)
            elif merge == "custom":
                merger = ModelParametersMerger(merge_type="custom")
                merger.set_custom_split_percentage_array([len(y) for _, y in shards])
            _train(
                job,
                factory,
                shards,
                args,
                (X_test, y_test),
                cluster,
                local_iterations=iterations,
                merger=merger,
                server_optimizer=None if optimizer == "-" else optimizer,
                secure_aggregation=merge == SECURE,
                compression=None if merge == SECURE else args.compress,
            )
            jobs.append(job)
            if bar is not None:
                bar.update()
    return jobs


def _train(job: Job, factory, shards, args, test, cluster, **options) -> None:
    """Train ``job`` with ``train_distributed(..., **options)``; fill in its row."""
    started = time.perf_counter()
    result = train_distributed(
        factory,
        shards,
        strategy=job.strategy,
        rounds=args.rounds,
        mode=args.mode,
        backend=args.backend if cluster is None else cluster,
        random_state=args.seed,
        progress=False,
        **options,
    )
    job.seconds = time.perf_counter() - started
    job.score = result.model.score(*test)
    job.epsilon = None if result.privacy is None else result.privacy.epsilon
    job.rounds, job.costs = len(result.history), list(result.history["cost"])
    job.bytes_per_round = float(np.mean(result.history["bytes_sent"]))


@dataclass(frozen=True)
class Federation:
    """The many small children the private jobs train on (and, for a fair comparison,
    the same jobs without privacy).

    Client-level DP hides each child's whole update: the noise on a round's mean has
    standard deviation z·C/m with m children a round, so it is small only when many
    children take part in each round.
    """

    children: int
    per_round: int
    noise_multiplier: float
    clip_norm: float
    delta: float

    @classmethod
    def plan(cls, args, n_rows: int) -> Federation:
        """:data:`DP_CHILDREN` children (at most one per row), :data:`DP_SAMPLED` of
        them a round, z calibrated once for ``--dp-epsilon`` after ``--rounds`` rounds."""
        from datapredict.privacy import calibrate_noise_multiplier

        children = min(DP_CHILDREN, n_rows)
        per_round = max(1, round(DP_SAMPLED * children))
        delta = 1e-5 if args.dp_delta is None else args.dp_delta
        z = calibrate_noise_multiplier(args.dp_epsilon, delta, children, per_round, args.rounds)
        clip = 1.0 if args.dp_clip is None else args.dp_clip
        return cls(children, per_round, z, clip, delta)

    @property
    def privacy(self) -> DifferentialPrivacy:
        """The private jobs' option."""
        return DifferentialPrivacy(
            clip_norm=self.clip_norm, noise_multiplier=self.noise_multiplier, delta=self.delta
        )

    def describe(self, epsilon: float, n_rows: int) -> str:
        """What the private jobs train on, and why (wrapped to 88 columns)."""
        return textwrap.fill(
            f"Differential privacy (ε = {epsilon:g}, δ = {self.delta:g}), rows {self.split}: "
            "client-level DP hides each child's whole update, so the noise on a round's "
            "mean is z·C/m with m children a round: it needs many children per round. "
            f"These jobs train on {self.children} children of ~{n_rows / self.children:.1f} "
            f"rows split from the same training data, {self.per_round} sampled per round, "
            f"{DP_LOCAL_ITERATIONS} local steps, clip norm C={self.clip_norm:g}, "
            f"z={self.noise_multiplier:.2f}; the rows without ε are the same federation "
            "without privacy.",
            width=88,
        )

    @property
    def split(self) -> str:
        """The split column of its jobs."""
        return f"iid×{self.children}"


def _private_jobs(args, X, y, test, classes, bar, cluster) -> tuple[list[Job], str]:
    """With ``--dp-epsilon``: each strategy's average on the :class:`Federation`,
    without privacy and with it; and the line that says what they train on."""
    from datapredict.datasets import split

    federation = Federation.plan(args, len(X))
    shards = split(X, y, federation.children, how="iid", random_state=args.seed)

    def factory():
        return LogisticRegression(
            learning_rate=0.5, classes=classes, max_iterations=DP_LOCAL_ITERATIONS
        )

    jobs = []
    for strategy in ("gradients", "model_parameters"):
        for privacy in (None, federation.privacy):
            job = Job(federation.split, strategy, "average", "-")
            _train(
                job,
                factory,
                shards,
                args,
                test,
                cluster,
                local_iterations=DP_LOCAL_ITERATIONS,
                children_per_round=federation.per_round,
                compression=args.compress,
                privacy=privacy,
            )
            jobs.append(job)
            if bar is not None:
                bar.update()
    return jobs, federation.describe(args.dp_epsilon, len(X))


def _centralised(args, X, y, X_test, y_test, classes) -> Job:
    job = Job("all data", "centralised", "-", "-")
    model = LogisticRegression(
        learning_rate=0.5,
        classes=classes,
        max_iterations=args.rounds * args.local_iterations,
        random_state=args.seed,
    )
    started = time.perf_counter()
    costs = model.train(X, y)
    job.seconds = time.perf_counter() - started
    job.score, job.rounds = model.score(X_test, y_test), args.rounds
    job.costs = list(costs[:: args.local_iterations])
    return job


def _regression_mean_jobs(args) -> tuple[list[Job], str]:
    """A small regression job: regression_mean reproduces the centralised least squares.

    Returns the table's jobs and its title. Diabetes has fewer rows than digits: with
    more ``--children`` than training rows, each child gets one row.
    """
    from datapredict.datasets import load_dataset, split, train_test_split

    data = load_dataset("diabetes")
    X, X_test, y, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=args.seed)
    children = min(args.children, len(X))
    shards = split(X, y, children, how="iid", random_state=args.seed)
    learning_rate = safe_learning_rate(shards)
    title = (
        "Regression on diabetes (test R²): regression_mean recovers the centralised fit\n"
        f"({children} children of ~{len(X) / children:.1f} rows; learning rate "
        f"{learning_rate:.3g}, a step under which no child diverges)"
    )
    jobs = []
    for merge in ("average", "regression_mean"):
        job = Job("iid", "model_parameters", merge, "-")
        merger = ModelParametersMerger(merge_type=merge)
        if merge == "regression_mean":
            merger.set_feature_matrix_array([Xi for Xi, _ in shards])
        started = time.perf_counter()
        result = train_distributed(
            lambda: LinearRegression(learning_rate=learning_rate),
            shards,
            strategy="model_parameters",
            rounds=5,
            merger=merger,
            random_state=args.seed,
            local_iterations=300,
            progress=False,
        )
        job.seconds, job.rounds = time.perf_counter() - started, 5
        job.bytes_per_round = float(np.mean(result.history["bytes_sent"]))
        job.score = result.model.score(X_test, y_test)
        jobs.append(job)
    reference = Job("all data", "least squares", "-", "-")
    A = np.column_stack([np.ones(len(X)), X])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    predicted = np.column_stack([np.ones(len(X_test)), X_test]) @ coef
    reference.score = 1.0 - np.sum((y_test - predicted) ** 2) / np.sum(
        (y_test - y_test.mean()) ** 2
    )
    return [reference, *jobs], title


def safe_learning_rate(shards: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """A gradient-descent step under which no child's least squares can diverge.

    A child's cost ``|X̃ w - y|² / (2 n)`` (X̃: X with its column of ones) has curvature
    at most ``L``, the largest eigenvalue of ``X̃ᵀ X̃ / n``; full-batch gradient descent
    on it converges for any step below ``2 / L`` and diverges above it along that
    eigenvector. Small shards have large ``L`` (with fewer rows than features, the
    trace, about the features' count, falls on few eigenvalues), so a step fit for five
    children diverges for fifty. Returns ``1 / max L`` over the children.
    """
    curvature = max(
        np.linalg.eigvalsh(A.T @ A / len(A))[-1]
        for A in (np.column_stack([np.ones(len(Xi)), Xi]) for Xi, _ in shards)
    )
    return float(1.0 / curvature)


def _connect_ray(address: str | None):
    """One Ray pool (and instance) for every job of the demo: its workers start once."""
    from datapredict.backends.ray import RayBackend

    return RayBackend(address=address).__enter__()


def _table(jobs: Sequence[Job], metric: str) -> str:
    header = ("split", "strategy", "merge", "server opt", metric, "rounds", "seconds")
    header += ("kB sent/round",)
    rows = [
        (
            j.split,
            j.strategy,
            j.merge,
            j.optimizer,
            f"{j.score:.4f}",
            str(j.rounds),
            f"{j.seconds:.2f}",
            "-" if np.isnan(j.bytes_per_round) else f"{j.bytes_per_round / 1e3:.1f}",
        )
        for j in jobs
    ]
    if any(j.epsilon is not None for j in jobs):  # differential privacy: each job's ε
        header += ("ε",)
        rows = [
            (*r, "-" if j.epsilon is None else f"{j.epsilon:.2f}")
            for r, j in zip(rows, jobs, strict=True)
        ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _plot(jobs: Sequence[Job], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [s for s in dict.fromkeys(j.split for j in jobs) if s != "all data"]
    figure, axes = plt.subplots(1, len(splits), figsize=(6.5 * len(splits), 4.5), squeeze=False)
    reference = [j for j in jobs if j.strategy == "centralised"]
    for axis, split in zip(axes[0], splits, strict=True):
        for job in [*reference, *(j for j in jobs if j.split == split)]:
            label = job.strategy if job.merge == "-" else f"{job.strategy}: {job.merge}"
            if job.optimizer != "-":
                label += f" + {job.optimizer}"
            if job.epsilon is not None:
                label += f", ε = {job.epsilon:.2f}"
            style = "k--" if job.strategy == "centralised" else "-"
            axis.plot(np.arange(len(job.costs)), job.costs, style, label=label, linewidth=1.3)
        axis.set(
            title=f"{split} split",
            xlabel="round",
            ylabel="training cost (cross-entropy)",
            yscale="log",
        )
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def demo(args: argparse.Namespace) -> int:
    """Run the demo and print its tables; returns the exit code."""
    from datapredict.datasets import load_dataset, split, train_test_split

    data = load_dataset(args.dataset)
    X, X_test, y, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=args.seed)
    X, X_val, y, y_val = train_test_split(X, y, test_size=0.15, random_state=args.seed)
    splits = ("iid", "dirichlet") if args.split == "both" else (args.split,)
    shards_by_split = {
        name: split(
            X,
            y,
            args.children,
            how=name,
            alpha=None if name == "iid" else args.alpha,
            random_state=args.seed,
        )
        for name in splits
    }
    n_private = 0 if args.dp_epsilon is None else 4
    n_jobs = n_private + len(splits) * (
        1 + len(args.merge) + len(args.server_optimizer or []) + args.secure_aggregation
    )
    print(
        f"datapredict demo: {args.dataset} ({len(X)} train / {len(X_test)} test rows, "
        f"{X.shape[1]} features), {args.children} children, {args.rounds} rounds, "
        f"backend={args.backend}, mode={args.mode}, compression={args.compress or 'none'}"
    )
    cluster = _connect_ray(args.address) if args.backend == "ray" else None
    bar = _progress(n_jobs, args.quiet)
    try:
        jobs = [_centralised(args, X, y, X_test, y_test, np.unique(data.y))]
        jobs += _classification_jobs(
            args, data, shards_by_split, X_val, y_val, X_test, y_test, bar, cluster
        )
        if args.dp_epsilon is not None:
            private, federation_note = _private_jobs(
                args, X, y, (X_test, y_test), np.unique(data.y), bar, cluster
            )
            jobs += private
    finally:
        if bar is not None:
            bar.close()
        if cluster is not None:
            cluster.close()
    print("\nClassification (test accuracy):")
    print(_table(jobs, "accuracy"))
    if args.dp_epsilon is not None:
        print(f"\n{federation_note}")
    regression, title = _regression_mean_jobs(args)
    print(f"\n{title}")
    print(_table(regression, "R²"))
    if args.plot:
        _plot(jobs, args.plot)
        print(f"\ncost per round drawn to {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``datapredict`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0, or 2 for an error of the job's options or data. Malformed
        options end the program through argparse (exit code 2) before any work.
    """
    top, demo_parser = parser()
    args = top.parse_args(argv)
    check_children(demo_parser, args)
    check_privacy(demo_parser, args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return demo(args)
    except DataPredictError as exc:
        print(f"datapredict: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
