"""Federated scikit-learn: SGDClassifier children against one SGDClassifier trained centrally.

Breast cancer (2 classes) and digits (10 classes) are each split 70/30; the training rows
are shared out at random among ten children, each a
:class:`~datapredict.adapters.SklearnChild` wrapping the same ``SGDClassifier``. Every
round each child runs one epoch of ``partial_fit`` from the main parameters and the
coordinator averages what they learned (FedAvg). The reference is the same estimator
fitted centrally on all the training rows. ``--backend ray`` runs the children as actors
on a local Ray instance: sync jobs give the inline parameters to the last bit there.

Run: ``python examples/sklearn_federated.py [--rounds 20] [--backend ray]``
"""

from __future__ import annotations

import argparse
import time

from sklearn.base import clone
from sklearn.linear_model import SGDClassifier

import datapredict as dp
from datapredict.adapters import SklearnChild
from datapredict.datasets import load_dataset, split, standardize_features, train_test_split

CHILDREN = 10
ESTIMATOR = SGDClassifier(loss="log_loss", alpha=1e-2, random_state=0)


def compare(name: str, rounds: int, backend: str) -> dict:
    """Central and federated test accuracy on one dataset, and the main parameters."""
    data = load_dataset(name, standardize=False)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.3, random_state=0
    )
    X_train, X_test = standardize_features(X_train, X_test)
    central = clone(ESTIMATOR).fit(X_train, y_train).score(X_test, y_test)
    started = time.perf_counter()
    result = dp.train_distributed(
        lambda: SklearnChild(ESTIMATOR),
        split(X_train, y_train, CHILDREN, random_state=0),
        strategy="model_parameters",
        rounds=rounds,
        backend=backend,
        random_state=0,
        local_iterations=1,
        eval_data=(X_test, y_test),
    )
    return {
        "central": float(central),
        "federated": float(result.history["metric"][-1]),
        "seconds": time.perf_counter() - started,
        "parameters": result.main_parameters,
    }


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backend", choices=("inline", "threads", "ray"), default="inline")
    args = parser.parse_args(argv)

    ray = None
    if args.backend == "ray":  # one local instance for both jobs, if none is running
        import ray

        if ray.is_initialized():
            ray = None
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    try:
        results = {
            name: compare(name, args.rounds, args.backend) for name in ("breast_cancer", "digits")
        }
    finally:
        if ray is not None:
            ray.shutdown()

    print(f"SGDClassifier, {CHILDREN} children, {args.rounds} rounds of FedAvg on {args.backend}")
    print(f"{'dataset':<14s} {'central':>8s} {'federated':>9s} {'gap':>7s} {'seconds':>8s}")
    for name, run in results.items():
        gap = run["federated"] - run["central"]
        print(
            f"{name:<14s} {run['central']:8.4f} {run['federated']:9.4f} {gap:+7.4f} "
            f"{run['seconds']:8.2f}"
        )
    return results


if __name__ == "__main__":
    main()
