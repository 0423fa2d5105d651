"""Benchmark: federations at scale, datapredict's backends against Flower's simulation.

The same federated job runs on both sides:

- data: scikit-learn's digits (1,797 rows, 64 standardised features, 10 classes), 50 rows
  per client. While the clients fit without overlap (10 clients) they get disjoint rows
  of one seeded permutation; beyond, each client draws its 50 rows with replacement from
  its own generator (``default_rng([seed, client])``). The rows depend only on
  ``(seed, clients, client)``, so both sides (and each of Flower's workers) build the
  same shards.
- model: ``LogisticRegression(learning_rate=0.5, classes=range(10))``, 5 local
  (full-batch) iterations per round, 5 rounds, FedAvg (weights: sample counts).
- datapredict: ``train_distributed(factory, shards, strategy="model_parameters",
  rounds=5, local_iterations=5, merger="fedavg", random_state=seed, backend=...)`` on
  the inline backend, on threads (a pool of 2) and on Ray (a pool of 2 workers, each
  training many children: ``RayBackend(address="local", num_workers=2)`` entered as a
  context manager); sampled jobs add ``children_per_round=0.1``.
- Flower (``flwr.simulation.run_simulation``, Message API): a ``ServerApp`` running
  ``flwr.serverapp.strategy.FedAvg(fraction_train=1.0 or 0.1, fraction_evaluate=0.0,
  min_available_nodes=clients)`` for 5 rounds and a ``ClientApp`` whose train handler
  calls a ``NumPyClient``'s ``fit``, which trains the same datapredict model on the
  client's rows (``partition-id`` of the node); 1 CPU per client
  (``backend_config={"client_resources": {"num_cpus": 1}}``), hence 2 Ray workers on 2
  cores whatever the number of clients. Its initial parameters are those of
  ``train_distributed``'s main model: the factory's model seeded with the first child of
  ``SeedSequence(seed)`` and initialised for 64 features (``initial_parameters``); the
  parameter check below confirms it.

Configurations: 10, 100 and 1,000 clients with every client in every round
(``--clients``); 1,000 and 10,000 clients with 10 % of them sampled per round
(``--sampled``).

Every (configuration, side) runs in a fresh subprocess, so start-up and memory are
measured cleanly per run and Flower's Ray never meets ours (both start their own local
instance, ``address="local"``). The subprocess imports this file as the module
``simulation`` (not ``__main__``), so that Flower's Ray workers import the client code
once instead of receiving it by value with every message. Measured per run:

- wall: from the call (backend created, Ray started) to its return (Ray shut down);
- start-up: wall minus the sum of the rounds' own times (ours:
  ``result.history["seconds"]``; Flower: time between calls of the strategy's
  ``evaluate_fn``, which it makes before round 1 and after each round, client-side
  evaluation being off), and the first round's time apart: Flower starts Ray and its
  workers while its ServerApp already waits for round 1's replies, so most of its
  start-up shows in round 1, where ours shows in start-up;
- s/round after the first: the mean time of rounds 2 to 5;
- client updates per second: clients trained in all rounds / wall (Flower's count is
  that of the replies it aggregated);
- peak memory: the largest sum of the proportional set sizes (PSS) of the subprocess
  and all its descendants (Ray's GCS, raylet, agents and workers among them), sampled
  every 50 ms from this process (``bench/_memory.py``); processes outside the tree,
  such as another user's Ray instance, are not counted;
- ratios to Flower: our updates/s over theirs, over the whole job and in the rounds
  after the first, and our peak memory over theirs;
- parameters: with every client in every round, the final parameters of every side
  against Flower's (or inline's without Flower), expected equal to ~1e-12 (the weighted
  sums run in another order); sampled jobs pick different clients by design.

Targets (issue "Federations at scale", item 7), checked in the final summary:

- Ray pool of 2 workers, 1,000 clients, every client every round: >= 5x Flower's client
  updates/s over the whole job and >= 10x in the rounds after the first, peak memory of
  all processes <= Flower's; at 100 clients >= 2x Flower over the whole job;
- Ray pool, 10,000 clients, 10 % per round: runs to the end, peak memory < 2 GB
  (2e9 bytes);
- inline, 10,000 clients, 10 % per round: >= 3,000 client updates/s;
- threads: >= 0.9x inline's client updates/s at 1,000 clients.

Run (a benchmark, never a timed test; the machine's other load moves absolute figures,
so compare the ratios measured in one run)::

    PYTHONPATH=src .venv/bin/python bench/simulation.py            # everything
    PYTHONPATH=src .venv/bin/python bench/simulation.py --quick    # 10 clients; 100 sampled
    PYTHONPATH=src .venv/bin/python bench/simulation.py --clients 100 --sampled \\
        --backends inline ray --skip-flower

Flower: ``pip install flwr psutil`` (the bench extra). ``flwr[simulation]`` pins an
older Ray (``ray==2.55.1`` for flwr 1.42); Flower's simulation runs on the Ray that
datapredict installs (2.60), so install flwr without that extra.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

ROWS = 50
N_FEATURES = 64
LOCAL_ITERATIONS = 5
ROUNDS = 5
LEARNING_RATE = 0.5
FRACTION = 0.1
POOL = 2  # workers of the threads and Ray pools
TOLERANCE = 1e-12
SIDES = ("inline", "threads", "ray", "flower")
BENCH = Path(__file__).resolve().parent
CHILD = "import sys, simulation; simulation.child_main(sys.argv[1:])"


def make_model():
    """The model of every client, on every side."""
    from datapredict import LogisticRegression

    return LogisticRegression(learning_rate=LEARNING_RATE, classes=range(10))


# ----------------------------------------------------------------------------- data
@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits, standardised (loaded once per process)."""
    from datapredict.datasets import load_dataset

    data = load_dataset("digits")
    return data.X, data.y


def client_rows(client: int, n_clients: int, seed: int) -> np.ndarray:
    """The digits rows of one client: disjoint while they fit, else drawn with replacement.

    Parameters
    ----------
    client : int
        The client's 0-based index.
    n_clients : int
        Clients in the federation.
    seed : int
        The job's seed.

    Returns
    -------
    ndarray of shape (50,)
        Row indices into :func:`digits`.
    """
    n_rows = len(digits()[1])
    if n_clients * ROWS <= n_rows:
        return np.random.default_rng(seed).permutation(n_rows)[client * ROWS : (client + 1) * ROWS]
    return np.random.default_rng([seed, client]).integers(0, n_rows, ROWS)


def client_shard(client: int, n_clients: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One client's ``(X, y)``."""
    X, y = digits()
    rows = client_rows(client, n_clients, seed)
    return X[rows], y[rows]


def per_round(n_clients: int, fraction: float) -> int:
    """Clients trained in each round."""
    return n_clients if fraction == 1.0 else int(n_clients * fraction)


def initial_parameters(seed: int) -> np.ndarray:
    """The main model's initial parameters in ``train_distributed(random_state=seed)``:
    the factory's model seeded with the first child of ``SeedSequence(seed)``."""
    model = make_model()
    model.set_parameters(
        random_state=np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    )
    model.initialize(N_FEATURES, np.arange(10))
    return model.get_model_parameters()


# ------------------------------------------------------------------------ one run
@dataclass
class Run:
    """What one side's subprocess reports."""

    wall: float
    round_seconds: list[float]
    round_updates: list[int]
    parameters: np.ndarray


def _backend(name: str):
    """The backend of side ``name``, as a context manager (entering starts its workers)."""
    if name == "inline":
        return contextlib.nullcontext("inline")
    from datapredict.backends import RayBackend, ThreadsBackend

    if name == "threads":
        return ThreadsBackend(num_workers=POOL)
    return RayBackend(address="local", num_workers=POOL)


def run_datapredict(backend: str, n_clients: int, fraction: float, seed: int) -> Run:
    """``train_distributed`` on ``backend`` ("inline", "threads" or "ray")."""
    import datapredict as dp

    shards = [client_shard(i, n_clients, seed) for i in range(n_clients)]
    sampling = {} if fraction == 1.0 else {"children_per_round": fraction}
    started = time.perf_counter()
    with _backend(backend) as chosen:
        result = dp.train_distributed(
            make_model,
            shards,
            strategy="model_parameters",
            rounds=ROUNDS,
            local_iterations=LOCAL_ITERATIONS,
            merger="fedavg",
            random_state=seed,
            backend=chosen,
            progress=False,
            **sampling,
        )
    wall = time.perf_counter() - started
    return Run(
        wall,
        result.history["seconds"].tolist(),
        result.history["pushes"].astype(int).tolist(),
        np.asarray(result.main_parameters),
    )


@functools.cache
def digits_client() -> type:
    """Flower's ``NumPyClient`` training datapredict's model on one client's rows (the
    class is made on first use, so that importing this module does not import flwr)."""
    from flwr.client import NumPyClient

    class DigitsClient(NumPyClient):
        """One client: its rows (:func:`client_shard`); a fresh model each ``fit``."""

        def __init__(self, client: int, n_clients: int, seed: int) -> None:
            self.X, self.y = client_shard(client, n_clients, seed)

        def fit(self, parameters, config):
            """Train from ``parameters`` ([the (65, 10) matrix]) for the local iterations;
            return the trained parameters, the sample count and no metrics."""
            model = make_model()
            model.set_parameters(max_iterations=LOCAL_ITERATIONS)
            model.set_model_parameters(parameters[0])
            model.train(self.X, self.y)
            return [model.get_model_parameters()], len(self.X), {}

    return DigitsClient


def flower_train(message, context):
    """The ``ClientApp``'s train handler: the node's ``NumPyClient.fit`` on the arrays."""
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict

    config = message.content["config"]
    client = digits_client()(
        int(context.node_config["partition-id"]),
        int(context.node_config["num-partitions"]),
        int(config["seed"]),
    )
    parameters, n_samples, _ = client.fit(
        message.content["arrays"].to_numpy_ndarrays(), dict(config)
    )
    reply = RecordDict(
        {"arrays": ArrayRecord(parameters), "metrics": MetricRecord({"num-examples": n_samples})}
    )
    return Message(reply, reply_to=message)


def run_flower(n_clients: int, fraction: float, seed: int) -> Run:
    """``flwr.simulation.run_simulation`` of the same job."""
    from flwr.app import ArrayRecord, ConfigRecord, MetricRecord
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp
    from flwr.serverapp.strategy import FedAvg
    from flwr.simulation import run_simulation

    initial = initial_parameters(seed)
    marks: list[float] = []  # before round 1, then after each round
    updates: list[int] = []  # replies aggregated per round
    final: list[np.ndarray] = []

    def stamp(server_round, arrays):
        marks.append(time.perf_counter())

    def count(records, weighted_by_key):
        updates.append(len(records))
        return MetricRecord()

    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        # The strategy samples int(fraction * nodes registered so far), which may be fewer
        # than all at round 1; min_train_nodes makes it wait for, and take, the full count.
        strategy = FedAvg(
            fraction_train=fraction,
            fraction_evaluate=0.0,
            min_train_nodes=per_round(n_clients, fraction),
            min_available_nodes=n_clients,
            train_metrics_aggr_fn=count,
        )
        result = strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord([initial]),
            num_rounds=ROUNDS,
            train_config=ConfigRecord({"seed": seed}),
            evaluate_fn=stamp,
        )
        final.extend(result.arrays.to_numpy_ndarrays())

    client = ClientApp()
    client.train()(flower_train)
    started = time.perf_counter()
    run_simulation(
        server_app=server,
        client_app=client,
        num_supernodes=n_clients,
        backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"address": "local"}},
    )
    wall = time.perf_counter() - started
    if len(marks) != ROUNDS + 1 or not final:
        raise RuntimeError(f"Flower's simulation stopped early ({len(marks) - 1} rounds)")
    return Run(wall, np.diff(marks).tolist(), updates, final[0])


def run_side(side: str, n_clients: int, fraction: float, seed: int) -> Run:
    """Run one side of one configuration in this process."""
    if side == "flower":
        return run_flower(n_clients, fraction, seed)
    return run_datapredict(side, n_clients, fraction, seed)


def child_main(argv: list[str]) -> None:
    """Entry point of a run's subprocess: ``SIDE CLIENTS FRACTION SEED OUT``; writes
    ``OUT.json`` (times, updates) and ``OUT.npy`` (final parameters)."""
    side, n_clients, fraction, seed, out = argv
    run = run_side(side, int(n_clients), float(fraction), int(seed))
    np.save(f"{out}.npy", run.parameters)
    with open(f"{out}.json", "w") as file:
        json.dump(
            {"wall": run.wall, "rounds": run.round_seconds, "updates": run.round_updates}, file
        )


# ---------------------------------------------------------------------- harness
@dataclass
class Outcome:
    """One side of one configuration, as measured from outside its subprocess."""

    side: str
    n_clients: int
    fraction: float
    wall: float = float("nan")
    round_seconds: list[float] = field(default_factory=list)
    round_updates: list[int] = field(default_factory=list)
    peak_bytes: int = 0
    processes: int = 0
    parameters: np.ndarray | None = None
    note: str | None = None  # why it did not run, or how it failed

    @property
    def ran(self) -> bool:
        return self.note is None

    @property
    def updates(self) -> int:
        return sum(self.round_updates)

    @property
    def startup(self) -> float:
        return self.wall - sum(self.round_seconds)

    @property
    def round_time(self) -> float:
        """Mean seconds of the rounds after the first."""
        return float(np.mean(self.round_seconds[1:]))

    @property
    def rate(self) -> float:
        """Client updates per second over the whole job."""
        return self.updates / self.wall

    @property
    def round_rate(self) -> float:
        """Client updates per second in the rounds after the first."""
        return sum(self.round_updates[1:]) / sum(self.round_seconds[1:])


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill a run's subprocess and every process it started (by id)."""
    import psutil

    try:
        tree = [psutil.Process(process.pid)]
        tree += tree[0].children(recursive=True)
    except psutil.Error:
        return
    for member in tree:
        with contextlib.suppress(psutil.Error):
            member.kill()
    process.wait()


def _import_path() -> str:
    """PYTHONPATH of a run: this directory, then the datapredict this process imported
    (e.g. a worktree's ``src``), then this process's own entries, made absolute."""
    import datapredict

    entries = [str(BENCH), str(Path(datapredict.__file__).resolve().parents[1])]
    entries += [
        str(Path(entry).resolve())
        for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if entry
    ]
    return os.pathsep.join(dict.fromkeys(entries))


def measure(
    side: str, n_clients: int, fraction: float, seed: int, workdir: Path, timeout: float
) -> Outcome:
    """Run one side of one configuration in a fresh subprocess; sample its tree's memory."""
    from _memory import PeakMemory

    outcome = Outcome(side, n_clients, fraction)
    out = workdir / f"{side}-{n_clients}-{fraction:g}"
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)  # never join a running Ray instance
    env["PYTHONPATH"] = _import_path()
    command = [sys.executable, "-c", CHILD, side, str(n_clients), repr(fraction), str(seed)]
    with open(f"{out}.log", "w") as log:
        process = subprocess.Popen(
            [*command, str(out)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=BENCH
        )
        with PeakMemory(process.pid) as peak:
            try:
                code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(process)
                code = None
    if code != 0:
        lines = Path(f"{out}.log").read_text(errors="replace").strip().splitlines()
        last = lines[-1] if lines else ""
        outcome.note = f"timed out after {timeout:g} s" if code is None else f"failed: {last}"
        return outcome
    with open(f"{out}.json") as file:
        report = json.load(file)
    outcome.wall, outcome.round_seconds = report["wall"], report["rounds"]
    outcome.round_updates = report["updates"]
    outcome.peak_bytes, outcome.processes = peak.peak_bytes, peak.peak_processes
    outcome.parameters = np.load(f"{out}.npy")
    return outcome


# ---------------------------------------------------------------------- report
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def header() -> str:
    """Versions, the machine, the job, and what the installed datapredict lacks."""
    import datapredict

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, ray {_version('ray')}, "
        f"flwr {_version('flwr')}, psutil {_version('psutil')}; {os.cpu_count()} CPUs "
        f"(load average {load})",
        f"datapredict from {Path(datapredict.__file__).parent}",
        f"job: digits, {ROWS} rows per client, LogisticRegression(learning_rate={LEARNING_RATE}), "
        f"{LOCAL_ITERATIONS} local iterations, {ROUNDS} rounds, FedAvg; pools of {POOL} workers",
    ]
    return "\n".join(lines)


def _label(side: str) -> str:
    return f"{side} pool" if side in ("threads", "ray") else side


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def parameter_check(outcome: Outcome, reference: Outcome | None) -> str:
    """The run's count of updates, and its final parameters against the reference
    side's (Flower's, else inline's)."""
    expected = ROUNDS * per_round(outcome.n_clients, outcome.fraction)
    if outcome.updates != expected:
        return f"INCOMPLETE: {outcome.updates:,} updates, {expected:,} expected"
    if outcome.fraction < 1.0:
        return "sampled: other clients by design"
    if reference is None or reference is outcome:
        return ""
    diff = float(np.max(np.abs(outcome.parameters - reference.parameters)))
    verdict = "ok" if diff <= TOLERANCE else "DIFFER"
    return f"max|diff| vs {reference.side} {diff:.1e} {verdict}"


def table(outcomes: list[Outcome]) -> str:
    """One configuration's rows: times, rate, memory, ratios to Flower, parameter check."""
    flower = next((o for o in outcomes if o.side == "flower" and o.ran), None)
    inline = next((o for o in outcomes if o.side == "inline" and o.ran), None)
    reference = flower or inline
    columns = (
        f"  {'side':<14}{'wall s':>9}{'start-up s':>11}{'round 1 s':>10}{'s/round>1':>10}"
        f"{'updates/s':>11}"
        f"{'peak MB':>9}{'procs':>6}  {'x Flower: updates/s':>19}{'per round':>10}{'memory':>8}"
    )
    rows = [columns]
    for o in outcomes:
        label = _label(o.side)
        if not o.ran:
            rows.append(f"  {label:<14}{'not run: ' + o.note}")
            continue
        row = (
            f"  {label:<14}{o.wall:>9.2f}{o.startup:>11.2f}{o.round_seconds[0]:>10.2f}"
            f"{o.round_time:>10.3f}"
            f"{_number(o.rate):>11}{o.peak_bytes / 1e6:>9,.0f}{o.processes:>6}  "
        )
        if flower is None or o is flower:
            row += f"{'':>19}{'':>10}{'':>8}"
        else:
            row += (
                f"{_ratio(o.rate / flower.rate):>19}{_ratio(o.round_rate / flower.round_rate):>10}"
                f"{o.peak_bytes / flower.peak_bytes:>7.2f}x"
            )
        rows.append(row + f"  {parameter_check(o, reference)}")
    return "\n".join(rows)


def targets(results: dict[tuple[str, int, float], Outcome]):
    """The issue's targets: (target, measured, verdict) for each."""

    def get(side: str, n_clients: int, fraction: float = 1.0) -> Outcome | None:
        return results.get((side, n_clients, fraction))

    def check(label, needed, measure_text, passed):
        missing = [f"{o[0]} {o[1]:,}" for o in needed if o[2] is None or not o[2].ran]
        if missing:
            return label, "-", "not run (" + ", ".join(missing) + ")"
        return label, measure_text(), "ok" if passed() else "MISSED"

    rows = []
    ray_k, flower_k = get("ray", 1000), get("flower", 1000)
    need = [("ray", 1000, ray_k), ("flower", 1000, flower_k)]
    rows.append(
        check(
            "ray pool, 1,000 clients: updates/s >= 5x Flower",
            need,
            lambda: _ratio(ray_k.rate / flower_k.rate),
            lambda: ray_k.rate >= 5 * flower_k.rate,
        )
    )
    rows.append(
        check(
            "ray pool, 1,000 clients: rounds after the first >= 10x Flower",
            need,
            lambda: _ratio(ray_k.round_rate / flower_k.round_rate),
            lambda: ray_k.round_rate >= 10 * flower_k.round_rate,
        )
    )
    rows.append(
        check(
            "ray pool, 1,000 clients: peak memory <= Flower's",
            need,
            lambda: f"{ray_k.peak_bytes / 1e6:,.0f} vs {flower_k.peak_bytes / 1e6:,.0f} MB",
            lambda: ray_k.peak_bytes <= flower_k.peak_bytes,
        )
    )
    ray_c, flower_c = get("ray", 100), get("flower", 100)
    rows.append(
        check(
            "ray pool, 100 clients: updates/s >= 2x Flower",
            [("ray", 100, ray_c), ("flower", 100, flower_c)],
            lambda: _ratio(ray_c.rate / flower_c.rate),
            lambda: ray_c.rate >= 2 * flower_c.rate,
        )
    )
    ray_s = get("ray", 10_000, FRACTION)
    rows.append(
        check(
            "ray pool, 10,000 clients, 10 % per round: runs, peak memory < 2 GB",
            [("ray sampled", 10_000, ray_s)],
            lambda: f"{ray_s.peak_bytes / 1e6:,.0f} MB",
            lambda: ray_s.peak_bytes < 2e9,
        )
    )
    inline_s = get("inline", 10_000, FRACTION)
    rows.append(
        check(
            "inline, 10,000 clients, 10 % per round: >= 3,000 updates/s",
            [("inline sampled", 10_000, inline_s)],
            lambda: f"{inline_s.rate:,.0f}/s",
            lambda: inline_s.rate >= 3000,
        )
    )
    threads_k, inline_k = get("threads", 1000), get("inline", 1000)
    rows.append(
        check(
            "threads, 1,000 clients: >= 0.9x inline updates/s",
            [("threads", 1000, threads_k), ("inline", 1000, inline_k)],
            lambda: _ratio(threads_k.rate / inline_k.rate),
            lambda: threads_k.rate >= 0.9 * inline_k.rate,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> dict[tuple[str, int, float], Outcome]:
    """Run the benchmark; print and return the outcomes by (side, clients, fraction)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clients", type=int, nargs="*", help="every client every round (default 10 100 1000)"
    )
    parser.add_argument(
        "--sampled", type=int, nargs="*", help="10 %% per round (default 1000 10000)"
    )
    parser.add_argument("--backends", nargs="+", choices=SIDES[:3], default=list(SIDES[:3]))
    parser.add_argument("--skip-flower", action="store_true", help="datapredict's side only")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 10 clients, 100 sampled (unless given)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    args = parser.parse_args(argv)
    if args.clients is None:
        args.clients = [10] if args.quick else [10, 100, 1000]
    if args.sampled is None:
        args.sampled = [100] if args.quick else [1000, 10_000]
    sides = [s for s in SIDES if s in args.backends or (s == "flower" and not args.skip_flower)]
    if "flower" in sides and _version("flwr") == "not installed":
        sides.remove("flower")
        print("flwr not installed: pip install flwr (the bench extra) to compare with Flower")

    print(header(), flush=True)
    configurations = [(k, 1.0) for k in args.clients] + [(k, FRACTION) for k in args.sampled]
    results: dict[tuple[str, int, float], Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="dp-simulation-") as workdir:
        for n_clients, fraction in configurations:
            print(
                f"\n== {n_clients:,} clients, "
                + ("every client every round" if fraction == 1.0 else f"{fraction:.0%} per round")
                + f" ({ROUNDS} rounds x {per_round(n_clients, fraction):,} client updates)",
                flush=True,
            )
            outcomes = []
            for side in sides:
                outcome = measure(side, n_clients, fraction, args.seed, Path(workdir), args.timeout)
                results[side, n_clients, fraction] = outcome
                outcomes.append(outcome)
                done = f"wall {outcome.wall:.2f} s" if outcome.ran else outcome.note
                print(f"  .. {_label(side)}: {done}", flush=True)
            print(table(outcomes), flush=True)

    print("\nTargets")
    rows = targets(results)
    width = max(len(r[0]) for r in rows)
    for label, measured, verdict in rows:
        print(f"  {label:<{width}}  {measured:>22}  {verdict}")
    return results


if __name__ == "__main__":
    main()
