"""Benchmark the coordinators' hot paths against bare numpy (never run as a test).

Run: ``python bench/distributed.py`` (``--quick`` for a short run).

1. ``DistributedGradients.add_gradients`` (not started: each call validates the step,
   takes the lock and applies it) in calls per second, at P = 1e3 and P = 1e6 float64,
   against a bare ``w -= g`` loop. Targets: >= 0.15x (P=1e3, pure call overhead) and
   >= 0.6x (P=1e6, memory bound).
2. ``ModelParametersMerger("average").merge_stacked`` on a prebuilt (16, 4M) float32
   stack, in GB/s of input read, against a bare weighted sum ``w @ S``. Target >= 0.7x.

Method: one warm-up, then ``timeit.Timer.repeat``; the median of the repeats is reported.
Each baseline is timed interleaved with its subject (alternating repeats), so host load
hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

from datapredict.coordinators import DistributedGradients, ModelParametersMerger
from datapredict.parameters import Layout


def interleaved_medians(
    subject_timer: timeit.Timer, baseline_timer: timeit.Timer, number: int, repeat: int
) -> tuple[float, float]:
    """Median seconds per call of two timers, timed alternately after a warm-up."""
    subject_timer.timeit(max(1, number // 10))  # warm-up
    baseline_timer.timeit(max(1, number // 10))
    subject_times, baseline_times = [], []
    for _ in range(repeat):
        subject_times.append(subject_timer.timeit(number) / number)
        baseline_times.append(baseline_timer.timeit(number) / number)
    return statistics.median(subject_times), statistics.median(baseline_times)


def bench_add_gradients(size: int, label: str, target: float, number: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    server = DistributedGradients()
    server.set_model_parameters(rng.standard_normal(size))
    step = rng.standard_normal(size) * 1e-12  # keeps the values stable over many calls
    bare = rng.standard_normal(size)
    subject = timeit.Timer("add(g)", globals={"add": server.add_gradients, "g": step})
    # The bare loop is the statement ``w -= g`` itself (``w`` made local by the setup).
    baseline = timeit.Timer("w -= g", setup="w = W", globals={"W": bare, "g": step})
    t_subject, t_bare = interleaved_medians(subject, baseline, number, repeat)
    ratio = t_bare / t_subject
    verdict = "ok" if ratio >= target else "MISSED"
    print(
        f"add_gradients  P={label:<5} {1 / t_subject:>12,.0f} /s   "
        f"bare w -= g {1 / t_bare:>12,.0f} /s   ratio {ratio:.2f} (target >= {target}) {verdict}"
    )


def bench_merge(children: int, size: int, target: float, number: int, repeat: int) -> None:
    rng = np.random.default_rng(1)
    stacked = rng.standard_normal((children, size), dtype=np.float32)
    layout = Layout.from_template(np.zeros(size, dtype=np.float32))
    merger = ModelParametersMerger(merge_type="average")
    weights = np.full(children, 1.0 / children, dtype=np.float32)
    expected = weights @ stacked
    np.testing.assert_allclose(
        merger.merge_stacked(stacked, layout), expected, rtol=1e-5, atol=1e-6
    )

    subject = timeit.Timer(
        "merge(S, layout)", globals={"merge": merger.merge_stacked, "S": stacked, "layout": layout}
    )
    baseline = timeit.Timer("w @ S", globals={"w": weights, "S": stacked})
    t_subject, t_bare = interleaved_medians(subject, baseline, number, repeat)
    gigabytes = stacked.nbytes / 1e9
    ratio = t_bare / t_subject
    verdict = "ok" if ratio >= target else "MISSED"
    print(
        f"merge average  K={children} P={size / 1e6:g}M float32   {gigabytes / t_subject:6.1f} GB/s"
        f"   bare w @ S {gigabytes / t_bare:6.1f} GB/s   ratio {ratio:.2f} (target >= {target})"
        f" {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 5 if args.quick else 11
    bench_add_gradients(1_000, "1e3", 0.15, number=20_000, repeat=repeat)
    bench_add_gradients(1_000_000, "1e6", 0.6, number=100, repeat=repeat)
    bench_merge(16, 4_000_000, 0.7, number=5, repeat=repeat)


if __name__ == "__main__":
    main()
