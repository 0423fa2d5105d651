"""Benchmark: privacy and communication against plain FedAvg of the same stack, one run.

Issue 15's three measurements, each beside plain FedAvg (``datapredict.merge``'s mean of
the same (K, P) float32 stack) timed in the same run, at K = 100, P = 1e5 and
K = 16, P = 4e6:

- **differential privacy** (``bench/privacy_dp.py``): DP-FedAvg's aggregation (row
  norms, clip factors folded into one weighted sum, Gaussian noise), on updates and on
  parameters around the main ones; target: at most 2x plain FedAvg;
- **secure aggregation** (``bench/privacy_secagg.py``): one child's masking and the
  server's unmasking, and a sweep over K (16 to 128 at P = 1e5) whose fitted log-log
  slope shows how the server's cost grows; target: O(K log K P) or better, that is a
  slope at most that of K log K over the same K (1.27);
- **compression** (``bench/privacy_compression.py``): int8, int4 and topk:0.01 encode and
  decode throughput on one core and bytes per push; target: at least 1 GB/s of input.

Run::

    PYTHONPATH=src .venv/bin/python bench/privacy.py           # everything (~2 minutes)
    PYTHONPATH=src .venv/bin/python bench/privacy.py --quick   # small sizes, a smoke test

Each part also runs alone (``python bench/privacy_dp.py`` ...) with more detail. Never
run as a timed test: the machine's other load moves absolute figures, so read the
ratios, measured in one run.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import privacy_compression
import privacy_dp
import privacy_secagg

DP_TARGET = 2.0
GBPS_TARGET = 1.0
SWEEP = (16, 32, 64, 128)


def k_log_k_slope(Ks: tuple[int, ...]) -> float:
    """The log-log slope of K log K over ``Ks`` (the secure-aggregation target)."""
    K = np.asarray(Ks, dtype=float)
    return float(np.polyfit(np.log(K), np.log(K * np.log(K)), 1)[0])


def dp_part(sizes, repeat: int) -> list[str]:
    """DP-FedAvg's aggregation against plain FedAvg; the target's verdict lines."""
    print("== differential privacy: DP-FedAvg aggregation against plain FedAvg")
    verdicts = []
    for K, P in sizes:
        for row in privacy_dp.measure(K, P, np.float32, repeat):
            print(
                f"K={K:<4} P={P:<9.0e} {row['name']:<22} {row['seconds'] * 1e3:9.2f} ms"
                f"  {row['ratio']:5.2f}x plain"
            )
            if row["name"].startswith("DP"):
                ok = "ok" if row["ratio"] <= DP_TARGET else "MISSED"
                verdicts.append(
                    f"{row['name']} K={K} P={P:.0e}: {row['ratio']:.2f}x plain "
                    f"(target <= {DP_TARGET:g}x) {ok}"
                )
    return verdicts


def secagg_part(sizes, Ks, sweep_P: int, repeat: int) -> list[str]:
    """Masking and unmasking beside plain FedAvg, and the server's growth with K."""
    print("\n== secure aggregation (SecAgg+): masking and unmasking against plain FedAvg")
    rows = [row for K, P in sizes for row in privacy_secagg.measure(K, P, repeat=repeat)]
    privacy_secagg._print(rows)
    verdicts = []
    reference = k_log_k_slope(Ks)
    for dropout in (0.0, 0.1):
        print()
        slope = privacy_secagg.sweep(list(Ks), sweep_P, repeat, dropout)
        ok = "ok" if slope <= reference else "MISSED"
        verdicts.append(
            f"secure aggregation, server unmask ~ K^{slope:.2f} at {dropout:.0%} dropouts "
            f"(target <= K log K: K^{reference:.2f}) {ok}"
        )
    return verdicts


def compression_part(sizes, repeat: int) -> list[str]:
    """Compression throughput on one core and bytes per push."""
    print("\n== compression: one core, GB/s of float32 input")
    limits = privacy_compression._one_thread()
    try:
        rows = [r for K, P in sizes for r in privacy_compression.measure(K, P, np.float32, repeat)]
    finally:
        if limits is not None:
            limits.restore_original_limits()
    print(privacy_compression.table(rows))
    verdicts = []
    for r in rows:
        worst = min(r["encode_gbps"], r["decode_gbps"])
        ok = "ok" if worst >= GBPS_TARGET else "MISSED"
        verdicts.append(
            f"compression {r['compressor']} P={r['P']:.0e}: encode {r['encode_gbps']:.2f}, "
            f"decode {r['decode_gbps']:.2f} GB/s, {r['bytes_per_push']:,} bytes per push "
            f"(target >= {GBPS_TARGET:g} GB/s) {ok}"
        )
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}; "
        f"{os.cpu_count()} CPUs (load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    sizes = [(20, 10**3), (8, 10**4)] if args.quick else [(100, 10**5), (16, 4 * 10**6)]
    Ks, sweep_P = ((8, 16, 32), 10**3) if args.quick else (SWEEP, 10**5)
    verdicts = dp_part(sizes, 3 if args.quick else 7)
    verdicts += secagg_part(sizes, Ks, sweep_P, 3)
    verdicts += compression_part(sizes, 5 if args.quick else 30)
    print("\nTargets")
    for line in verdicts:
        print("  " + line)


if __name__ == "__main__":
    main()
