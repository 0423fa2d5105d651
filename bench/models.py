"""Benchmark: one full-batch training iteration of the linear models against bare numpy.

One iteration of ``LinearRegression`` or ``LogisticRegression`` on an (n, d) float64
problem must read ``X`` twice, in the two matrix products ``z = X @ w`` and
``g = X.T @ r``; everything else the model does (validating ``X`` and ``y``, encoding
labels, the loss, the step, the bookkeeping) is overhead on top of that bare numpy work.
This script times one iteration in two ways, each against the two bare products in
the same run, interleaved repeat by repeat so that a noisy host slows both alike; it
prints the medians and the median of the per-repeat ratios:

* a whole ``train`` call of one iteration, ``model.set_parameters(1); model.train(X, y)``,
  as the seed's children run it: it also validates ``X`` and ``y`` and encodes the
  labels, once per call;
* one iteration of a ``train`` call of ``--iterations`` (10), its time divided by that
  number, against as many bare iterations: the per-call work is shared out.

It then times ``model.cost_and_gradient`` (the products and the loss, nothing else) the
same way, to split the extra time of the one-iteration call between the loss and the
rest of ``train`` (validation, label encoding, the step).

Run::

    .venv/bin/python bench/models.py                  # 100,000 x 100, the target problem
    .venv/bin/python bench/models.py --rows 20000 --repeats 101

Target: ratio <= 1.30. The medians are of 51 repeats by default: on a shared host the
ratio of a single run still moves by a few hundredths from run to run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datapredict import LinearRegression, LogisticRegression

TARGET_RATIO = 1.30


@dataclass(frozen=True)
class Timing:
    """Median seconds of the model call and of the bare numpy work, and their ratio."""

    model: float
    bare: float
    ratio: float


def make_problem(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return standard-normal ``X`` (rows, features), a regression target and 0/1 labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    y = X @ rng.standard_normal(features) + 0.1 * rng.standard_normal(rows)
    labels = (y > 0).astype(np.int64)
    return X, y, labels


def bare_iterations(X: np.ndarray, iterations: int = 1, outputs: int = 1) -> Callable[[], None]:
    """The numpy work iterations cannot avoid: ``z = X @ w`` then ``g = X.T @ r``, each
    (``w`` of shape (n_features, outputs))."""
    w = np.full((X.shape[1], outputs), 0.01)

    def run() -> None:
        for _ in range(iterations):
            z = X @ w
            X.T @ z

    return run


def model_iterations(
    model, X: np.ndarray, y: np.ndarray, iterations: int = 1
) -> Callable[[], None]:
    """One ``train`` call of ``iterations`` full-batch iterations through the public interface."""

    def run() -> None:
        model.set_parameters(iterations)
        model.train(X, y)

    return run


def objective_iteration(model, X: np.ndarray, Y: np.ndarray) -> Callable[[], None]:
    """The model's loss and gradient alone (``cost_and_gradient``, public): the two
    products plus the loss; no validation, label encoding or step."""
    params = model.get_model_parameters()

    def run() -> None:
        model.cost_and_gradient(params, X, Y)

    return run


def _seconds(call: Callable[[], None]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def time_against_bare(
    model_call: Callable[[], None], bare_call: Callable[[], None], repeats: int, warmup: int
) -> Timing:
    """Time both calls alternately ``repeats`` times after ``warmup`` rounds of each."""
    for _ in range(warmup):
        model_call()
        bare_call()
    model_times, bare_times = np.empty(repeats), np.empty(repeats)
    for i in range(repeats):
        model_times[i] = _seconds(model_call)
        bare_times[i] = _seconds(bare_call)
    return Timing(
        model=float(np.median(model_times)),
        bare=float(np.median(bare_times)),
        ratio=float(np.median(model_times / bare_times)),
    )


def report(name: str, timing: Timing, iterations: int = 1, target: bool = True) -> str:
    """One line: time per iteration, bare time, ratio and whether it meets the target."""
    line = (
        f"  {name:<18s} one iteration {timing.model / iterations * 1e3:7.2f} ms   "
        f"bare numpy {timing.bare / iterations * 1e3:6.2f} ms   ratio {timing.ratio:.3f}"
    )
    if not target:
        return line
    verdict = "" if timing.ratio <= TARGET_RATIO else "   MISSED"
    return f"{line} (target <= {TARGET_RATIO:.2f}){verdict}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=51, help="timed repeats (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10, help="iterations of the long call")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y, labels = make_problem(args.rows, args.features, args.seed)
    print(
        f"{args.rows:,} x {args.features} float64 ({X.nbytes / 1e6:.0f} MB), numpy "
        f"{np.__version__}, median of {args.repeats} interleaved repeats"
    )
    problems = (
        (LinearRegression(random_state=args.seed), y),
        (LogisticRegression(random_state=args.seed), labels),
    )
    bare = bare_iterations(X)
    print("A train call of one iteration: set_parameters(1); train(X, y)")
    breakdown = []
    for model, target in problems:
        timing = time_against_bare(
            model_iterations(model, X, target), bare, args.repeats, args.warmup
        )
        print(report(type(model).__name__, timing))
        Y = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
        objective = time_against_bare(
            objective_iteration(model, X, Y), bare, args.repeats, args.warmup
        )
        breakdown.append((type(model).__name__, timing, objective))

    n = args.iterations
    print(f"One iteration of a train call of {n}: set_parameters({n}); train(X, y), time / {n}")
    bare_n = bare_iterations(X, n)
    for model, target in problems:
        timing = time_against_bare(
            model_iterations(model, X, target, n), bare_n, args.repeats, args.warmup
        )
        print(report(type(model).__name__, timing, n))

    classes = 10
    print(f"For information, no target: {classes} classes (softmax), a train call of one iteration")
    rng = np.random.default_rng(args.seed)
    labels = np.argmax(X @ rng.standard_normal((X.shape[1], classes)), axis=1)
    timing = time_against_bare(
        model_iterations(LogisticRegression(random_state=args.seed), X, labels),
        bare_iterations(X, outputs=classes),
        args.repeats,
        args.warmup,
    )
    print(report("LogisticRegression", timing, target=False))

    print("Where the time of the one-iteration call above the bare products goes:")
    for name, timing, objective in breakdown:
        loss = (objective.ratio - 1.0) * timing.bare
        rest = (timing.ratio - objective.ratio) * timing.bare
        print(
            f"  {name:<18s} loss and intercept (cost_and_gradient) {loss * 1e3:+.2f} ms, "
            f"validation, targets and step {rest * 1e3:+.2f} ms"
        )


if __name__ == "__main__":
    main()
