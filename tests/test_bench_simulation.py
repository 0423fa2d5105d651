"""``bench/simulation.py`` (datapredict against Flower's simulation) and its memory helper.

The benchmark itself is never timed here: these tests run its smallest configuration on
the inline backend end to end (a subprocess, as the benchmark runs every side), check
that the job is the one Flower's clients compute (same shards, same initial parameters,
FedAvg of fresh models), that the memory sampler counts a process tree and nothing
outside it, and that the summary's verdicts follow the issue's targets.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("psutil")
pytest.importorskip("sklearn")

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(monkeypatch):
    """The benchmark's module ``simulation`` (imported from ``bench/``)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("simulation")


@pytest.fixture
def memory(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("_memory")


def test_shards_are_disjoint_while_they_fit_then_drawn_per_client(bench):
    ten = [bench.client_rows(i, 10, 0) for i in range(10)]
    assert all(len(rows) == bench.ROWS for rows in ten)
    assert len(np.unique(np.concatenate(ten))) == 10 * bench.ROWS
    n_rows = len(bench.digits()[1])
    drawn = bench.client_rows(7, 1000, 0)
    assert drawn.min() >= 0 and drawn.max() < n_rows
    np.testing.assert_array_equal(drawn, bench.client_rows(7, 10_000, 0))  # (seed, client)
    assert not np.array_equal(drawn, bench.client_rows(8, 1000, 0))
    assert not np.array_equal(drawn, bench.client_rows(7, 1000, 1))


def test_inline_job_is_fedavg_of_fresh_clients_from_the_shared_start(bench):
    """What Flower's clients compute (a fresh model from the received parameters, equal
    weights) from ``initial_parameters`` gives train_distributed's result."""
    run = bench.run_side("inline", 10, 1.0, 0)
    assert run.round_updates == [10] * bench.ROUNDS
    assert len(run.round_seconds) == bench.ROUNDS and run.wall >= sum(run.round_seconds)

    parameters = bench.initial_parameters(0)
    shards = [bench.client_shard(i, 10, 0) for i in range(10)]
    for _ in range(bench.ROUNDS):
        trained = []
        for X, y in shards:
            model = bench.make_model()
            model.set_parameters(max_iterations=bench.LOCAL_ITERATIONS)
            model.set_model_parameters(parameters)
            model.train(X, y)
            trained.append(model.get_model_parameters())
        parameters = np.mean(trained, axis=0)
    assert parameters.shape == (65, 10)
    np.testing.assert_allclose(run.parameters, parameters, rtol=0, atol=bench.TOLERANCE)


def test_peak_memory_counts_the_tree_and_only_it(memory):
    import psutil

    allocate = "import time; block = b'x' * 100_000_000; time.sleep(1.5)"
    with memory.PeakMemory(interval=0.02) as peak:
        child = subprocess.Popen([sys.executable, "-c", allocate])
        child.wait()
    assert peak.most_processes >= 2 and peak.samples > 10
    own, _ = memory.tree_memory(psutil.Process(os.getpid()))
    assert peak.peak_bytes > own + 90e6  # the child's 100 MB counted with this process

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    try:
        measured, processes = memory.tree_memory(psutil.Process(child.pid))
    finally:
        child.wait()
    assert processes == 1 and 0 < measured < own  # the parent is not in the child's tree


def test_main_runs_the_smallest_configuration_and_reports(bench, capsys):
    results = bench.main(["--clients", "10", "--sampled", "--backends", "inline", "--skip-flower"])
    out = capsys.readouterr().out
    inline = results["inline", 10, 1.0]
    assert inline.ran and inline.updates == 50 and inline.processes == 1
    assert inline.peak_bytes > 20e6  # Python, numpy and scikit-learn's digits at least
    assert 0 <= inline.startup < inline.wall
    for text in ("numpy", "ray", "flwr", "CPUs", "== 10 clients, every client every round"):
        assert text in out
    row = next(line for line in out.splitlines() if line.strip().startswith("inline "))
    assert f"{inline.wall:.2f}" in row and f"{inline.peak_bytes / 1e6:,.0f}" in row
    targets = out[out.index("Targets") :].splitlines()[1:]
    assert len(targets) == 7 and all("not run" in line for line in targets)


def test_target_verdicts(bench):
    def outcome(side, n_clients, wall, peak, fraction=1.0, first=1.0):
        count = bench.per_round(n_clients, fraction)
        rest = (wall - first) / (bench.ROUNDS - 1)
        return bench.Outcome(
            side,
            n_clients,
            fraction,
            wall=wall,
            round_seconds=[first] + [rest] * (bench.ROUNDS - 1),
            round_updates=[count] * bench.ROUNDS,
            peak_bytes=peak,
            processes=3,
        )

    runs = [
        outcome("flower", 1000, 50.0, 1.2e9, first=18.0),  # 8 s per round after the first
        outcome("ray", 1000, 5.0, 1.0e9, first=4.2),  # 6x; 0.2 s per round: 40x; less memory
        outcome("flower", 100, 10.0, 1.0e9),
        outcome("ray", 100, 6.0, 0.9e9),  # 1.7x: missed
        outcome("ray", 10_000, 30.0, 2.1e9, fraction=0.1),  # over 2 GB: missed
        outcome("inline", 10_000, 1.0, 0.3e9, fraction=0.1),  # 5,000 updates/s
        outcome("inline", 1000, 2.0, 0.2e9),
    ]
    results = {(o.side, o.n_clients, o.fraction): o for o in runs}
    verdicts = [row[2] for row in bench.targets(results)]
    assert verdicts[:6] == ["ok", "ok", "ok", "MISSED", "MISSED", "ok"]
    assert verdicts[6].startswith("not run (threads 1,000")


@pytest.mark.slow
@pytest.mark.ray
def test_flower_reaches_the_same_parameters(bench, tmp_path):
    pytest.importorskip("flwr")
    ours = bench.measure("inline", 3, 1.0, 0, tmp_path, timeout=300)
    flower = bench.measure("flower", 3, 1.0, 0, tmp_path, timeout=600)
    assert flower.ran, flower.note
    assert flower.round_updates == [3] * bench.ROUNDS and flower.processes > 3
    np.testing.assert_allclose(ours.parameters, flower.parameters, rtol=0, atol=bench.TOLERANCE)
