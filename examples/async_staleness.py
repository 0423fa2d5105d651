"""Asynchronous training: staleness, how to weigh it, and how to bound it.

Six children on a Dirichlet split of scikit-learn's digits push gradient steps to one
parameter server (``DistributedGradients``) from threads. In sync mode every round
waits for all of them; in async mode each step is applied as it arrives, so most were
computed from parameters a few updates old. The server can weigh a step by its
staleness (``AsyncPolicy(staleness="polynomial")`` or ``"hinge"``) or drop it beyond a
bound (``AsyncPolicy(max_staleness=2)``). The table shows each run's accuracy and what its history
recorded: the staleness of the steps applied and how many were dropped.

Run: ``python examples/async_staleness.py [--rounds 40]``
"""

from __future__ import annotations

import argparse

import numpy as np

import datapredict as dp
from datapredict.datasets import load_dataset, split

RUNS = {
    "sync": {"mode": "sync"},
    "async": {"mode": "async"},
    "async, polynomial weight": {
        "mode": "async",
        "asynchrony": dp.AsyncPolicy(staleness="polynomial"),
    },
    "async, hinge weight": {"mode": "async", "asynchrony": dp.AsyncPolicy(staleness="hinge")},
    "async, max_staleness=2": {"mode": "async", "asynchrony": dp.AsyncPolicy(max_staleness=2)},
}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)

    data = load_dataset("digits")
    order = np.random.default_rng(0).permutation(data.y.size)
    test, train = order[:450], order[450:]
    shards = split(data.X[train], data.y[train], 6, how="dirichlet", alpha=0.5, random_state=0)

    print(f"digits, {len(shards)} children (Dirichlet split), {args.rounds} rounds, threads")
    print(f"{'run':<26s} accuracy  staleness mean  max  dropped  seconds")
    summary = {}
    for name, options in RUNS.items():
        result = dp.train_distributed(
            lambda: dp.LogisticRegression(learning_rate=0.5, classes=range(10)),
            shards,
            strategy="gradients",
            rounds=args.rounds,
            backend="threads",
            random_state=0,
            **options,
        )
        history = result.history
        summary[name] = {
            "accuracy": result.model.score(data.X[test], data.y[test]),
            "staleness_mean": float(np.mean(history["staleness_mean"])),
            "staleness_max": int(np.max(history["staleness_max"])),
            "dropped": int(np.sum(history["dropped"])),
            "pushes": int(np.sum(history["pushes"])),
            "seconds": float(np.sum(history["seconds"])),
        }
        row = summary[name]
        print(
            f"{name:<26s} {row['accuracy']:.4f}    {row['staleness_mean']:6.2f}        "
            f"{row['staleness_max']:3d}  {row['dropped']:7d}  {row['seconds']:7.2f}"
        )
    return summary


if __name__ == "__main__":
    main()
