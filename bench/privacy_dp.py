"""Benchmark DP-FedAvg's aggregation against plain FedAvg's (never run as a test).

Run: ``python bench/privacy_dp.py`` (``--quick`` for fewer repeats).

In the same run, on the same (K, P) float32 stack, at K = 100, P = 1e5 and K = 16,
P = 4e6:

- plain: the coordinator's ``Average`` merge rule (one BLAS ``weights @ rows``);
- dp: :class:`~datapredict.privacy.PrivateMean` ``aggregate`` on updates (the gradients
  strategy): clip factors from the norms folded into the weights of one
  ``weights @ rows``, and N(0, σ² I) noise of P values added;
- dp centred: the same on parameters around the main ones (model-parameters strategy:
  the sum over cache-sized blocks of ``rows - main``);
- and, to show where the time goes, the norms and the noise alone.

The DP subjects run as a job's releases do at a round's close: each call is the next
release; the updates' norms were taken as the pushes arrived (the coordinator computes
each push's when it copies it in, "norms (on arrival)" for the K of them), and the
noise was drawn in the background while the round's children trained
(:mod:`datapredict.privacy.prefetch`); the benchmark lets that draw finish, untimed,
before each timed release, as a round's training would. The release's CPU time in all
is its own plus the norms' plus the noise's ("noise (background)"); "clip + sum,
norms too" is the release without the arrival norms (and without noise).

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
from datapredict.privacy.prefetch import wait_for_prefetched

TARGET = 2.0


def _medians(subjects: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each subject, timed alternately after one warm-up each; the
    background noise draws are let finish, untimed, before each timing."""
    for run in subjects.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(repeat):
        for name, run in subjects.items():
            wait_for_prefetched()  # a round's children train meanwhile
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def _releases(private: PrivateMean, rows: np.ndarray, center=None) -> Callable[[], None]:
    """Each call: the job's next release at a round's close, as the coordinator makes
    it: the updates' norms were taken as the pushes arrived, the noise drawn in the
    background by the previous release."""
    state = [private.init()]
    norms = private.update_norms(rows, center)

    def release() -> None:
        state[0] = private.aggregate(rows, state[0], center, norms)[1]

    return release


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
    # Two jobs (their own seeds: their prefetched noise is their own).
    private, private_centred = (
        PrivateMean(clip_norm=0.05, noise_multiplier=1.0, per_round=K, seed=seed)
        for seed in np.random.SeedSequence(0).spawn(2)
    )
    average = Average()
    subjects = {
        "plain FedAvg (mean)": lambda: average(steps, None),
        "DP-FedAvg": _releases(private, steps),
        "DP-FedAvg centred": _releases(private_centred, rows, main),
        "  clip + sum, norms too": lambda: clipped_mean(steps, 0.05, K),
        "  norms (on arrival)": lambda: private.update_norms(steps),
        "  norms centred (arr.)": lambda: private.update_norms(rows, main),
        "  noise (background)": lambda: gaussian_noise(P, 1.0, 0, dtype),
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
