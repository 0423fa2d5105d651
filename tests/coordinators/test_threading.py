"""Thread safety of the coordinators: many threads at once lose no update."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from datapredict import errors
from datapredict.coordinators import DistributedGradients, DistributedModelParameters

N_THREADS = 8
PUSHES = 500


def run_threads(target, n_threads=N_THREADS):
    """Start ``n_threads`` threads on ``target(t)`` together; re-raise the first error."""
    barrier = threading.Barrier(n_threads)
    failures: list[BaseException] = []

    def run(t):
        try:
            barrier.wait()
            target(t)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a thread hung"
    if failures:
        raise failures[0]


def step_value(t: int, i: int) -> float:
    """Integer-valued steps: every sum below is exact in float64."""
    return float(1 + t + (i % 7))


TOTAL_STEP = sum(step_value(t, i) for t in range(N_THREADS) for i in range(PUSHES))


@pytest.mark.parametrize("structure", ["array", "list"])
@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_eight_threads_pushing_lose_no_update(started, structure):
    if structure == "array":
        # Large enough that numpy releases the GIL inside ``main -= step``.
        initial = np.full((40, 50), 1000.0)

        def step(value):
            return np.full((40, 50), value)
    else:
        initial = [np.full((5, 3), 1000.0), np.full(7, -1000.0)]

        def step(value):
            return [np.full((5, 3), value), np.full(7, 2.0 * value)]

    server = DistributedGradients()
    server.set_model_parameters(initial)
    if started:
        server.start()
    try:
        run_threads(lambda t: [server.add_gradients(step(step_value(t, i))) for i in range(PUSHES)])
    finally:
        server.stop()
    stats = server.stats
    assert stats.applied == N_THREADS * PUSHES == 4000
    assert stats.received == 4000
    assert server.version == 4001
    out = server.get_model_parameters()
    if structure == "array":
        np.testing.assert_array_equal(out, np.full((40, 50), 1000.0 - TOTAL_STEP))
    else:
        np.testing.assert_array_equal(out[0], np.full((5, 3), 1000.0 - TOTAL_STEP))
        np.testing.assert_array_equal(out[1], np.full(7, -1000.0 - 2.0 * TOTAL_STEP))


def test_pushes_racing_stop_are_never_stranded():
    # stop() while eight threads push: each push is either queued before the stop marker
    # (applied by stop) or applied by its caller; none is left behind in the queue.
    for _ in range(10):
        server = DistributedGradients()
        server.set_model_parameters(np.zeros(8))
        server.start()
        started = threading.Barrier(N_THREADS + 1)

        def push(t, server=server, started=started):
            started.wait()
            for i in range(100):
                server.add_gradients(np.full(8, step_value(t, i)))

        threads = [threading.Thread(target=push, args=(t,)) for t in range(N_THREADS)]
        for thread in threads:
            thread.start()
        started.wait()
        server.stop()  # races the pushes
        for thread in threads:
            thread.join(30)
        total = sum(step_value(t, i) for t in range(N_THREADS) for i in range(100))
        assert server.stats.applied == 800
        np.testing.assert_array_equal(server.get_model_parameters(), np.full(8, -total))


def test_pushes_racing_start_and_stop_are_each_applied_once():
    # The main thread toggles background mode while eight threads push: a push must
    # never be stranded in the queue behind a stop, nor applied twice.
    server = DistributedGradients(gradient_change_mode="ascent")
    server.set_model_parameters(np.zeros(32))
    done = threading.Event()

    def toggle():
        while not done.is_set():
            server.start()
            server.stop()

    toggler = threading.Thread(target=toggle)
    toggler.start()
    try:
        run_threads(
            lambda t: [server.add_gradients(np.full(32, step_value(t, i))) for i in range(PUSHES)]
        )
    finally:
        done.set()
        toggler.join(30)
        server.stop()
    assert server.stats.applied == 4000
    np.testing.assert_array_equal(server.get_model_parameters(), np.full(32, TOTAL_STEP))


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_readers_never_see_a_half_applied_step(started):
    # Every step is uniform, so a consistent snapshot has all elements equal.
    size = 200_000
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(size))
    step = np.ones(size)
    if started:
        server.start()
    torn: list[float] = []

    def work(t):
        if t < 2:
            for _ in range(30):
                params, version = server.get_model_parameters(return_version=True)
                if params.max() != params.min():
                    torn.append(float(params.max() - params.min()))
                # The version matches the content: set counts 1, each push 1.
                if -params[0] != version - 1:
                    torn.append(-1.0)
        else:
            for _ in range(20):
                server.add_gradients(step)

    try:
        run_threads(work, n_threads=4)
    finally:
        server.stop()
    assert torn == []
    np.testing.assert_array_equal(server.get_model_parameters(), np.full(size, -40.0))


def test_sync_rounds_from_eight_threads_apply_every_step_once():
    server = DistributedGradients(aggregation="sync", num_children=N_THREADS)
    server.set_model_parameters(np.zeros(3))
    server.start()
    try:
        run_threads(
            lambda t: [server.add_gradients(np.full(3, float(N_THREADS))) for _ in range(100)]
        )
    finally:
        server.stop()
    # 800 pushes = 100 rounds of 8; each round applies the mean, 8.
    assert server.stats.applied == 100
    np.testing.assert_array_equal(server.get_model_parameters(), np.full(3, -800.0))


def test_exactly_once_with_retries_from_eight_threads():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(2))
    server.start()

    def push(t):
        for seq in range(100):
            for _ in range(3):  # every push is retried twice
                server.add_gradients(np.ones(2), push_id=(f"child-{t}", seq))

    try:
        run_threads(push)
    finally:
        server.stop()
    stats = server.stats
    assert stats.applied == 800
    assert stats.duplicates == 1600
    np.testing.assert_array_equal(server.get_model_parameters(), [-800.0, -800.0])


def test_bad_pushes_from_other_threads_change_nothing():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(4))
    server.start()
    rejected = []

    def push(t):
        for i in range(200):
            if t % 2:
                try:
                    server.add_gradients(
                        np.array([np.nan, 0.0, 0.0, 0.0]) if i % 2 else np.zeros(5)
                    )
                except (errors.NonFiniteError, errors.ParameterStructureError):
                    rejected.append(1)
            else:
                server.add_gradients(np.ones(4))

    try:
        run_threads(push)
    finally:
        server.stop()
    assert len(rejected) == 800
    assert server.stats.applied == 800
    np.testing.assert_array_equal(server.get_model_parameters(), np.full(4, -800.0))


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_eight_threads_pushing_parameters_merge_every_n(started):
    coordinator = DistributedModelParameters(updates_per_merge=4)
    coordinator.set_main_model_parameters(np.zeros(3))
    if started:
        coordinator.start()
    try:
        run_threads(
            lambda t: [coordinator.add_model_parameters(np.full(3, 2.0)) for _ in range(100)]
        )
    finally:
        coordinator.stop()
    # 800 pushes of identical parameters: 200 merges, nothing left over.
    assert coordinator.version == 1 + 200
    assert coordinator.update_count == 0
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), np.full(3, 2.0))


class CountingChild:
    """Adds 1 to its parameters per train call; counts calls."""

    def __init__(self) -> None:
        self.params = np.zeros(2)
        self.calls = 0

    def train(self, X, y):
        self.calls += 1
        self.params = self.params + 1.0
        return self.calls

    def get_model_parameters(self):
        return self.params.copy()

    def set_model_parameters(self, params):
        self.params = np.array(params, dtype=float)


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_eight_threads_training_their_own_children(started):
    coordinator = DistributedModelParameters(updates_per_merge=8)
    children = [CountingChild() for _ in range(N_THREADS)]
    for child in children:
        coordinator.add_model(child)
    if started:
        coordinator.start()
    try:
        run_threads(
            lambda t: [coordinator.train(np.zeros((1, 1)), np.zeros(1), t) for _ in range(50)]
        )
    finally:
        coordinator.stop()
    assert [child.calls for child in children] == [50] * N_THREADS
    # 400 updates: 50 merges of 8, nothing left over.
    assert coordinator.version == 50
    assert coordinator.update_count == 0
    merged = coordinator.get_main_model_parameters()
    # Each merge moves the common parameters; all children end equal to the main ones.
    for child in children:
        np.testing.assert_array_equal(child.params, merged)
    # Its value depends on the interleaving: a child whose training ends while a merge
    # runs keeps its result (trained from the parameters it started with) and brings it
    # to the next merge, so a merge may average rows of different bases.
    assert 0.0 < merged[0] < 400.0
