"""Benchmark: ``train_distributed(backend="ray")`` against Ray's own parameter-server pattern.

Both sides run in the same process, on the same Ray instance
(``ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)``), the same data
and the same math, alternately repeat by repeat so that a noisy host slows both alike:

- data: 2 children, each a least-squares shard ``X`` (32, P) float64 standard normal
  (seeds 1 and 2), ``y = X @ w_true``; weights start at 0; step ``w -= (16 / P) * g``
  with ``g = X.T @ (X @ w - y) / 32``, one gradient per update (async).
- ours: ``train_distributed(strategy="gradients", mode="async", backend=...)`` with
  ``LinearRegression(fit_intercept=False, learning_rate=16 / P)`` children (datapredict
  models are float64, so the baseline is float64 too) on a pool of two 0.5-CPU worker
  actors, one child each. The coordinator is an actor (DistributedGradients inside).
  Async mode keeps the driver in the loop, as Ray's pattern does: each finished unit of
  work (a (1, P) block in the object store) goes to the coordinator's actor by reference,
  one actor call per push, whose reply carries the new main vector's reference, and the
  driver hands the worker its next unit with it. The backend limits the driver's BLAS
  pool to one thread during the job (its ``driver_blas_threads=1`` default, as Ray does
  for every actor); a second variant, "ours, BLAS unlimited"
  (``driver_blas_threads=None``), shows what the driver's spinning BLAS threads cost.
- Ray's pattern (Ray Core "Parameter Server" example, async loop; REFERENCE.md Part C
  §2 and §7): a ``ParameterServer`` actor (``apply_gradients`` returns the new weights,
  ``get_weights``) and two ``DataWorker`` actors (``compute_gradients(weights)``), default
  actor resources; the driver loops over ``ray.wait`` (``num_returns=1``), applies each
  ready gradient with ``ps.apply_gradients.remote(ref)`` and re-dispatches that worker
  with the returned weights ref.

A push is one gradient applied; a round is 2 pushes. After a warm-up (actors built,
shards in the object store, pipelines full), pushes are counted between two points
where every push so far is applied: ours from the runner's round callback, Ray's from
``ray.get`` of the latest weights. Tables show medians over repeats; ``ratio`` is
the median of the per-repeat ratios (ours / Ray's pushes per second).

Where the time goes: for each side, the CPU each process role used during the timed
window (from /proc, Linux only), in cores and in CPU milliseconds per push: the driver
(with its BLAS threads), the children / workers, the server actor, Ray's own processes
(raylet, GCS, ...) and "foreign" processes outside this benchmark's process tree
(another tenant on a shared host). For ours, also the child's own work per push
(``ChildResult.seconds``: set parameters, one training step, flatten the step), the
bare numpy gradient (two matrix-vector products, one BLAS thread) for reference, and
the driver's wall time per push waiting for results (idle), in
``ray.put``, in actor calls and the rest (runner, history).

Run::

    .venv/bin/python bench/ray_backend.py                     # P = 1e5 and 1e6, 3 repeats
    .venv/bin/python bench/ray_backend.py --sizes 100000 --repeats 5

Target: ours >= 1.5x Ray's pushes per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial

import numpy as np

TARGET_RATIO = 1.5
N_ROWS = 32
SEEDS = (1, 2)
OURS, OURS_NT, RAYS = "ours", "ours, BLAS unlimited", "Ray's pattern"


# --------------------------------------------------------------------------- data
def make_shards(P: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two shards X (32, P) float64 standard normal (seeds 1, 2), y = X @ w_true."""
    w_true = np.random.default_rng(0).standard_normal(P)
    shards = []
    for seed in SEEDS:
        X = np.random.default_rng(seed).standard_normal((N_ROWS, P))
        shards.append((X, X @ w_true))
    return shards


def learning_rate(P: int) -> float:
    return 16.0 / P


def shard_loss(shards, w: np.ndarray) -> float:
    """Mean over shards of ``||X w - y||^2 / (2 * 32)``."""
    return float(np.mean([0.5 * np.sum((X @ w - y) ** 2) / len(X) for X, y in shards]))


# -------------------------------------------------------------- CPU by process
def _processes() -> dict[int, tuple[int, int, str]]:
    """{pid: (parent pid, user + system clock ticks, command line)} from /proc."""
    found = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as file:
                stat = file.read()
            with open(f"/proc/{name}/cmdline", "rb") as file:
                command = file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    return found


def _role(pid: int, command: str, ours: set[int]) -> str:
    if pid not in ours:
        return "foreign"
    if pid == os.getpid():
        return "driver"
    if command.startswith("ray::"):
        name = command[5:].split()[0].split(".")[0] if command[5:].strip() else "worker"
        return {"ChildActor": "children", "DataWorker": "workers"}.get(name, name)
    return "Ray system"


class CpuSampler:
    """Mean CPU (cores) per process role during a window: driver, children or workers,
    server, Ray's own processes, and foreign processes (outside this process tree)."""

    def start(self) -> None:
        self.cores: dict[str, float] = {}
        self._started, self._before = time.perf_counter(), _processes()

    def stop(self) -> None:
        after, seconds = _processes(), time.perf_counter() - self._started
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (ppid, _, _) in after.items():
            children[ppid].append(pid)
        ours, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo.extend(children[pid])
        ticks: dict[str, int] = defaultdict(int)
        for pid, (_, cpu, command) in after.items():
            before = self._before.get(pid)
            ticks[_role(pid, command, ours)] += cpu - (before[1] if before else 0)
        self.cores = {role: t / os.sysconf("SC_CLK_TCK") / seconds for role, t in ticks.items()}


# ---------------------------------------------------------------- Ray's pattern
class ParameterServer:
    """Ray's example server: apply the (summed) gradients, return the new weights."""

    def __init__(self, P: int, lr: float) -> None:
        self.w = np.zeros(P)
        self.lr = lr
        self.applied = 0

    def apply_gradients(self, *gradients: np.ndarray) -> np.ndarray:
        summed = gradients[0] if len(gradients) == 1 else np.sum(gradients, axis=0)
        self.w -= self.lr * summed
        self.applied += len(gradients)
        return self.w

    def get_weights(self) -> np.ndarray:
        return self.w

    def count(self) -> int:
        return self.applied


class DataWorker:
    """Ray's example worker: the gradient of its shard's least-squares loss at ``w``."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def compute_gradients(self, w: np.ndarray) -> np.ndarray:
        return self.X.T @ (self.X @ w - self.y) / len(self.X)


@dataclass
class Run:
    """One timed run of one side."""

    rate: float
    pushes: int
    seconds: float
    loss: float
    cpu: dict[str, float]
    note: str = ""
    child: float = float("nan")
    driver: dict[str, float] = field(default_factory=dict)


def run_ray_pattern(ray, shards, shard_refs, P: int, warmup_pushes: int, pushes: int) -> Run:
    """Ray's async loop, timed after ``warmup_pushes``."""
    sampler = CpuSampler()
    ps = ray.remote(ParameterServer).remote(P, learning_rate(P))
    workers = [ray.remote(DataWorker).remote(X, y) for X, y in shard_refs]
    weights = ps.get_weights.remote()
    gradients = {worker.compute_gradients.remote(weights): worker for worker in workers}
    started = 0.0
    for i in range(warmup_pushes + pushes):
        if i == warmup_pushes:
            ray.get(weights)  # every push so far applied
            sampler.start()
            started = time.perf_counter()
        ready, _ = ray.wait(list(gradients), num_returns=1)
        worker = gradients.pop(ready[0])
        weights = ps.apply_gradients.remote(ready[0])
        gradients[worker.compute_gradients.remote(weights)] = worker
    w = np.array(ray.get(weights))
    seconds = time.perf_counter() - started
    sampler.stop()
    applied = ray.get(ps.count.remote())
    for actor in [ps, *workers]:
        ray.kill(actor)
    return Run(
        pushes / seconds,
        pushes,
        seconds,
        shard_loss(shards, w),
        sampler.cores,
        note=f"server applied {applied}",
    )


# ------------------------------------------------------------------------- ours
def zero_start_model(P: int):
    """A LinearRegression child holding zero weights (the runner starts main from them)."""
    from datapredict import LinearRegression

    model = LinearRegression(fit_intercept=False, learning_rate=learning_rate(P), max_iterations=1)
    model.set_model_parameters(np.zeros((P, 1)))
    return model


@dataclass
class DriverTimes:
    """Driver wall seconds in the backend's calls, and the children's seconds per push."""

    wait: float = 0.0
    put: float = 0.0
    submit: float = 0.0
    child: list[float] = field(default_factory=list)


def timed_backend(times: DriverTimes, driver_blas_threads: int | None):
    """A RayBackend that times its driver-side calls (the bench's only instrumentation)."""
    from datapredict.backends.ray import RayBackend

    class TimedRayBackend(RayBackend):
        def broadcast(self, main, version):
            started = time.perf_counter()
            try:
                return super().broadcast(main, version)
            finally:
                times.put += time.perf_counter() - started

        def submit(self, child, handle):
            started = time.perf_counter()
            super().submit(child, handle)
            times.submit += time.perf_counter() - started

        def wait(self, timeout):
            started = time.perf_counter()
            results = super().wait(timeout)
            times.wait += time.perf_counter() - started
            times.child.extend(r.seconds for r in results)
            return results

    return TimedRayBackend(num_workers=2, num_cpus=0.5, driver_blas_threads=driver_blas_threads)


def run_ours(shards, P: int, warmup_rounds: int, rounds: int, blas_threads: int | None) -> Run:
    """train_distributed(async, gradients, ray), timed between two round callbacks."""
    from datapredict import train_distributed

    sampler, marks, times, window = CpuSampler(), {}, DriverTimes(), {}

    def mark(record) -> None:
        if record.round == warmup_rounds - 1:
            times.__init__()
            sampler.start()
            marks["start"] = time.perf_counter()
        elif record.round == warmup_rounds + rounds - 1:
            marks["stop"] = time.perf_counter()
            sampler.stop()
            window.update(wait=times.wait, put=times.put, submit=times.submit)

    result = train_distributed(
        partial(zero_start_model, P),
        shards,
        strategy="gradients",
        mode="async",
        backend=timed_backend(times, blas_threads),
        rounds=warmup_rounds + rounds,
        callback=mark,
        random_state=0,
        progress=False,
    )
    pushes = sum(r.pushes for r in result.history[warmup_rounds : warmup_rounds + rounds])
    seconds = marks["stop"] - marks["start"]
    rest = seconds - window["wait"] - window["put"] - window["submit"]
    return Run(
        pushes / seconds,
        pushes,
        seconds,
        shard_loss(shards, np.ravel(result.main_parameters)),
        sampler.cores,
        child=float(np.median(times.child[: pushes or None])),
        driver={
            "waiting (idle)": window["wait"] / pushes,
            "ray.put": window["put"] / pushes,
            "actor call": window["submit"] / pushes,
            "rest": rest / pushes,
        },
    )


def bare_gradient_seconds(X: np.ndarray, y: np.ndarray, repeats: int = 15) -> float:
    """Median seconds of ``X.T @ (X @ w - y)`` in the driver on one BLAS thread."""
    from threadpoolctl import threadpool_limits

    w = np.zeros(X.shape[1])
    times = []
    with threadpool_limits(1):
        for _ in range(repeats + 2):
            started = time.perf_counter()
            X.T @ (X @ w - y)
            times.append(time.perf_counter() - started)
    return float(np.median(times[2:]))


# ------------------------------------------------------------------------- main
def _cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{role} {cores:.2f}" for role, cores in sorted(cpu.items()) if cores >= 0.01)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="rough timed run length")
    args = parser.parse_args(argv)

    import ray

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(
        f"Ray {ray.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; ray.init {time.perf_counter() - started:.1f} s; "
        f"2 children, X (32, P) float64; {args.repeats} interleaved repeats"
    )
    summary = []
    for P in args.sizes:
        shards = make_shards(P)
        shard_refs = [(ray.put(X), ray.put(y)) for X, y in shards]
        bare = bare_gradient_seconds(*shards[0])
        # Aim at args.seconds per timed run from a rough 1 / (3 * bare) rounds per second.
        rounds = max(20, int(args.seconds / (3 * bare)))
        warmup = max(3, rounds // 10)
        runs: dict[str, list[Run]] = defaultdict(list)
        sides = [OURS, OURS_NT, RAYS]
        for repeat in range(args.repeats):
            for side in sides if repeat % 2 == 0 else sides[::-1]:
                if side == RAYS:
                    run = run_ray_pattern(ray, shards, shard_refs, P, 2 * warmup, 2 * rounds)
                else:
                    run = run_ours(shards, P, warmup, rounds, 1 if side == OURS else None)
                runs[side].append(run)
                print(
                    f"  P={P:.0e} #{repeat + 1} {side:<20s} {run.rate:6.1f} pushes/s "
                    f"({run.pushes} in {run.seconds:.1f} s, loss {run.loss:.1e}"
                    f"{', ' + run.note if run.note else ''}); CPU cores: {_cpu_text(run.cpu)}",
                    flush=True,
                )
        summary.append((P, bare, runs))
        del shard_refs

    print()
    print(
        f"{'P':>7}  {'side':<20s}  {'pushes/s':>8}  {'s/round':>7}  "
        f"{'ratio to Ray':>12}  target >= {TARGET_RATIO}"
    )
    for P, _, runs in summary:
        for side in (OURS, OURS_NT, RAYS):
            rate = float(np.median([r.rate for r in runs[side]]))
            if side == RAYS:
                ratio_text, verdict = "", ""
            else:
                ratio = float(
                    np.median(
                        [a.rate / b.rate for a, b in zip(runs[side], runs[RAYS], strict=True)]
                    )
                )
                ratio_text = f"{ratio:.2f}"
                verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
            print(
                f"{P:>7.0e}  {side:<20s}  {rate:>8.1f}  {2 / rate:>7.4f}  "
                f"{ratio_text:>12}  {verdict}"
            )

    print()
    print("Where the time goes (medians over repeats).")
    for P, bare, runs in summary:
        print(f"  P={P:.0e}: bare numpy gradient (one BLAS thread) {bare * 1e3:.1f} ms")
        for side in (OURS, OURS_NT, RAYS):
            roles = sorted({role for r in runs[side] for role in r.cpu})
            per_push = {
                role: float(np.median([r.cpu.get(role, 0.0) / r.rate for r in runs[side]]))
                for role in roles
            }
            parts = ", ".join(
                f"{role} {ms * 1e3:.1f}" for role, ms in per_push.items() if ms > 5e-5
            )
            print(f"    {side:<20s} CPU ms per push: {parts}")
            if side != RAYS:
                child = float(np.median([r.child for r in runs[side]]))
                driver = {
                    part: float(np.median([r.driver[part] for r in runs[side]]))
                    for part in runs[side][0].driver
                }
                walls = ", ".join(f"{part} {s * 1e3:.2f}" for part, s in driver.items())
                print(
                    f"    {'':<20s} wall ms per push: child work {child * 1e3:.1f}; driver {walls}"
                )
    ray.shutdown()


if __name__ == "__main__":
    main()
