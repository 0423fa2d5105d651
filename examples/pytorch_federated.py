"""Federated PyTorch: one MLP on digits, label-skewed over ten children.

scikit-learn's digits are split 70/30; the training rows are shared out among ten
children with Dirichlet(0.5) label skew (each child sees mostly a few digits). Every
child is a :class:`~datapredict.adapters.TorchChild` holding the same PyTorch MLP; the
main model is merged by federated averaging (FedAvg), by FedAvg with Adam on the server
(FedAdam) and by the coordinate-wise median, and compared with the same MLP trained
centrally on all the training rows for as many epochs as a child trains in the job.

Run: ``python examples/pytorch_federated.py [--rounds 25]``
"""

from __future__ import annotations

import argparse
import time

import torch

import datapredict as dp
from datapredict.adapters import TorchChild
from datapredict.datasets import load_dataset, split, standardize_features, train_test_split
from datapredict.merge import FedAdam

CHILDREN, LOCAL_EPOCHS = 10, 2


def mlp() -> torch.nn.Module:
    """The model every child, and the central reference, trains: 64 -> 64 -> 10."""
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def torch_child(**options) -> TorchChild:
    """A child: mini-batch SGD with momentum on its shard, deterministic."""
    return TorchChild(
        mlp,
        loss=torch.nn.CrossEntropyLoss(),
        optimizer_factory=lambda parameters: torch.optim.SGD(parameters, lr=0.1, momentum=0.5),
        batch_size=32,
        deterministic=True,
        **options,
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args(argv)

    data = load_dataset("digits", standardize=False)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.3, random_state=0
    )
    X_train, X_test = standardize_features(X_train, X_test)
    shards = split(X_train, y_train, CHILDREN, how="dirichlet", alpha=0.5, random_state=0)

    started = time.perf_counter()
    central = torch_child(max_iterations=args.rounds * LOCAL_EPOCHS, random_state=0)
    central.train(X_train, y_train)
    accuracies = {"central": central.score(X_test, y_test)}
    seconds = {"central": time.perf_counter() - started}
    runs = {"FedAvg": ("average", None), "FedAdam": ("average", FedAdam(learning_rate=0.05)),
            "median": ("median", None)}  # fmt: skip
    for name, (merger, server_optimizer) in runs.items():
        started = time.perf_counter()
        result = dp.train_distributed(
            torch_child,
            shards,
            strategy="model_parameters",
            rounds=args.rounds,
            merger=merger,
            server_optimizer=server_optimizer,
            random_state=0,
            local_iterations=LOCAL_EPOCHS,
            eval_data=(X_test, y_test),
        )
        accuracies[name] = float(result.history["metric"][-1])
        seconds[name] = time.perf_counter() - started

    print(f"digits, MLP 64-64-10, {CHILDREN} children (Dirichlet 0.5), {args.rounds} rounds")
    print(f"{'training':<10s} {'accuracy':>8s} {'vs central':>10s} {'seconds':>8s}")
    for name, accuracy in accuracies.items():
        gap = accuracy - accuracies["central"]
        print(f"{name:<10s} {accuracy:8.4f} {gap:+10.4f} {seconds[name]:8.2f}")
    return accuracies


if __name__ == "__main__":
    main()
