"""Benchmark: secure aggregation (SecAgg+) against plain FedAvg of the same inputs.

For K children of P float32 parameters each, in the same run:

- **setup**: every child's key pairs, agreements and encrypted Shamir shares, routed by
  the server (:meth:`datapredict.secure.SecureRounds.begin`; client and server work
  together, as one round's first two steps cost);
- **mask**: one child's masking (key agreement with its neighbours, encoding, self and
  pairwise masks), the median over the children timed;
- **unmask**: the server's work: the running sum of the K masked vectors, then the
  reconstruction of secrets from revealed shares and the removal of every mask
  (``SecAggServer.receive`` + ``requests`` + ``unmask``);
- **fedavg**: the plain weighted mean of the (K, P) float32 stack
  (``datapredict.merge.FedAvg``), the memory-bound floor.

A sweep over K at a fixed P prints the fitted log-log slope of the server's unmask time
against K: SecAgg+'s server does O(K + dropouts x log K) mask expansions of P values, so
the slope should be near 1 (the target is O(K log K P) or better). ``--prg`` compares
mask generators (AES-256-CTR, which the library uses, against numpy's).

Run::

    .venv/bin/python bench/privacy_secagg.py            # K=100/P=1e5, K=16/P=4e6, sweep
    .venv/bin/python bench/privacy_secagg.py --quick    # small sizes, a smoke test
    .venv/bin/python bench/privacy_secagg.py --prg      # the generators at P=4e6

:func:`measure` is what a combined ``bench/privacy.py`` calls. Never run as a timed test.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np

from datapredict.merge import FedAvg
from datapredict.secure import SecAggClient, SecureAggregation, SecureJob, SecureRounds


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def measure(
    K: int,
    P: int,
    dtype: type = np.float32,
    repeat: int = 3,
    *,
    neighbours: str | int = "log",
    dropout: float = 0.0,
    seed: int = 0,
) -> list[dict]:
    """Time one secure round of K children of P values, and plain FedAvg of the same.

    Parameters
    ----------
    K, P : int
        Children and parameters per child.
    dtype : numpy dtype, default=float32
        The children's updates.
    repeat : int, default=3
        Timed repetitions (the median is reported); each unmask repetition replays the
        whole server side on a fresh server.
    neighbours : "log", "all" or int, default="log"
        SecAgg+ ("log") or classic SecAgg ("all").
    dropout : float, default=0
        Fraction of the children that mask but whose vectors never arrive.
    seed : int, default=0
        Seeds the updates, the children's secrets and the graph.

    Returns
    -------
    list of dict
        One row per measured step: ``{"step", "K", "P", "neighbours", "dropout",
        "seconds", "max_error"}`` (``max_error``: the unmasked average against numpy's).
    """
    rng = np.random.default_rng(seed)
    updates = rng.normal(0.0, 0.01, size=(K, P)).astype(dtype)
    counts = rng.integers(50, 500, size=K)
    option = SecureAggregation(neighbours=neighbours)
    seeds = tuple(np.random.SeedSequence(seed).spawn(K))
    scale = 2.0 ** np.ceil(np.log2(counts.max()))
    job = SecureJob(option, seeds, np.random.SeedSequence(seed + 1), False, float(scale))
    rounds = SecureRounds(job)
    started = time.perf_counter()
    setup = rounds.begin(0, range(K))
    setup_seconds = time.perf_counter() - started

    mask_times, masked = [], {}
    for child in range(K):
        started = time.perf_counter()
        client = SecAggClient(child, seeds[child], 0)
        masked[child] = client.mask(updates[child], setup.weight(int(counts[child])), setup)
        mask_times.append(time.perf_counter() - started)
    dropped = set(rng.choice(K, size=round(dropout * K), replace=False).tolist())
    alive = [c for c in range(K) if c not in dropped]

    def server_side() -> tuple[float, np.ndarray]:
        """The server's seconds (the survivors' answers, client work, are not counted)."""
        server = job.server(0, range(K))
        for child in range(K):
            server.advertise(child, setup.mask_keys[child], setup.share_keys[child])
        server.mailbox = rounds.server.mailbox  # the shares routed in setup
        started = time.perf_counter()
        for child in alive:
            server.receive(child, masked[child])
        requests = server.requests()
        seconds = time.perf_counter() - started
        responses = {
            v: rounds.clients[v].reveal(r, server.inbox(v), setup) for v, r in requests.items()
        }
        for client in rounds.clients.values():
            client._revealed.clear()  # a replay of the same round asks the same again
        started = time.perf_counter()
        total = server.unmask(responses)
        return seconds + time.perf_counter() - started, total

    unmask_runs = [server_side() for _ in range(repeat)]
    unmask_seconds = float(np.median([seconds for seconds, _ in unmask_runs]))
    total = unmask_runs[-1][1]
    expected = (counts[alive] / scale) @ updates[alive].astype(np.float64)
    error = float(np.abs(total[:-1] - expected).max())

    fedavg = FedAvg()
    stacked = updates[alive]
    fedavg_seconds = _median_seconds(lambda: fedavg(stacked, counts[alive]), max(repeat, 5))
    common = {"K": K, "P": P, "neighbours": neighbours, "dropout": dropout}
    return [
        {"step": "setup (all children)", **common, "seconds": setup_seconds, "max_error": None},
        {
            "step": "mask (per child)",
            **common,
            "seconds": float(np.median(mask_times)),
            "max_error": None,
        },
        {"step": "unmask (server)", **common, "seconds": unmask_seconds, "max_error": error},
        {"step": "plain fedavg", **common, "seconds": fedavg_seconds, "max_error": None},
    ]


def _print(rows: list[dict]) -> None:
    header = f"{'step':<22}{'K':>5}{'P':>10}{'nbrs':>6}{'drop':>6}{'seconds':>11}{'max error':>12}"
    print(header)
    print("-" * len(header))
    for row in rows:
        error = "" if row["max_error"] is None else f"{row['max_error']:.1e}"
        print(
            f"{row['step']:<22}{row['K']:>5}{row['P']:>10.0e}{row['neighbours']!s:>6}"
            f"{row['dropout']:>6.0%}{row['seconds']:>11.4f}{error:>12}"
        )


def sweep(Ks: list[int], P: int, repeat: int, dropout: float) -> float:
    """Print the server's unmask time for each K, and return the fitted log-log slope."""
    rows = [row for K in Ks for row in measure(K, P, repeat=repeat, dropout=dropout)]
    _print(rows)
    unmask = [r["seconds"] for r in rows if r["step"] == "unmask (server)"]
    slope = float(np.polyfit(np.log(Ks), np.log(unmask), 1)[0])
    print(
        f"\nserver unmask time ~ K^{slope:.2f} at P={P:.0e}, dropout {dropout:.0%} "
        "(target: K log K or better)"
    )
    return slope


def compare_generators(P: int) -> None:
    """Seconds for P uint64 from each candidate mask generator."""
    from datapredict.secure.keys import prg

    seed = bytes(range(32))
    number = int.from_bytes(seed, "little")
    candidates = {
        "AES-256-CTR (used)": lambda: prg(seed, P),
        "PCG64 integers": lambda: np.random.Generator(np.random.PCG64(number)).integers(
            0, 2**64, size=P, dtype=np.uint64
        ),
        "Philox integers": lambda: np.random.Generator(np.random.Philox(number)).integers(
            0, 2**64, size=P, dtype=np.uint64
        ),
        "PCG64 bytes": lambda: np.frombuffer(
            np.random.Generator(np.random.PCG64(number)).bytes(8 * P), dtype=np.uint64
        ),
    }
    for name, fn in candidates.items():
        fn()
        print(f"{name:<20} {_median_seconds(fn, 5) * 1e3:8.1f} ms for {P:.0e} uint64")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--prg", action="store_true", help="compare the mask generators only")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}\n")
    if args.prg:
        compare_generators(10**4 if args.quick else 4 * 10**6)
        return
    sizes = [(20, 10**3), (8, 10**4)] if args.quick else [(100, 10**5), (16, 4 * 10**6)]
    rows = [row for K, P in sizes for row in measure(K, P, repeat=args.repeat)]
    rows += measure(*sizes[0], repeat=args.repeat, dropout=0.1)
    _print(rows)
    print()
    Ks = [8, 16, 32] if args.quick else [16, 32, 64, 128]
    P = 10**3 if args.quick else 10**5
    sweep(Ks, P, args.repeat, 0.0)
    print()
    sweep(Ks, P, args.repeat, 0.1)


if __name__ == "__main__":
    main()
