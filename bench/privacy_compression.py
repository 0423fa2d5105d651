"""Benchmark: compressing a child's push (``datapredict.compression``) on one core.

For int8, int4 (unbiased stochastic quantisation) and topk:0.01 (with error feedback,
timed in its steady state: each push adds the residual of the previous one), at
P = 1e5 and P = 4e6 float32, the script prints the median time to encode a push and to
decode it, as GB/s of float32 input (``P * 4`` bytes over the time), the bytes per push
and per round of K children against float32's, and, for context, the same run's plain
copy of the vector (``np.copyto`` into a preallocated one). The copy, the encode and
the decode are timed interleaved, push by push, so that a noisy host slows them alike.
One thread: threadpoolctl limits the BLAS pools (the compressors are single-threaded
numpy anyway).

Run::

    .venv/bin/python bench/privacy_compression.py           # P = 1e5 and 4e6
    .venv/bin/python bench/privacy_compression.py --quick   # P = 1e5 only

``measure(K, P, dtype, repeat)`` returns the rows as dicts, for a combined
``bench/privacy.py``. Target: encode and decode at least 1 GB/s of float32 input.
Never run as a timed test.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import numpy as np

from datapredict.compression import resolve_compressor

NAMES = ("int8", "int4", "topk:0.01")
TARGET_GBPS = 1.0
DISTINCT = 4  # distinct push vectors cycled through (K of them at P = 4e6 is GBs)


def _one_thread() -> Any:
    """Limit the BLAS / OpenMP pools to one thread (None without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(1)


def measure(K: int, P: int, dtype: Any = np.float32, repeat: int = 20) -> list[dict[str, Any]]:
    """Encode and decode throughput and bytes per push of every compressor in ``NAMES``.

    Parameters
    ----------
    K : int
        Children per round (the bytes per round are K pushes; the timing is per push).
    P : int
        Values per push.
    dtype : float32 or float64
        The pushes' dtype (GB/s are of this input).
    repeat : int
        Timed pushes per compressor (the medians are reported), after one warm-up.

    Returns
    -------
    list of dict
        One row per compressor: ``compressor``, ``K``, ``P``, ``dtype``, ``encode_s``,
        ``decode_s``, ``copy_s`` (medians, seconds), ``encode_gbps``, ``decode_gbps``,
        ``copy_gbps``, ``bytes_per_push``, ``float_bytes_per_push``,
        ``bytes_per_round``, ``ratio`` (float bytes / compressed bytes).
    """
    rng = np.random.default_rng(0)
    pushes = [rng.standard_normal(P).astype(dtype) for _ in range(min(K, DISTINCT))]
    target = np.empty(P, dtype)
    input_bytes = P * np.dtype(dtype).itemsize
    rows = []
    for name in NAMES:
        compressor = resolve_compressor(name)
        state, times = None, {"encode": [], "decode": [], "copy": []}
        for i in range(repeat + 1):
            vector = pushes[i % len(pushes)]
            started = time.perf_counter()
            np.copyto(target, vector)
            copied = time.perf_counter()
            payload, state = compressor.encode(vector, state, np.random.SeedSequence(i))
            encoded = time.perf_counter()
            payload.decode()
            decoded = time.perf_counter()
            if i:  # the first push is the warm-up
                times["copy"].append(copied - started)
                times["encode"].append(encoded - copied)
                times["decode"].append(decoded - encoded)
        median = {step: statistics.median(values) for step, values in times.items()}
        rows.append(
            {
                "compressor": name,
                "K": K,
                "P": P,
                "dtype": np.dtype(dtype).name,
                **{f"{step}_s": seconds for step, seconds in median.items()},
                **{f"{step}_gbps": input_bytes / s / 1e9 for step, s in median.items()},
                "bytes_per_push": payload.nbytes,
                "float_bytes_per_push": input_bytes,
                "bytes_per_round": K * payload.nbytes,
                "ratio": input_bytes / payload.nbytes,
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table, with the target's verdict."""
    header = (
        f"{'compressor':<11}{'K':>4}{'P':>10}  {'encode GB/s':>11}{'decode GB/s':>12}"
        f"{'copy GB/s':>10}  {'bytes/push':>11}{'x smaller':>10}{'MB/round':>10}  target"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        ok = min(r["encode_gbps"], r["decode_gbps"]) >= TARGET_GBPS
        lines.append(
            f"{r['compressor']:<11}{r['K']:>4}{r['P']:>10.0e}  {r['encode_gbps']:>11.2f}"
            f"{r['decode_gbps']:>12.2f}{r['copy_gbps']:>10.2f}  {r['bytes_per_push']:>11,}"
            f"{r['ratio']:>10.1f}{r['bytes_per_round'] / 1e6:>10.2f}  "
            + ("ok" if ok else f"below {TARGET_GBPS:g} GB/s")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="P = 1e5 only")
    parser.add_argument("--repeat", type=int, default=30, help="timed pushes per compressor")
    args = parser.parse_args()
    limits = _one_thread()
    print(
        f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}; "
        + ("one BLAS thread (threadpoolctl)" if limits else "threadpoolctl not installed")
    )
    sizes = [(100, 100_000)] if args.quick else [(100, 100_000), (16, 4_000_000)]
    rows = [row for K, P in sizes for row in measure(K, P, np.float32, args.repeat)]
    print(table(rows))


if __name__ == "__main__":
    main()
