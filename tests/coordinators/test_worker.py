"""The coordinators' background worker: a bounded queue, and a thread that ends with its owner."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

import datapredict as dp
from datapredict.coordinators._worker import BackgroundWorker
from datapredict.errors import InvalidOptionError, QueueFullError


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def in_thread(function, *args):
    box = {}

    def run():
        try:
            box["result"] = function(*args)
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


class Owner:
    """An object whose bound method is the worker's ``apply``, as a coordinator's is."""

    def __init__(self, applied, gate=None, **options):
        self.applied, self.gate = applied, gate
        self.entered = threading.Event()
        self.worker = BackgroundWorker(self.apply, "Owner", **options)

    def apply(self, item):
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if item == "boom":
            raise ValueError("boom")
        self.applied.append(item)


def blocked_worker(max_queued, when_full="wait"):
    """A started worker whose apply is stuck on item 0 until ``gate`` is set."""
    applied, gate = [], threading.Event()
    owner = Owner(applied, gate, max_queued=max_queued, when_full=when_full)
    owner.worker.start()
    owner.worker.submit(0)
    assert owner.entered.wait(10)
    return owner, applied, gate


# --------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_queued": 0}, "max_queued"),
        ({"max_queued": 2.5}, "max_queued"),
        ({"max_queued": True}, "max_queued"),
        ({"when_full": "drop"}, "when_full"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        BackgroundWorker(print, "w", **options)


# ------------------------------------------------------------------ the bound


def test_a_full_queue_refuses_an_item_when_asked_to_raise():
    owner, applied, gate = blocked_worker(max_queued=3, when_full="raise")
    for item in (1, 2, 3):
        owner.worker.submit(item)
    with pytest.raises(QueueFullError, match=r"max_queued=3.*when_full='raise'") as info:
        owner.worker.submit(4)
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(QueueFullError):
        owner.worker.submit_if_running(4)
    assert owner.worker._queue.qsize() == 3
    gate.set()
    owner.worker.stop()
    assert applied == [0, 1, 2, 3]


def test_a_full_queue_makes_the_producer_wait_for_room():
    owner, applied, gate = blocked_worker(max_queued=2)
    owner.worker.submit(1)
    owner.worker.submit(2)
    producer, box = in_thread(owner.worker.submit_if_running, 3)
    producer.join(0.2)
    assert producer.is_alive()  # waiting for room, not queued
    assert owner.worker._queue.qsize() == 2
    gate.set()
    producer.join(10)
    assert not producer.is_alive() and box == {"result": True}
    owner.worker.stop()
    assert applied == [0, 1, 2, 3]


def test_stop_while_a_producer_waits_applies_its_item():
    owner, applied, gate = blocked_worker(max_queued=1)
    owner.worker.submit(1)
    producer, box = in_thread(owner.worker.submit_if_running, 2)
    producer.join(0.1)
    assert producer.is_alive()
    stopper, stop_box = in_thread(owner.worker.stop)
    stopper.join(0.1)
    assert stopper.is_alive()  # stop() waits for item 0, which waits for the gate
    gate.set()
    for thread in (producer, stopper):
        thread.join(10)
        assert not thread.is_alive()
    assert box == {"result": True} and "error" not in stop_box
    assert applied == [0, 1, 2] and not owner.worker.running


def test_clear_and_flush_while_a_producer_waits():
    owner, applied, gate = blocked_worker(max_queued=1)
    owner.worker.submit(1)
    producer, box = in_thread(owner.worker.submit_if_running, 2)
    producer.join(0.1)
    assert owner.worker.clear() == 1  # item 1; then item 2 finds room
    producer.join(10)
    assert box == {"result": True}
    flusher, flush_box = in_thread(owner.worker.flush)
    gate.set()
    flusher.join(10)
    assert not flusher.is_alive() and "error" not in flush_box
    assert applied == [0, 2]
    owner.worker.stop()


def test_a_full_queue_without_a_thread_refuses_instead_of_waiting_forever():
    applied = []
    owner = Owner(applied, max_queued=2)
    owner.worker.submit(1)  # queued before start(): applied once the thread runs
    owner.worker.submit(2)
    with pytest.raises(QueueFullError, match="no worker thread runs"):
        owner.worker.submit(3)
    owner.worker.start()
    owner.worker.stop()
    assert applied == [1, 2]


def test_many_producers_racing_stop_never_exceed_the_bound_and_apply_each_item_once():
    max_queued, producers, per_producer = 4, 6, 150
    applied, sizes = [], []
    direct = threading.Lock()
    stopped = threading.Event()

    class Slow:
        def apply(self, item):
            if not stopped.is_set():
                sizes.append(worker._queue.qsize())
            time.sleep(0.0002)
            applied.append(item)

    slow = Slow()
    worker = BackgroundWorker(slow.apply, "stress", max_queued=max_queued)
    worker.start()

    def produce(producer):
        for k in range(per_producer):
            item = (producer, k)
            if not worker.submit_if_running(item):  # stopped: apply it here, as coordinators do
                with direct:
                    slow.apply(item)
            if producer == 0 and k == per_producer // 2:
                deadline = time.monotonic() + 30
                while len(sizes) <= 100 and time.monotonic() < deadline:
                    time.sleep(0.001)  # enough work applied under contention before stop
                stopped.set()
                worker.stop()

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    worker.stop()
    assert sorted(applied) == [(p, k) for p in range(producers) for k in range(per_producer)]
    for p in range(producers):
        assert [k for q, k in applied if q == p] == list(range(per_producer))
    assert len(sizes) > 100 and max(sizes) <= max_queued


# ----------------------------------------------------------- owner collected


def test_dropped_owners_do_not_leave_threads_behind():
    applied = []
    owners = [Owner(applied) for _ in range(50)]
    for owner in owners:
        owner.worker.start()
        owner.worker.submit(1)
        owner.worker.flush()
    threads = [owner.worker._thread for owner in owners]
    del owners, owner
    gc.collect()
    assert wait_until(lambda: not any(thread.is_alive() for thread in threads))
    assert not set(threads) & set(threading.enumerate())
    assert applied == [1] * 50


@pytest.mark.parametrize(
    "make",
    [
        lambda: dp.DistributedGradients(),
        lambda: dp.DistributedModelParameters(updates_per_merge=2),
    ],
)
def test_started_coordinators_dropped_without_stop_end_their_threads(make):
    threads = []
    for _ in range(50):
        coordinator = make()
        if isinstance(coordinator, dp.DistributedGradients):
            coordinator.set_model_parameters(np.zeros(3))
            coordinator.start()
            coordinator.add_gradients(np.ones(3))
        else:
            coordinator.set_main_model_parameters(np.zeros(3))
            coordinator.start()
            coordinator.add_model_parameters(np.ones(3))
        threads.append(coordinator.core.worker._thread)
    del coordinator
    gc.collect()
    assert wait_until(lambda: not any(thread.is_alive() for thread in threads))


def test_items_queued_when_the_owner_goes_are_dropped_and_flush_returns():
    applied, gate = [], threading.Event()
    owner = Owner(applied, gate)
    worker = owner.worker
    worker.start()
    worker.submit(0)
    assert owner.entered.wait(10)
    for item in (1, 2, 3):
        worker.submit(item)
    thread = worker._thread
    del owner
    gc.collect()
    gate.set()  # item 0 finishes; its owner is gone before item 1
    assert wait_until(lambda: not thread.is_alive())
    worker.flush()
    assert applied == [0]


def test_a_failed_item_does_not_keep_its_owner_alive():
    owner = Owner([])
    worker = owner.worker
    worker.start()
    worker.submit("boom")
    assert wait_until(lambda: worker._error is not None)
    thread = worker._thread
    del owner
    gc.collect()
    assert wait_until(lambda: not thread.is_alive())


def test_a_plain_function_is_held_and_applied():
    applied = []
    worker = BackgroundWorker(applied.append, "plain", max_queued=2)
    worker.start()
    for item in range(10):
        worker.submit(item)
    worker.stop()
    assert applied == list(range(10))


def test_eight_threads_pushing_to_a_started_server_keep_its_queue_bounded():
    """The probe that found the defect: producers faster than the server."""
    sizes = []

    class SlowReplace:
        def init(self, params):
            return 0

        def update(self, merged, state, params):
            sizes.append(server.core.worker._queue.qsize())
            time.sleep(0.0005)
            return merged.copy(), state + 1

    server = dp.DistributedGradients(server_optimizer=SlowReplace())
    server.set_model_parameters(np.zeros(4))
    server.start()
    pushers = [
        threading.Thread(target=lambda: [server.add_gradients(np.ones(4)) for _ in range(100)])
        for _ in range(8)
    ]
    for pusher in pushers:
        pusher.start()
    for pusher in pushers:
        pusher.join(60)
    server.stop()
    np.testing.assert_array_equal(server.get_model_parameters(), np.full(4, -800.0))
    assert server.stats.applied == 800
    assert 16 < max(sizes) <= 64  # the producers did fill it, up to the bound
