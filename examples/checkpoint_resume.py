"""Checkpoints: a job that crashes halfway resumes and ends where it would have.

A federated-averaging job on scikit-learn's breast-cancer data (5 children, FedAdam on
the server) writes a checkpoint after every update. A callback makes it crash after
round 6, as a killed process would; the same call with
``checkpoint=Checkpointing(directory, resume_from=directory)`` then runs the rounds
left. With full-batch children the resumed job's main parameters are exactly those of a
job that never stopped: the checkpoint holds the main parameters, their version, the
server optimizer's state and the round reached.

Run: ``python examples/checkpoint_resume.py [--rounds 12 --crash-after 6]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import datapredict as dp
from datapredict.datasets import load_dataset, split


class Crash(RuntimeError):
    """Stands for the process dying."""


def crash_after(rounds: int):
    """A callback that raises once ``rounds`` rounds are recorded."""

    def callback(record: dp.RoundRecord) -> None:
        if record.round + 1 == rounds:
            raise Crash(f"crashed after round {record.round}")

    return callback


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--crash-after", type=int, default=6)
    args = parser.parse_args(argv)

    data = load_dataset("breast_cancer")
    shards = split(data.X, data.y, 5, how="iid", random_state=0)
    job = {
        "model_factory": lambda: dp.LogisticRegression(learning_rate=0.5),
        "shards": shards,
        "strategy": "model_parameters",
        "rounds": args.rounds,
        "server_optimizer": "fedadam",
        "random_state": 0,
    }
    uninterrupted = dp.train_distributed(**job).main_parameters

    with tempfile.TemporaryDirectory() as directory:
        try:
            dp.train_distributed(
                **job, checkpoint=directory, callback=crash_after(args.crash_after)
            )
        except Crash as crash:
            print(f"{crash}; on disk: {sorted(p.name for p in Path(directory).iterdir())}")
        resumed = dp.train_distributed(
            **job, checkpoint=dp.Checkpointing(directory, resume_from=directory)
        )

    rounds_run = [record.round for record in resumed.history]
    same = np.array_equal(resumed.main_parameters, uninterrupted)
    print(f"resumed at round {rounds_run[0]}, ran rounds {rounds_run[0]}-{rounds_run[-1]}")
    print(f"main parameters equal to the uninterrupted job's: {same}")
    return {"uninterrupted": uninterrupted, "resumed": resumed.main_parameters}


if __name__ == "__main__":
    main()
