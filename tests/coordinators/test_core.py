"""CoordinatorCore: push outcomes, one copy per push, refused calls change nothing."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from datapredict import errors
from datapredict.backends.base import ChildResult
from datapredict.coordinators import (
    DistributedGradients,
    DistributedModelParameters,
    ModelParametersMerger,
    PushStatus,
)
from datapredict.coordinators.checkpointer import Checkpointer
from datapredict.coordinators.host import LocalCoordinator
from datapredict.merge import TrimmedMean
from datapredict.parameters import Layout

# ------------------------------------------------------------------ outcomes


def test_outcomes_of_async_pushes_name_what_happened():
    server = DistributedGradients(max_staleness=1)
    server.set_model_parameters(np.zeros(2))
    first = server.add_gradients(np.ones(2), push_id=(0, 0))
    assert first.status is PushStatus.APPLIED and first.version == 2
    duplicate = server.add_gradients(np.ones(2), push_id=(0, 0))
    assert duplicate.status is PushStatus.DUPLICATE and duplicate.dropped
    server.add_gradients(np.ones(2))
    stale = server.add_gradients(np.ones(2), version=1)  # 2 updates old, bound 1
    assert stale.status is PushStatus.DROPPED_STALE and stale.version == 3
    np.testing.assert_array_equal(server.get_model_parameters(), [-2.0, -2.0])


def test_outcomes_of_a_sync_round_are_buffered_then_applied():
    server = DistributedGradients(aggregation="sync", num_children=2)
    server.set_model_parameters(np.zeros(1))
    assert server.add_gradients(np.array([2.0])).status is PushStatus.BUFFERED
    outcome = server.add_gradients(np.array([4.0]))
    assert outcome.status is PushStatus.APPLIED and outcome.version == 2
    np.testing.assert_array_equal(server.get_model_parameters(), [-3.0])


def test_started_push_is_queued_and_applied_by_the_worker():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(1))
    server.start()
    try:
        assert server.add_gradients(np.array([1.0])).status is PushStatus.QUEUED
    finally:
        server.stop()
    np.testing.assert_array_equal(server.get_model_parameters(), [-1.0])


# ------------------------------------------------------------ one copy per push


class CountingArray(np.ndarray):
    """An ndarray subclass counting the new arrays of its own size made from it (copies)."""

    copies = 0

    def __array_finalize__(self, obj):
        if obj is not None and self.size == obj.size and not np.shares_memory(self, obj):
            CountingArray.copies += 1


def _result(payload: np.ndarray, child: int = 0) -> ChildResult:
    """A result whose push is ``payload``, as row 0 of a one-row block (a view)."""
    return ChildResult(child, payload[None, :], 1, n_samples=3, cost=0.0, seconds=0.0, row=0)


def test_in_process_async_step_is_applied_without_a_copy():
    layout = Layout.from_template(np.zeros(5))
    host = LocalCoordinator(DistributedGradients, np.zeros(5), layout, Checkpointer(None, 1))
    main_before = host.core.main
    step = np.arange(5.0)
    host.push(_result(step), (0, 0), {"round": 0, "next_seq": 1})
    # Applied in place: the main vector is the same array, now main - step.
    assert host.core.main is main_before
    np.testing.assert_array_equal(host.core.main, -step)
    assert not np.shares_memory(host.core.main, step)


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_in_process_round_copies_each_push_once_into_the_rows(strategy):
    layout = Layout.from_template(np.zeros(4))
    if strategy == "gradients":

        def make():
            return DistributedGradients(aggregation="sync", num_children=3)
    else:

        def make():
            return DistributedModelParameters(3, ModelParametersMerger())

    host = LocalCoordinator(make, np.zeros(4), layout, Checkpointer(None, 1))
    payloads = [np.full(4, float(k)) for k in range(3)]
    for k, payload in enumerate(payloads[:2]):
        host.push(_result(payload, k), (k, 0), {"round": 0, "next_seq": 1})
    rows = host.core.pending.rows
    # Each push is in the rows, copied once (not a view of the child's array).
    for k, payload in enumerate(payloads[:2]):
        np.testing.assert_array_equal(rows[k], payload)
        assert not np.shares_memory(rows, payload)
    counted = np.arange(4.0).view(CountingArray)
    CountingArray.copies = 0
    host.push(_result(counted, 2), (2, 0), {"round": 0, "next_seq": 1})
    assert CountingArray.copies == 0  # written into the rows by assignment, not copied
    expected = -1.0 if strategy == "gradients" else 1.0
    np.testing.assert_allclose(host.core.main[:1], [expected * np.mean([0, 1, 0])])


# ----------------------------------------------- refused calls change nothing


def test_an_overflowing_step_is_refused_and_main_kept():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(3))
    server.add_gradients(np.full(3, 1e308))
    with pytest.raises(errors.NonFiniteError, match="overflow"):
        server.add_gradients(np.full(3, 1e308))
    np.testing.assert_array_equal(server.get_model_parameters(), np.full(3, -1e308))
    assert server.stats.received == 1 and server.version == 2


def test_bad_push_id_is_refused_before_it_is_counted():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(2))
    with pytest.raises(errors.InvalidOptionError, match="push_id"):
        server.add_gradients(np.ones(2), push_id=([0], 1))
    assert server.stats.received == 0


@pytest.mark.parametrize("weight", ["3", [1, 2], True, -1.0, float("nan")])
def test_bad_weight_is_a_datapredict_error(weight):
    coordinator = DistributedModelParameters(2)
    with pytest.raises(errors.InvalidOptionError, match="weight"):
        coordinator.add_model_parameters(np.zeros(2), weight=weight)
    assert coordinator.update_count == 0


def test_a_fedavg_round_refused_for_zero_weights_leaves_nothing_queued():
    coordinator = DistributedModelParameters(2, ModelParametersMerger(merge_type="fedavg"))
    coordinator.set_main_model_parameters(np.zeros(2))
    coordinator.add_model_parameters(np.ones(2), weight=0)
    with pytest.raises(errors.DataPredictError):
        coordinator.add_model_parameters(np.ones(2), weight=0)  # all weights zero
    assert coordinator.update_count == 1  # the first push stays, the refused one is gone
    coordinator.add_model_parameters(np.full(2, 3.0), weight=2)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [3.0, 3.0])


def test_merger_must_be_a_merger_object():
    with pytest.raises(errors.InvalidOptionError, match="merger"):
        DistributedModelParameters(merger="median")


@pytest.mark.parametrize("make", [DistributedGradients, DistributedModelParameters])
def test_empty_main_parameters_are_refused(make):
    coordinator = make()
    setter = getattr(coordinator, "set_model_parameters", None) or (
        coordinator.set_main_model_parameters
    )
    with pytest.raises(errors.ParameterStructureError, match="at least one value"):
        setter(np.empty(0))
    assert coordinator.version == 0


def test_none_gradients_say_train_first():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(2))
    with pytest.raises(errors.NotInitializedError, match="train the model first"):
        server.add_gradients(None)


# ------------------------------------------------------------- children


class NaNChild:
    """A child whose training produces NaN on demand."""

    def __init__(self) -> None:
        self.params = np.zeros(2)

    def train(self, X, y):
        self.params = self.params + (np.nan if np.isnan(y).any() else float(np.sum(y)))
        return np.array([0.0])

    def get_model_parameters(self):
        return self.params.copy()

    def set_model_parameters(self, params):
        self.params = np.array(params, dtype=float)


def test_a_child_that_trained_to_nan_is_refused_and_rolled_back():
    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.set_main_model_parameters(np.zeros(2))
    child = NaNChild()
    coordinator.add_model(child)
    coordinator.train(np.zeros((1, 1)), np.array([1.0]), 0)
    with pytest.raises(errors.NonFiniteError):
        coordinator.train(np.zeros((1, 1)), np.array([np.nan]), 0)
    np.testing.assert_array_equal(child.params, [1.0, 1.0])  # its last accepted update
    assert coordinator.update_count == 1
    coordinator.train(np.zeros((1, 1)), np.array([1.0]), 0)  # the merge is due now
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [2.0, 2.0])


class GatedChild(NaNChild):
    """A child whose ``train`` waits at a gate, so a merge can run meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.started, self.gate = threading.Event(), threading.Event()

    def train(self, X, y):
        result = super().train(X, y)  # trained: its new parameters exist
        self.started.set()
        assert self.gate.wait(10)
        return result


class SignallingChild(NaNChild):
    """A child that signals each time it receives parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.received = threading.Event()

    def set_model_parameters(self, params):
        super().set_model_parameters(params)
        self.received.set()


def test_no_update_is_lost_when_a_child_finishes_during_a_merge():
    # Deterministic interleaving: the slow child has trained (+30) and is held inside
    # train() while the other two children's updates make a merge due; the merge
    # reaches the slow child only after its training ended.
    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.set_main_model_parameters(np.zeros(2))
    a, b, slow = NaNChild(), SignallingChild(), GatedChild()
    for child in (a, b, slow):
        coordinator.add_model(child)
    X = np.zeros((1, 1))
    slow_thread = threading.Thread(target=coordinator.train, args=(X, np.array([30.0]), 2))
    slow_thread.start()
    assert slow.started.wait(10)
    b.received.clear()

    def two_updates():
        coordinator.train(X, np.array([3.0]), 0)
        coordinator.train(X, np.array([6.0]), 1)  # merge: (3 + 6 + 0) / 3 = 3

    merging = threading.Thread(target=two_updates)
    merging.start()
    assert b.received.wait(10)  # the merge is broadcasting
    slow.gate.set()
    merging.join(10)
    slow_thread.join(10)
    assert not merging.is_alive() and not slow_thread.is_alive()
    assert coordinator.version == 2
    np.testing.assert_array_equal(a.params, [3.0, 3.0])
    np.testing.assert_array_equal(slow.params, [30.0, 30.0])  # its result is kept...
    assert coordinator.update_count == 1  # ...and counts toward the next merge
    coordinator.train(X, np.array([0.0]), 2)  # merge: 3, 3 and 30 + 0
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [12.0, 12.0])
    assert [c.params.tolist() for c in (a, b, slow)] == [[12.0, 12.0]] * 3


def test_a_full_queue_refuses_a_push_by_option_and_keeps_what_it_accepted():
    gate = threading.Event()

    def slow_average(stacked, weights=None):
        assert gate.wait(10)
        return stacked.mean(axis=0)

    coordinator = DistributedModelParameters(
        1, ModelParametersMerger(merge_type=slow_average), max_queued=2, when_full="raise"
    )
    coordinator.set_main_model_parameters(np.zeros(1))
    coordinator.start()
    try:
        accepted = [coordinator.add_model_parameters(np.array([1.0]))]
        refused = 0
        for value in (2.0, 3.0, 4.0, 5.0):
            try:
                accepted.append(coordinator.add_model_parameters(np.array([value])))
            except errors.QueueFullError:
                refused += 1
        assert refused >= 1 and all(o.status is PushStatus.QUEUED for o in accepted)
        gate.set()
    finally:
        coordinator.stop()
    assert coordinator.version == 1 + len(accepted)  # every accepted push was merged


def test_a_rules_need_for_children_is_checked_when_the_server_is_made():
    with pytest.raises(errors.InvalidOptionError, match=r"Krum.*2f \+ 2.*got K = 3"):
        DistributedGradients(aggregation="sync", num_children=3, merge_type="krum")
    DistributedGradients(aggregation="sync", num_children=5, merge_type="krum")  # 5 > 4


@pytest.mark.parametrize("rule", ["median", "krum", "geometric_median", TrimmedMean(beta=0.2)])
def test_a_sync_server_with_a_robust_rule_stays_finite_under_one_huge_push(rule):
    server = DistributedGradients(aggregation="sync", num_children=5, merge_type=rule)
    server.set_model_parameters(np.zeros(4))
    honest = np.random.default_rng(0).normal(0.0, 0.01, (4, 4)) + 1.0
    for row in honest:
        server.add_gradients(row)
    assert server.add_gradients(np.full(4, 1e160)).status is PushStatus.APPLIED
    main = server.get_model_parameters()
    assert np.isfinite(main).all()
    np.testing.assert_allclose(-main, np.median(honest, axis=0), atol=0.1)


def test_main_parameters_refused_by_a_child_change_nothing():
    from datapredict.models import LinearRegression

    coordinator = DistributedModelParameters(updates_per_merge=2)
    first, second = LinearRegression(), LinearRegression()
    first.initialize(3)
    second.initialize(3)
    coordinator.set_main_model_parameters(first.get_model_parameters())
    coordinator.add_model(first)
    coordinator.add_model(second)
    before, version = coordinator.get_main_model_parameters(return_version=True)
    with pytest.raises(errors.ParameterStructureError):
        coordinator.set_main_model_parameters(np.zeros((6, 1)))  # 5 features: refused
    after, version_after = coordinator.get_main_model_parameters(return_version=True)
    np.testing.assert_array_equal(after, before)
    assert version_after == version
    for child in (first, second):
        np.testing.assert_array_equal(child.get_model_parameters(), before)
    X, y = np.ones((4, 3)), np.ones(4)
    coordinator.train(X, y, 0)  # training goes on with the old structure
    coordinator.train(X, y, 1)
    assert coordinator.version == version + 1


def test_merger_set_data_refuses_missing_targets():
    with pytest.raises(errors.InvalidDataError, match="got None"):
        ModelParametersMerger().set_data(np.zeros((3, 2)), None)
