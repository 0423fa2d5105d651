"""Robust aggregation: federated averaging with hostile children.

Ten children train LogisticRegression on shards of scikit-learn's digits; three of them
are hostile (their features scaled by 20 and their labels shuffled), so the parameters
they push are far from the others'. The plain average follows them; the median,
trimmed mean, Krum and the geometric median do not. One more row trains without the
hostile children, for reference.

Run: ``python examples/robust_aggregation.py [--rounds 15]``
"""

from __future__ import annotations

import argparse

import numpy as np

import datapredict as dp
from datapredict.datasets import load_dataset, split
from datapredict.merge import Krum, TrimmedMean

CHILDREN, HOSTILE = 10, 3


def poison(shards, hostile: int, rng: np.random.Generator):
    """The first ``hostile`` shards with features scaled by 20 and labels shuffled."""
    return [
        (X * 20.0, rng.permutation(y)) if i < hostile else (X, y) for i, (X, y) in enumerate(shards)
    ]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    data = load_dataset("digits")
    rng = np.random.default_rng(0)
    order = rng.permutation(data.y.size)
    test, train = order[:450], order[450:]
    shards = split(data.X[train], data.y[train], CHILDREN, how="iid", random_state=0)
    poisoned = poison(shards, HOSTILE, rng)

    runs = {
        "average, no hostile child": ("average", shards[HOSTILE:]),
        "average": ("average", poisoned),
        "median": ("median", poisoned),
        "trimmed mean (beta=0.3)": (TrimmedMean(beta=0.3), poisoned),
        "krum (f=3)": (Krum(num_malicious=HOSTILE), poisoned),
        "geometric median": ("geometric_median", poisoned),
    }
    accuracies = {}
    print(f"digits, {CHILDREN} children of which {HOSTILE} hostile, {args.rounds} rounds")
    print(f"{'merge':<28s} test accuracy")
    for name, (merger, children) in runs.items():
        result = dp.train_distributed(
            lambda: dp.LogisticRegression(learning_rate=0.5, classes=range(10)),
            children,
            strategy="model_parameters",
            rounds=args.rounds,
            local_iterations=5,
            merger=merger,
            random_state=0,
        )
        accuracies[name] = result.model.score(data.X[test], data.y[test])
        print(f"{name:<28s} {accuracies[name]:.4f}")
    return accuracies


if __name__ == "__main__":
    main()
