"""Benchmark: the merge rules of ``datapredict.merge`` against bare numpy and Flower.

Sixteen children, four million float32 parameters each: a (16, 4M) stacked matrix
(256 MB) and per-child sample counts between 50 and 500. For every rule the script
prints the median time (``timeit`` repeats after one warm-up call), the input read rate
(GB/s of the stacked matrix), the ratio to the bare ``w @ S`` weighted sum (the
memory-bound floor), and, when ``flwr`` is installed, Flower's own function on the same
inputs (``flwr.server.strategy.aggregate``; ``results`` is ``[([row], n_k), ...]``), the
speed-up over it and whether the results agree. The three are timed interleaved, round
by round, so that a noisy host slows them alike.

Run::

    .venv/bin/python bench/merge.py           # K=16, P=4M: about a minute with Flower
    .venv/bin/python bench/merge.py --quick   # P=1e5 smoke test

Targets (speed-up over Flower): average and fedavg >= 5x; median and trimmed mean >= 2x;
krum (and multi-krum) >= 3x. Never run as a timed test.
"""

from __future__ import annotations

import argparse
import os
import platform
import timeit
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datapredict.merge import (
    Average,
    FedAvg,
    GeometricMedian,
    Krum,
    Median,
    MultiKrum,
    NormClip,
    TrimmedMean,
)

try:
    import flwr
    from flwr.server.strategy.aggregate import (
        aggregate,
        aggregate_krum,
        aggregate_median,
        aggregate_trimmed_avg,
    )
except ImportError:  # the bench extra is optional
    flwr = aggregate = aggregate_krum = aggregate_median = aggregate_trimmed_avg = None

K, F, BETA = 16, 3, 0.2


@dataclass
class Case:
    """One row of the table: our call, Flower's call (or None), the target speed-up."""

    label: str
    ours: Callable[[], np.ndarray]
    flower: Callable[[], np.ndarray] | None
    target: float | None
    repeats: int
    flower_repeats: int = 3
    same: bool = True  # whether the two compute the same thing


def measure(case: Case, bare: Callable[[], object]) -> tuple[float, float, float | None]:
    """Median seconds of our call, of the bare ``w @ S`` and of Flower's call.

    The three are interleaved round by round (one Flower call per round), so that a
    noisy host slows them alike; every function is called once first as a warm-up.
    """
    rounds = case.flower_repeats if case.flower else 1
    per_round = -(-case.repeats // rounds)
    calls = [case.ours, bare] + ([case.flower] if case.flower else [])
    for fn in calls:
        fn()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        times[0] += timeit.Timer(case.ours).repeat(per_round, number=1)
        times[1] += timeit.Timer(bare).repeat(per_round, number=1)
        if case.flower:
            times[2] += timeit.Timer(case.flower).repeat(1, number=1)
    medians = [float(np.median(t)) for t in times]
    return medians[0], medians[1], medians[2] if case.flower else None


def environment() -> str:
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i['version']} {i.get('architecture', '')} "
            f"{i['num_threads']} threads"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
    except ImportError:
        blas = "threadpoolctl not installed"
    env = {
        name: os.environ.get(name, "unset")
        for name in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"flwr {flwr.__version__ if flwr else 'not installed'}, {os.cpu_count()} CPUs\n"
        f"BLAS: {blas}; " + ", ".join(f"{k}={v}" for k, v in env.items())
    )


def cases(stacked: np.ndarray, counts: np.ndarray) -> list[Case]:
    results = [([row], int(n)) for row, n in zip(stacked, counts, strict=True)]
    max_norm = float(np.sqrt(stacked.shape[1]))  # about the rows' norm: clips about half
    keep = K - F

    def flower(fn, *args):
        return (lambda: fn(results, *args)[0]) if flwr else None

    return [
        Case("average", lambda: Average()(stacked), flower(aggregate), 5.0, 11, same=False),
        Case("fedavg", lambda: FedAvg()(stacked, counts), flower(aggregate), 5.0, 11),
        Case("median", lambda: Median()(stacked), flower(aggregate_median), 2.0, 7),
        Case(
            f"trimmed_mean({BETA})",
            lambda: TrimmedMean(BETA)(stacked),
            flower(aggregate_trimmed_avg, BETA),
            2.0,
            7,
        ),
        Case(f"krum(f={F})", lambda: Krum(F)(stacked), flower(aggregate_krum, F, 0), 3.0, 7),
        Case(
            f"multi_krum(f={F}, m={keep})",
            lambda: MultiKrum(F, keep)(stacked),
            flower(aggregate_krum, F, keep),
            3.0,
            7,
            same=False,  # Flower weights the kept rows by sample counts; the paper does not
        ),
        Case("geometric_median", lambda: GeometricMedian()(stacked), None, None, 7),
        Case("norm_clip(avg)", lambda: NormClip(max_norm)(stacked), None, None, 11),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="P = 1e5 instead of 4M")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_params = 100_000 if args.quick else 4_000_000

    rng = np.random.default_rng(args.seed)
    stacked = rng.standard_normal((K, n_params), dtype=np.float32)
    counts = rng.integers(50, 501, K)
    weights = (counts / counts.sum()).astype(np.float32)
    gigabytes = stacked.nbytes / 1e9  # input read per call

    print(environment())
    print(f"stacked: K={K}, P={n_params:,}, float32, {stacked.nbytes / 1e6:.0f} MB")
    print("x w@S: time over the bare w @ S (weights in float32) timed alongside each rule\n")

    header = (
        f"{'rule':<24}{'ms':>9}{'GB/s':>7}{'x w@S':>8}{'Flower ms':>11}{'speed-up':>10}"
        f"{'target':>8}  result vs Flower"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for case in cases(stacked, counts):
        seconds, bare, theirs = measure(case, lambda: weights @ stacked)
        row = f"{case.label:<24}{seconds * 1e3:>9.1f}{gigabytes / seconds:>7.2f}"
        row += f"{seconds / bare:>8.1f}"
        if theirs is None:
            print(row + f"{'-':>11}{'-':>10}{'-':>8}")
            continue
        speedup = theirs / seconds
        met = speedup >= case.target
        if not met:
            missed.append(case.label)
        if case.same:
            diff = float(np.max(np.abs(case.ours().astype(np.float64) - case.flower())))
            agree = f"max|diff| {diff:.1e}"
        else:
            agree = "differs by design"
        row += f"{theirs * 1e3:>11.1f}{speedup:>9.1f}x{case.target:>6.0f}x "
        print(row + f"{'ok' if met else 'MISS':>5}  {agree}")
    if flwr is None:
        print("\nflwr not installed: pip install flwr (the bench extra) to compare with Flower")
    else:
        print("\nall targets met" if not missed else f"\ntargets missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
