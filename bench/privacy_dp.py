"""Benchmark DP-FedAvg's aggregation against plain FedAvg's (never run as a test).

Run: ``python bench/privacy_dp.py`` (``--quick`` for fewer repeats).

In the same run, on the same (K, P) float32 stack, at K = 100, P = 1e5 and K = 16,
P = 4e6:

- plain: the coordinator's ``Average`` merge rule (one BLAS ``weights @ rows``);
- dp: :class:`~datapredict.privacy.PrivateMean` ``aggregate`` on updates (the gradients
  strategy): row norms, clip factors folded into the weights of one ``weights @ rows``,
  and N(0, σ² I) noise of P values;
- dp centred: the same on parameters around the main ones (model-parameters strategy:
  norms and sum over cache-sized blocks of ``rows - main``);
- and, to show where the time goes, dp without its noise (clip + sum only) and the
  noise alone.

Target (issue 15): dp at most 2x plain. Method: one warm-up, then the median of
``repeat`` timings of each subject, the subjects interleaved so host load hits all.
:func:`measure` returns the rows (for a combined ``bench/privacy.py``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from datapredict.merge import Average
from datapredict.privacy import PrivateMean, clipped_mean, gaussian_noise

TARGET = 2.0


def _medians(subjects: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each subject, timed alternately after one warm-up each."""
    for run in subjects.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(repeat):
        for name, run in subjects.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(K: int, P: int, dtype: type = np.float32, repeat: int = 7) -> list[dict]:
    """Time plain FedAvg and DP-FedAvg's aggregation on one (K, P) stack.

    Returns
    -------
    list of dict
        One row per subject: ``name``, ``K``, ``P``, ``dtype``, ``seconds`` (median) and
        ``ratio`` (its time over plain FedAvg's).
    """
    rng = np.random.default_rng(0)
    main = rng.standard_normal(P, dtype=dtype)
    rows = main + rng.standard_normal((K, P), dtype=dtype) * dtype(0.01)
    steps = rows - main
    private = PrivateMean(
        clip_norm=0.05, noise_multiplier=1.0, per_round=K, seed=np.random.SeedSequence(0)
    )
    state = private.init()
    average = Average()
    subjects = {
        "plain FedAvg (mean)": lambda: average(steps, None),
        "DP-FedAvg": lambda: private.aggregate(steps, state),
        "DP-FedAvg centred": lambda: private.aggregate(rows, state, main),
        "  clip + sum only": lambda: clipped_mean(steps, 0.05, K),
        "  noise only": lambda: gaussian_noise(P, 1.0, 0, dtype),
    }
    seconds = _medians(subjects, repeat)
    plain = seconds["plain FedAvg (mean)"]
    return [
        {
            "name": name,
            "K": K,
            "P": P,
            "dtype": np.dtype(dtype).name,
            "seconds": value,
            "ratio": value / plain,
        }
        for name, value in seconds.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    for K, P in ((100, 100_000), (16, 4_000_000)):
        for row in measure(K, P, np.float32, repeat):
            verdict = ""
            if row["name"].startswith("DP"):
                verdict = "ok" if row["ratio"] <= TARGET else "MISSED"
                verdict = f"(target <= {TARGET:g}x) {verdict}"
            print(
                f"K={K:<4} P={P / 1e6:g}M {row['dtype']}  {row['name']:<22} "
                f"{row['seconds'] * 1e3:9.2f} ms  {row['ratio']:5.2f}x {verdict}"
            )


if __name__ == "__main__":
    main()
