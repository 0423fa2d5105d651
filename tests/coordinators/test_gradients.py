"""DistributedGradients: the parameter server of the seed's gradients path."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from datapredict import errors
from datapredict.coordinators import DistributedGradients
from datapredict.merge.rules import Median, TrimmedMean
from datapredict.merge.server_optimizers import FedAvgM
from datapredict.merge.staleness import Polynomial

# ----------------------------------------------------------------------------- helpers


def make_server(params=None, **options) -> DistributedGradients:
    server = DistributedGradients(**options)
    server.set_model_parameters(np.zeros((3, 1)) if params is None else params)
    return server


def assert_same(actual, expected) -> None:
    """Exact equality of two parameter structures (array, list/tuple or dict)."""
    assert type(actual) is type(expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected)
        for a, b in zip(actual, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(actual, expected)


def snapshot(server: DistributedGradients):
    params, version = server.get_model_parameters(return_version=True)
    stats = server.stats
    return params, version, stats.received, stats.applied


class BlockingOptimizer:
    """A Replace-like server optimizer whose ``update`` waits for ``release``.

    While the worker thread waits inside ``update`` further pushes can only be queued.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def init(self, params):
        return 0

    def update(self, merged, state, params):
        self.entered.set()
        assert self.release.wait(10), "test never released the worker"
        return merged.copy(), state + 1


def call_in_thread(function, *args):
    """Run ``function`` in a thread; return (thread, box) where box collects result/error."""
    box: dict = {}

    def run():
        try:
            box["result"] = function(*args)
        except BaseException as exc:  # pragma: no cover - surfaced by the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


# ------------------------------------------------------------------ main parameters


@pytest.mark.parametrize(
    "params",
    [
        np.arange(6.0).reshape(3, 2),
        [np.arange(6.0).reshape(3, 2), np.arange(4.0).reshape(4, 1)],
        {"weight": np.arange(6.0).reshape(3, 2), "bias": np.array([0.5, -0.5])},
    ],
    ids=["array", "list", "dict"],
)
def test_set_and_get_return_copies_in_the_structure_handed_in(params):
    server = DistributedGradients()
    server.set_model_parameters(params)
    got = server.get_model_parameters()
    assert type(got) is type(params)
    if isinstance(params, dict):
        assert list(got) == list(params)
        pairs = [(got[key], params[key]) for key in params]
    elif isinstance(params, list):
        assert len(got) == len(params)
        pairs = list(zip(got, params, strict=True))
    else:
        pairs = [(got, params)]
    for out, original in pairs:
        assert out.shape == original.shape
        assert out.dtype == original.dtype
        np.testing.assert_array_equal(out, original)
        assert not np.shares_memory(out, original)
    # Writing to what was handed in or to what came out changes nothing inside.
    for out, original in pairs:
        original += 100.0
        out -= 100.0
    again = server.get_model_parameters()
    first = (
        again
        if not isinstance(again, dict | list)
        else (again[next(iter(again))] if isinstance(again, dict) else again[0])
    )
    assert first.max() == 5.0
    assert server.version == 1


def test_get_before_set_raises():
    with pytest.raises(errors.NotInitializedError) as info:
        DistributedGradients().get_model_parameters()
    assert isinstance(info.value, RuntimeError)
    assert "set_model_parameters" in str(info.value)


def test_set_model_parameters_accepts_float32_and_keeps_it():
    server = make_server(np.ones(4, dtype=np.float32))
    server.add_gradients(np.full(4, 0.5, dtype=np.float32))
    out = server.get_model_parameters()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full(4, 0.5, dtype=np.float32))


# ------------------------------------------------------------------ applying steps


def test_descent_applies_step_before_add_gradients_returns():
    server = make_server(np.array([[1.0], [2.0], [3.0]]))
    server.add_gradients(np.array([[0.5], [0.25], [-1.0]]))
    np.testing.assert_array_equal(server.get_model_parameters(), [[0.5], [1.75], [4.0]])
    assert server.version == 2
    assert server.stats.applied == 1


def test_ascent_adds_the_step():
    server = make_server(np.array([1.0, 2.0]), gradient_change_mode="ascent")
    server.add_gradients(np.array([0.5, -4.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [1.5, -2.0])


def test_mode_names_are_case_insensitive():
    server = make_server(np.array([1.0]), gradient_change_mode="Ascent")
    server.add_gradients(np.array([1.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [2.0])


def test_list_and_dict_steps_apply_per_layer():
    server = make_server([np.ones((2, 2)), np.zeros(3)])
    server.add_gradients([np.full((2, 2), 0.5), np.array([1.0, 2.0, 3.0])])
    first, second = server.get_model_parameters()
    np.testing.assert_array_equal(first, np.full((2, 2), 0.5))
    np.testing.assert_array_equal(second, [-1.0, -2.0, -3.0])

    server = make_server({"w": np.ones(2), "b": np.zeros(1)})
    # Keys in another order are matched by name.
    server.add_gradients({"b": np.array([2.0]), "w": np.array([1.0, -1.0])})
    out = server.get_model_parameters()
    np.testing.assert_array_equal(out["w"], [0.0, 2.0])
    np.testing.assert_array_equal(out["b"], [-2.0])


def test_float32_step_is_accepted_for_float64_main():
    server = make_server(np.zeros(2))
    server.add_gradients(np.array([1.0, 2.0], dtype=np.float32))
    np.testing.assert_array_equal(server.get_model_parameters(), [-1.0, -2.0])


def test_the_pushed_array_is_not_kept_or_changed():
    step = np.array([1.0, 2.0])
    server = make_server(np.zeros(2))
    server.add_gradients(step)
    step[:] = 100.0  # the caller reuses its buffer
    np.testing.assert_array_equal(server.get_model_parameters(), [-1.0, -2.0])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("descent", [1.25, 2.75]), ("ascent", [1.75, 3.25])],
)
def test_averaging_rate_hand_computed(mode, expected):
    # main = (1 - a) * main -/+ a * step with a = 0.25, main = [2, 4], step = [1, 1]
    server = make_server(np.array([2.0, 4.0]), gradient_change_mode=mode, averaging_rate=0.25)
    server.add_gradients(np.array([1.0, 1.0]))
    np.testing.assert_allclose(server.get_model_parameters(), expected, rtol=0, atol=1e-15)


def test_averaging_rate_applies_to_every_layer():
    # Unlike DataPredict's coordinator, a list of layers is not cancelled at a = 0 and
    # gets the same rule at a > 0.
    server = make_server([np.array([2.0]), np.array([4.0])], averaging_rate=0.5)
    server.add_gradients([np.array([2.0]), np.array([2.0])])
    first, second = server.get_model_parameters()
    np.testing.assert_array_equal(first, [0.0])
    np.testing.assert_array_equal(second, [1.0])


def test_set_parameters_changes_mode_and_rate_and_none_keeps_them():
    server = make_server(np.array([8.0]))
    server.set_parameters("ascent")
    server.add_gradients(np.array([1.0]))  # 8 + 1
    np.testing.assert_array_equal(server.get_model_parameters(), [9.0])
    server.set_parameters(averaging_rate=0.5)  # mode kept: ascent
    server.add_gradients(np.array([3.0]))  # 0.5 * 9 + 0.5 * 3
    np.testing.assert_array_equal(server.get_model_parameters(), [6.0])
    server.set_parameters(gradient_change_mode="descent")  # rate kept: 0.5
    server.add_gradients(np.array([2.0]))  # 0.5 * 6 - 0.5 * 2
    np.testing.assert_array_equal(server.get_model_parameters(), [2.0])
    server.set_parameters()
    server.add_gradients(np.array([2.0]))  # 0.5 * 2 - 0.5 * 2
    np.testing.assert_array_equal(server.get_model_parameters(), [0.0])


def test_set_parameters_rejects_bad_values_and_keeps_old_ones():
    server = make_server(np.array([1.0]))
    with pytest.raises(errors.InvalidOptionError) as info:
        server.set_parameters("sideways")
    assert isinstance(info.value, ValueError)
    assert "'descent'" in str(info.value) and "sideways" in str(info.value)
    with pytest.raises(errors.InvalidOptionError):
        server.set_parameters("ascent", averaging_rate=1.5)
    server.add_gradients(np.array([1.0]))  # still descent, rate 0
    np.testing.assert_array_equal(server.get_model_parameters(), [0.0])


def test_version_counts_every_applied_update():
    server = DistributedGradients()
    server.set_model_parameters(np.zeros(2))
    assert server.version == 1
    params, version = server.get_model_parameters(return_version=True)
    assert version == 1
    np.testing.assert_array_equal(params, [0.0, 0.0])
    for expected in (2, 3, 4):
        server.add_gradients(np.ones(2))
        assert server.get_model_parameters(return_version=True)[1] == expected
    server.set_model_parameters(np.ones(2))
    assert server.version == 5


# --------------------------------------------------------------------- background


def test_started_pushes_are_queued_and_applied_by_the_worker():
    blocker = BlockingOptimizer()
    server = make_server(np.zeros(2), server_optimizer=blocker)
    server.start()
    try:
        server.add_gradients(np.array([1.0, 1.0]))
        assert blocker.entered.wait(10)  # the worker is applying push 1, holding the lock
        # These return at once: they are queued, not applied (applying would need the lock).
        thread, box = call_in_thread(
            lambda: [server.add_gradients(np.array([2.0, 0.0])) for _ in range(3)]
        )
        thread.join(10)
        assert not thread.is_alive() and "error" not in box
    finally:
        blocker.release.set()
        server.stop()
    np.testing.assert_array_equal(server.get_model_parameters(), [-7.0, -1.0])
    assert server.stats.applied == 4
    assert server.version == 5


def test_stop_applies_what_is_queued_then_joins():
    blocker = BlockingOptimizer()
    server = make_server(np.zeros(1), server_optimizer=blocker)
    server.start()
    server.add_gradients(np.array([1.0]))
    assert blocker.entered.wait(10)
    for _ in range(5):
        server.add_gradients(np.array([1.0]))
    blocker.release.set()
    server.stop()
    np.testing.assert_array_equal(server.get_model_parameters(), [-6.0])
    # After stop, pushes apply synchronously again.
    server.add_gradients(np.array([1.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [-7.0])


def test_clear_gradients_drops_queued_pushes():
    blocker = BlockingOptimizer()
    server = make_server(np.zeros(1), server_optimizer=blocker)
    server.start()
    server.add_gradients(np.array([1.0]))
    assert blocker.entered.wait(10)
    for _ in range(4):
        server.add_gradients(np.array([10.0]))
    thread, box = call_in_thread(server.clear_gradients)
    # clear_gradients empties the queue first, then waits for the lock.
    for _ in range(1000):
        if server.core.worker._queue.qsize() == 0:
            break
        threading.Event().wait(0.005)
    blocker.release.set()
    thread.join(10)
    assert "error" not in box
    server.stop()
    np.testing.assert_array_equal(server.get_model_parameters(), [-1.0])
    assert server.stats.applied == 1


def test_start_twice_raises_and_stop_without_start_is_a_no_op():
    server = make_server()
    server.stop()
    server.start()
    try:
        with pytest.raises(errors.NotInitializedError):
            server.start()
    finally:
        server.stop()
    server.stop()


def _scripted_calls(server: DistributedGradients) -> None:
    rng = np.random.default_rng(7)
    for k in range(23):
        step = rng.standard_normal((4, 2))
        version = 1 if k % 2 else None  # pulled once, at version 1; staleness grows
        server.add_gradients(step, version=version, push_id=("child", k // 2) if k % 5 else None)
        if k == 11:
            server.set_parameters(averaging_rate=0.1)
        if k == 17:
            server.flush()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"gradient_change_mode": "ascent", "max_norm": 1.5},
        {"aggregation": "sync", "num_children": 3, "merge_type": "median"},
        {"staleness": Polynomial(a=1.0), "max_staleness": 1, "buffer_size": 2},
        {"server_optimizer": FedAvgM(learning_rate=0.5, momentum=0.9)},
    ],
    ids=["plain", "ascent-clip", "sync-median", "fedbuff", "fedavgm"],
)
def test_same_result_with_and_without_start(options):
    results = []
    for started in (False, True):
        server = DistributedGradients(**options)
        server.set_model_parameters(np.arange(8.0).reshape(4, 2))
        if started:
            server.start()
        _scripted_calls(server)
        server.stop()
        stats = server.stats
        results.append(
            (
                server.get_model_parameters(),
                server.version,
                stats.applied,
                stats.duplicates,
                stats.dropped_stale,
                dict(stats.staleness),
            )
        )
    (plain, *rest_plain), (background, *rest_background) = results
    np.testing.assert_array_equal(plain, background)
    assert rest_plain == rest_background


# ------------------------------------------------------------------ sync aggregation


def test_sync_collects_k_steps_and_applies_their_average_once():
    server = make_server(np.array([10.0, 10.0]), aggregation="sync", num_children=3)
    server.add_gradients(np.array([1.0, 3.0]))
    server.add_gradients(np.array([2.0, 3.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [10.0, 10.0])
    assert server.version == 1
    server.add_gradients(np.array([6.0, 0.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [7.0, 8.0])
    assert server.version == 2
    assert server.stats.applied == 1
    assert server.stats.received == 3


@pytest.mark.parametrize("rule", ["median", Median()])
def test_sync_median_ignores_one_outlier(rule):
    server = make_server(np.zeros(2), aggregation="sync", num_children=3, merge_type=rule)
    for step in ([1.0, 2.0], [1000.0, -1000.0], [3.0, 4.0]):
        server.add_gradients(np.array(step))
    np.testing.assert_array_equal(server.get_model_parameters(), [-3.0, -2.0])


def test_sync_trimmed_mean_rule_object():
    server = make_server(
        np.zeros(1), aggregation="sync", num_children=5, merge_type=TrimmedMean(beta=0.2)
    )
    for value in (1.0, 2.0, 3.0, 100.0, -100.0):
        server.add_gradients(np.array([value]))
    np.testing.assert_array_equal(server.get_model_parameters(), [-2.0])


def test_apply_pending_merges_a_partial_round():
    server = make_server(np.zeros(2), aggregation="sync", num_children=4)
    assert server.apply_pending() is False
    server.add_gradients(np.array([1.0, 0.0]))
    server.add_gradients(np.array([3.0, 2.0]))
    assert server.apply_pending() is True
    np.testing.assert_array_equal(server.get_model_parameters(), [-2.0, -1.0])
    assert server.version == 2
    assert server.apply_pending() is False
    # The next round starts empty.
    for _ in range(4):
        server.add_gradients(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [-3.0, -2.0])


def test_apply_pending_in_async_mode_does_nothing():
    server = make_server(np.zeros(1))
    assert server.apply_pending() is False


def test_sync_requires_num_children():
    with pytest.raises(errors.InvalidOptionError) as info:
        DistributedGradients(aggregation="sync")
    assert "num_children" in str(info.value) and "None" in str(info.value)
    with pytest.raises(errors.InvalidOptionError):
        DistributedGradients(aggregation="sync", num_children=0)


def test_clear_gradients_drops_a_partial_sync_round():
    server = make_server(np.zeros(1), aggregation="sync", num_children=2)
    server.add_gradients(np.array([5.0]))
    server.clear_gradients()
    server.add_gradients(np.array([1.0]))
    server.add_gradients(np.array([3.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [-2.0])


# ----------------------------------------------------------------- async aggregation


def test_polynomial_staleness_weights_and_max_staleness_drop():
    server = make_server(np.zeros(1), staleness=Polynomial(a=1.0), max_staleness=1)
    _, pulled = server.get_model_parameters(return_version=True)  # version 1
    server.add_gradients(np.array([4.0]), version=pulled)  # staleness 0: weight 1
    np.testing.assert_array_equal(server.get_model_parameters(), [-4.0])
    server.add_gradients(np.array([4.0]), version=pulled)  # staleness 1: weight 1/2
    np.testing.assert_array_equal(server.get_model_parameters(), [-6.0])
    server.add_gradients(np.array([4.0]), version=pulled)  # staleness 2 > 1: dropped
    np.testing.assert_array_equal(server.get_model_parameters(), [-6.0])
    stats = server.stats
    assert stats.dropped_stale == 1
    assert stats.received == 3 and stats.applied == 2
    assert dict(stats.staleness) == {0: 1, 1: 1}
    assert server.version == 3


def test_polynomial_staleness_by_name_uses_one_over_sqrt():
    server = make_server(np.zeros(1), staleness="polynomial")
    server.add_gradients(np.array([1.0]))  # version 1 -> 2
    server.add_gradients(np.array([1.0]))  # version 2 -> 3
    server.add_gradients(np.array([6.0]), version=0)  # staleness 3: 1 / sqrt(4)
    np.testing.assert_allclose(server.get_model_parameters(), [-5.0], rtol=0, atol=1e-15)


def test_version_from_the_future_is_rejected_and_changes_nothing():
    server = make_server(np.zeros(1))
    with pytest.raises(errors.InvalidOptionError) as info:
        server.add_gradients(np.array([1.0]), version=5)
    assert "5" in str(info.value) and "1" in str(info.value)
    with pytest.raises(errors.InvalidOptionError):
        server.add_gradients(np.array([1.0]), version=-1)
    assert server.stats.received == 0
    assert server.version == 1


def test_fedbuff_applies_the_mean_of_b_weighted_steps():
    server = make_server(np.zeros(2), staleness=Polynomial(a=1.0), buffer_size=2)
    server.add_gradients(np.array([2.0, 4.0]))  # weight 1, buffered
    np.testing.assert_array_equal(server.get_model_parameters(), [0.0, 0.0])
    assert server.version == 1
    server.add_gradients(np.array([4.0, 8.0]), version=0)  # staleness 1: weight 1/2
    # (1 * [2, 4] + 0.5 * [4, 8]) / 2
    np.testing.assert_array_equal(server.get_model_parameters(), [-2.0, -4.0])
    assert server.version == 2
    assert server.stats.applied == 1
    server.add_gradients(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(server.get_model_parameters(), [-2.0, -4.0])


def test_max_norm_clips_each_step():
    server = make_server(np.zeros(2), max_norm=1.0)
    server.add_gradients(np.array([3.0, 4.0]))  # norm 5 -> scaled by 1/5
    np.testing.assert_allclose(server.get_model_parameters(), [-0.6, -0.8], rtol=0, atol=1e-15)
    server.add_gradients(np.array([0.3, 0.4]))  # norm 0.5: unchanged
    np.testing.assert_allclose(server.get_model_parameters(), [-0.9, -1.2], rtol=0, atol=1e-15)


def test_max_norm_clips_before_a_sync_merge():
    server = make_server(np.zeros(2), aggregation="sync", num_children=2, max_norm=1.0)
    server.add_gradients(np.array([0.0, 10.0]))  # -> [0, 1]
    server.add_gradients(np.array([1.0, 0.0]))
    np.testing.assert_allclose(server.get_model_parameters(), [-0.5, -0.5], rtol=0, atol=1e-15)


def test_push_id_applies_each_push_exactly_once():
    server = make_server(np.zeros(1))
    server.add_gradients(np.array([1.0]), push_id=("a", 0))
    server.add_gradients(np.array([1.0]), push_id=("a", 0))  # retry: ignored
    server.add_gradients(np.array([2.0]), push_id=("a", 1))
    server.add_gradients(np.array([5.0]), push_id=("a", 0))  # old: ignored
    server.add_gradients(np.array([4.0]), push_id=("b", 0))  # another child
    np.testing.assert_array_equal(server.get_model_parameters(), [-7.0])
    stats = server.stats
    assert stats.duplicates == 2
    assert stats.applied == 3


def test_push_id_survives_a_checkpoint():
    server = make_server(np.zeros(1))
    server.add_gradients(np.array([1.0]), push_id=("a", 3))
    state = server.state_dict()
    restored = make_server(np.zeros(1))
    restored.load_state_dict(state)
    restored.add_gradients(np.array([1.0]), push_id=("a", 3))
    np.testing.assert_array_equal(restored.get_model_parameters(), [-1.0])
    assert restored.version == server.version


@pytest.mark.parametrize("push_id", [("a",), "a-0", ("a", -1), ("a", 1.5)])
def test_bad_push_id_is_rejected(push_id):
    server = make_server(np.zeros(1))
    with pytest.raises(errors.InvalidOptionError):
        server.add_gradients(np.array([1.0]), push_id=push_id)
    assert server.stats.received == 0


def test_fedavgm_server_optimizer_hand_computed():
    # merged = x - g (descent); v <- 0.5 v + (merged - x); x <- x + 0.5 v
    server = make_server(
        np.array([10.0]), server_optimizer=FedAvgM(learning_rate=0.5, momentum=0.5)
    )
    expected = []
    for g in (1.0, 1.0, 2.0):
        server.add_gradients(np.array([g]))
        expected.append(server.get_model_parameters()[0])
    # v1 = -1 -> 9.5; v2 = -0.5 - 1 = -1.5 -> 8.75; v3 = -0.75 - 2 = -2.75 -> 7.375
    assert expected == [9.5, 8.75, 7.375]


def test_server_optimizer_by_name():
    server = make_server(np.array([10.0]), server_optimizer="fedavgm")  # lr 1, momentum 0.9
    server.add_gradients(np.array([1.0]))
    server.add_gradients(np.array([1.0]))
    # v1 = -1 -> 9; v2 = -0.9 - 1 = -1.9 -> 7.1
    np.testing.assert_allclose(server.get_model_parameters(), [7.1], rtol=0, atol=1e-12)


# ------------------------------------------------------------------------ bad input


def _assert_rejected(server, before, push, error, builtin, *needles):
    with pytest.raises(error) as info:
        push()
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, errors.DataPredictError)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    server.flush()
    params, version, received, applied = snapshot(server)
    old_params, old_version, old_received, old_applied = before
    assert_same(params, old_params)
    assert (version, received, applied) == (old_version, old_received, old_applied)


BAD_STEPS = [
    pytest.param(
        [np.zeros((3, 1))],
        errors.ParameterStructureError,
        ValueError,
        ("gradients", "shape (3, 1)", "list"),
        id="list-for-array",
    ),
    pytest.param(
        np.zeros((4, 1)),
        errors.ParameterStructureError,
        ValueError,
        ("(4, 1)", "(3, 1)"),
        id="shape",
    ),
    pytest.param(
        np.zeros(3),
        errors.ParameterStructureError,
        ValueError,
        ("(3,)", "(3, 1)"),
        id="flat-shape",
    ),
    pytest.param(
        np.zeros((3, 1), dtype=np.int64),
        errors.DataTypeError,
        TypeError,
        ("float", "int64"),
        id="int",
    ),
    pytest.param(
        np.zeros((3, 1), dtype=np.complex128),
        errors.DataTypeError,
        TypeError,
        ("float", "complex128"),
        id="complex",
    ),
    pytest.param(
        np.array([[0.0], [np.nan], [0.0]]),
        errors.NonFiniteError,
        ValueError,
        ("gradients", "finite", "1 NaN"),
        id="nan",
    ),
    pytest.param(
        np.array([[np.inf], [0.0], [-np.inf]]),
        errors.NonFiniteError,
        ValueError,
        ("gradients", "finite", "2 NaN or infinite"),
        id="inf",
    ),
    pytest.param(
        np.full((3, 1), 1e200),
        None,
        None,
        (),
        id="huge-but-finite-is-accepted",
    ),
    pytest.param(
        [[1.0], [2.0], [3.0]],
        errors.ParameterStructureError,
        ValueError,
        ("gradients", "list"),
        id="nested-python-list",
    ),
    pytest.param("step", errors.DataTypeError, TypeError, ("gradients", "str"), id="string"),
]


@pytest.mark.parametrize("started", [False, True], ids=["sync-apply", "background"])
@pytest.mark.parametrize(("step", "error", "builtin", "needles"), BAD_STEPS)
def test_bad_steps_raise_and_change_nothing(started, step, error, builtin, needles):
    server = make_server(np.array([[1.0], [2.0], [3.0]]))
    server.add_gradients(np.ones((3, 1)))
    if started:
        server.start()
    try:
        before = snapshot(server)
        if error is None:  # the control case: a valid step goes through
            server.add_gradients(step)
            server.flush()
            assert server.stats.applied == 2
            return
        _assert_rejected(
            server, before, lambda: server.add_gradients(step), error, builtin, *needles
        )
        # The server still works afterwards.
        server.add_gradients(np.ones((3, 1)))
        server.flush()
        np.testing.assert_array_equal(server.get_model_parameters(), [[-1.0], [0.0], [1.0]])
    finally:
        server.stop()


@pytest.mark.parametrize("started", [False, True], ids=["sync-apply", "background"])
def test_bad_layer_in_a_list_is_named(started):
    server = make_server([np.zeros((5, 3)), np.zeros((3, 1))])
    if started:
        server.start()
    try:
        before = snapshot(server)
        _assert_rejected(
            server,
            before,
            lambda: server.add_gradients([np.zeros((4, 3)), np.zeros((3, 1))]),
            errors.ParameterStructureError,
            ValueError,
            "gradients[0]",
            "(4, 3)",
            "(5, 3)",
        )
        _assert_rejected(
            server,
            before,
            lambda: server.add_gradients([np.zeros((5, 3))]),
            errors.ParameterStructureError,
            ValueError,
            "2 arrays",
            "1",
        )
        _assert_rejected(
            server,
            before,
            lambda: server.add_gradients([np.zeros((5, 3)), np.array([[1.0], [np.nan], [0]])]),
            errors.NonFiniteError,
            ValueError,
            "finite",
        )
    finally:
        server.stop()


@pytest.mark.parametrize("started", [False, True], ids=["sync-apply", "background"])
def test_bad_dict_keys_are_named(started):
    server = make_server({"w": np.zeros(2), "b": np.zeros(1)})
    if started:
        server.start()
    try:
        before = snapshot(server)
        _assert_rejected(
            server,
            before,
            lambda: server.add_gradients({"w": np.zeros(2)}),
            errors.ParameterStructureError,
            ValueError,
            "'b'",
        )
        _assert_rejected(
            server,
            before,
            lambda: server.add_gradients({"w": np.zeros(2), "b": np.zeros(1), "c": np.zeros(1)}),
            errors.ParameterStructureError,
            ValueError,
            "'c'",
        )
    finally:
        server.stop()


@pytest.mark.parametrize("started", [False, True], ids=["sync-apply", "background"])
def test_float64_step_for_float32_main_is_rejected(started):
    server = make_server(np.zeros(3, dtype=np.float32))
    if started:
        server.start()
    try:
        before = snapshot(server)
        _assert_rejected(
            server,
            before,
            lambda: server.add_gradients(np.zeros(3)),
            errors.ParameterStructureError,
            ValueError,
            "float64",
            "float32",
        )
    finally:
        server.stop()


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_step_before_main_parameters_raises(started):
    server = DistributedGradients()
    if started:
        server.start()
    try:
        with pytest.raises(errors.NotInitializedError) as info:
            server.add_gradients(np.zeros(3))
        assert isinstance(info.value, RuntimeError)
        assert "set_model_parameters" in str(info.value)
        server.flush()
        assert server.stats.received == 0
        assert server.version == 0
    finally:
        server.stop()


@pytest.mark.parametrize("started", [False, True], ids=["sync-apply", "background"])
def test_bad_steps_in_sync_mode_do_not_fill_the_round(started):
    server = make_server(np.zeros(2), aggregation="sync", num_children=2)
    if started:
        server.start()
    try:
        server.add_gradients(np.array([2.0, 2.0]))
        with pytest.raises(errors.NonFiniteError):
            server.add_gradients(np.array([np.nan, 0.0]))
        with pytest.raises(errors.ParameterStructureError):
            server.add_gradients(np.zeros(3))
        server.flush()
        np.testing.assert_array_equal(server.get_model_parameters(), [0.0, 0.0])
        server.add_gradients(np.array([4.0, 0.0]))
        server.flush()
        np.testing.assert_array_equal(server.get_model_parameters(), [-3.0, -1.0])
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        ({"gradient_change_mode": "sideways"}, ("gradient_change_mode", "'descent'", "sideways")),
        ({"gradient_change_mode": 1}, ("gradient_change_mode", "1")),
        ({"aggregation": "eventually"}, ("aggregation", "'sync'", "eventually")),
        ({"merge_type": "mode"}, ("merge_type", "'average'", "mode")),
        ({"merge_type": Median}, ("merge_type", "Median")),
        ({"averaging_rate": 1.5}, ("averaging_rate", "1.5")),
        ({"averaging_rate": -0.1}, ("averaging_rate", "-0.1")),
        ({"buffer_size": 0}, ("buffer_size", "0")),
        ({"max_norm": 0.0}, ("max_norm", "0.0")),
        ({"max_staleness": -1}, ("max_staleness", "-1")),
        ({"staleness": "linear"}, ("staleness", "linear")),
        ({"server_optimizer": "sgd"}, ("server_optimizer", "sgd")),
        ({"aggregation": "sync", "num_children": 1.5}, ("num_children", "1.5")),
    ],
)
def test_bad_options_raise_invalid_option_error(options, needles):
    with pytest.raises(errors.InvalidOptionError) as info:
        DistributedGradients(**options)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_bad_main_parameters_are_rejected_and_old_ones_kept():
    server = make_server(np.array([1.0, 2.0]))
    with pytest.raises(errors.NonFiniteError):
        server.set_model_parameters(np.array([np.nan, 1.0]))
    with pytest.raises(errors.DataTypeError):
        server.set_model_parameters(np.array([1, 2]))
    with pytest.raises(errors.DataTypeError):
        server.set_model_parameters([])
    np.testing.assert_array_equal(server.get_model_parameters(), [1.0, 2.0])
    assert server.version == 1


def test_set_model_parameters_may_change_the_structure():
    server = make_server(np.zeros(2))
    server.set_model_parameters([np.zeros(3), np.zeros((2, 2))])
    server.add_gradients([np.ones(3), np.ones((2, 2))])
    first, _ = server.get_model_parameters()
    np.testing.assert_array_equal(first, -np.ones(3))
    with pytest.raises(errors.ParameterStructureError):
        server.add_gradients(np.zeros(2))


def test_repr_names_mode_and_version():
    server = make_server(gradient_change_mode="ascent")
    assert "ascent" in repr(server) and "version=1" in repr(server)


def test_main_vector_is_a_read_only_view_of_the_current_main():
    server = DistributedGradients()
    assert server.main_vector is None
    server.set_model_parameters(np.zeros((2, 2)))
    view = server.main_vector
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 1.0
    server.add_gradients(np.ones((2, 2)))
    np.testing.assert_array_equal(view, -np.ones(4))
    np.testing.assert_array_equal(server.get_model_parameters(), -np.ones((2, 2)))
