"""DistributedModelParameters: merge children's parameters every N updates."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from datapredict import errors
from datapredict.coordinators import DistributedModelParameters, ModelParametersMerger
from datapredict.merge.rules import Median
from datapredict.merge.server_optimizers import FedAvgM
from datapredict.models import LinearRegression

# ----------------------------------------------------------------------------- helpers


class FakeChild:
    """A tiny child: ``train`` adds ``sum(y)`` to its parameters, ``reinforce`` adds a reward."""

    def __init__(self, params=None) -> None:
        self.params = None if params is None else np.array(params, dtype=float)
        self.train_calls = 0
        self.reinforce_calls: list = []

    def train(self, X, y):
        self.train_calls += 1
        self.params = self.params + float(np.sum(y))
        return np.array([float(self.train_calls)])

    def reinforce(self, reward, *, scale=1.0):
        self.reinforce_calls.append((reward, scale))
        self.params = self.params + reward * scale
        return "reinforced"

    def get_model_parameters(self):
        return None if self.params is None else self.params.copy()

    def set_model_parameters(self, params):
        self.params = np.array(params, dtype=float, copy=True)


def shards(seed: int = 0, n_children: int = 3, rows: int = 40, features: int = 3):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(features)
    out = []
    for _ in range(n_children):
        X = rng.standard_normal((rows, features))
        out.append((X, X @ w + 0.5 + 0.01 * rng.standard_normal(rows)))
    return out


def coordinator_with_fakes(n_children=3, updates_per_merge=3, main=(0.0, 0.0), **options):
    coordinator = DistributedModelParameters(updates_per_merge=updates_per_merge, **options)
    coordinator.set_main_model_parameters(np.array(main))
    children = [FakeChild() for _ in range(n_children)]
    for child in children:
        coordinator.add_model(child)
    return coordinator, children


X1 = np.zeros((1, 1))


def y_sum(total: float, rows: int = 1) -> np.ndarray:
    return np.full(rows, total / rows)


# ----------------------------------------------------------------- main parameters


@pytest.mark.parametrize(
    "params",
    [
        np.arange(4.0).reshape(2, 2),
        [np.ones((2, 2)), np.zeros(3)],
        {"w": np.ones(2), "b": np.zeros(1)},
    ],
    ids=["array", "list", "dict"],
)
def test_main_parameters_round_trip_as_copies(params):
    coordinator = DistributedModelParameters()
    assert coordinator.get_main_model_parameters() is None
    coordinator.set_main_model_parameters(params)
    got = coordinator.get_main_model_parameters()
    assert type(got) is type(params)
    leaves_in = (
        list(params.values())
        if isinstance(params, dict)
        else (params if isinstance(params, list) else [params])
    )
    leaves_out = (
        list(got.values()) if isinstance(got, dict) else (got if isinstance(got, list) else [got])
    )
    for a, b in zip(leaves_out, leaves_in, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(a, b)
        a += 1.0
    again = coordinator.get_main_model_parameters()
    first = (
        next(iter(again.values()))
        if isinstance(again, dict)
        else (again[0] if isinstance(again, list) else again)
    )
    np.testing.assert_array_equal(first, leaves_in[0])
    params_version = coordinator.get_main_model_parameters(return_version=True)[1]
    assert params_version == coordinator.version == 1


def test_add_model_returns_zero_based_indices_and_sends_main_parameters():
    coordinator = DistributedModelParameters()
    coordinator.set_main_model_parameters(np.array([1.0, 2.0]))
    children = [FakeChild(), FakeChild(), FakeChild()]
    assert [coordinator.add_model(child) for child in children] == [0, 1, 2]
    for child in children:
        np.testing.assert_array_equal(child.params, [1.0, 2.0])
    assert coordinator.models == children


def test_set_main_model_parameters_reaches_every_child():
    coordinator, children = coordinator_with_fakes()
    coordinator.set_main_model_parameters(np.array([5.0, 6.0]))
    for child in children:
        np.testing.assert_array_equal(child.params, [5.0, 6.0])


def test_add_model_rejects_non_models():
    coordinator = DistributedModelParameters()
    for bad in (None, object(), np.zeros(2)):
        with pytest.raises(errors.DataPredictError) as info:
            coordinator.add_model(bad)
        assert type(bad).__name__ in str(info.value)
    assert coordinator.models == []


# ------------------------------------------------------------------ train and merge


def test_train_counts_and_merges_every_n_updates():
    coordinator, children = coordinator_with_fakes(updates_per_merge=3)
    assert coordinator.train(X1, y_sum(3.0), 0).tolist() == [1.0]
    assert coordinator.update_count == 1
    np.testing.assert_array_equal(children[0].params, [3.0, 3.0])
    np.testing.assert_array_equal(children[1].params, [0.0, 0.0])  # only child 0 trained
    coordinator.train(X1, y_sum(6.0), 1)
    assert coordinator.update_count == 2
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [0.0, 0.0])
    assert coordinator.version == 1
    coordinator.train(X1, y_sum(0.0), 2)  # third update: merge (3 + 6 + 0) / 3
    assert coordinator.update_count == 0
    assert coordinator.version == 2
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [3.0, 3.0])
    for child in children:
        np.testing.assert_array_equal(child.params, [3.0, 3.0])
    # The count restarts: the next merge needs three more updates.
    coordinator.train(X1, y_sum(3.0), 0)
    coordinator.train(X1, y_sum(3.0), 0)
    assert coordinator.version == 2
    coordinator.train(X1, y_sum(3.0), 1)
    # child 0: 3 + 6 = 9, child 1: 3 + 3 = 6, child 2: 3 -> mean 6
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [6.0, 6.0])
    assert [child.train_calls for child in children] == [3, 2, 1]


def test_every_call_counts_even_on_the_same_child():
    coordinator, _ = coordinator_with_fakes(updates_per_merge=2)
    coordinator.train(X1, y_sum(2.0), 1)
    coordinator.train(X1, y_sum(2.0), 1)
    # children: 0, 4, 0 -> mean 4/3
    np.testing.assert_allclose(coordinator.get_main_model_parameters(), [4 / 3, 4 / 3])


def test_updates_per_merge_one_merges_after_each_update():
    coordinator, _ = coordinator_with_fakes(n_children=2, updates_per_merge=1)
    coordinator.train(X1, y_sum(4.0), 0)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [2.0, 2.0])
    assert coordinator.version == 2


def test_linear_regression_children_merge_to_the_mean_of_their_parameters():
    data = shards()
    coordinator = DistributedModelParameters(updates_per_merge=3)
    template = LinearRegression(max_iterations=50, learning_rate=0.1, random_state=1)
    template.initialize(3)
    coordinator.set_main_model_parameters(template.get_model_parameters())
    children = [LinearRegression(max_iterations=50, learning_rate=0.1) for _ in data]
    for child in children:
        coordinator.add_model(child)
    expected = []
    for index, (X, y) in enumerate(data):
        twin = LinearRegression(max_iterations=50, learning_rate=0.1)
        twin.set_model_parameters(children[index].get_model_parameters())
        twin.train(X, y)
        expected.append(twin.get_model_parameters())
        costs = coordinator.train(X, y, index)
        assert costs.shape == (50,)
    merged = coordinator.get_main_model_parameters()
    np.testing.assert_allclose(merged, np.mean(expected, axis=0), rtol=0, atol=1e-12)
    assert merged.shape == (4, 1)
    for child in children:
        np.testing.assert_array_equal(child.get_model_parameters(), merged)


def test_merge_without_main_parameters_uses_the_children():
    coordinator = DistributedModelParameters(updates_per_merge=2)
    a, b = FakeChild([1.0]), FakeChild([3.0])
    coordinator.add_model(a)
    coordinator.add_model(b)
    coordinator.train(X1, y_sum(2.0), 0)  # a = 3
    coordinator.train(X1, y_sum(0.0), 1)  # b = 3... merge of 3 and 3
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [3.0])
    assert coordinator.version == 1


def test_children_without_parameters_are_left_out_of_the_merge():
    coordinator = DistributedModelParameters(updates_per_merge=1)
    coordinator.add_model(FakeChild())  # never initialised
    coordinator.add_model(FakeChild([2.0, 4.0]))
    coordinator.train(X1, y_sum(2.0), 1)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [4.0, 6.0])


def test_set_model_parameters_merger_changes_the_merge():
    coordinator, _ = coordinator_with_fakes(updates_per_merge=3)
    coordinator.set_model_parameters_merger(ModelParametersMerger(merge_type="median"))
    coordinator.train(X1, y_sum(1.0), 0)
    coordinator.train(X1, y_sum(100.0), 1)
    coordinator.train(X1, y_sum(4.0), 2)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [4.0, 4.0])
    with pytest.raises(errors.DataPredictError) as info:
        coordinator.set_model_parameters_merger("average")
    assert "str" in str(info.value)


def test_merger_given_to_the_constructor_with_a_rule_object():
    merger = ModelParametersMerger(merge_type=Median())
    coordinator, _ = coordinator_with_fakes(updates_per_merge=3, merger=merger)
    for index, total in enumerate((1.0, 100.0, 4.0)):
        coordinator.train(X1, y_sum(total), index)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [4.0, 4.0])


def test_fedavg_weights_children_by_the_rows_of_their_train_call():
    merger = ModelParametersMerger(merge_type="fedavg")
    coordinator, _ = coordinator_with_fakes(n_children=2, updates_per_merge=2, merger=merger)
    coordinator.train(np.zeros((1, 1)), y_sum(4.0, rows=1), 0)  # child 0: 4, 1 row
    coordinator.train(np.zeros((3, 1)), y_sum(8.0, rows=3), 1)  # child 1: 8, 3 rows
    # (1 * 4 + 3 * 8) / 4 = 7
    np.testing.assert_allclose(coordinator.get_main_model_parameters(), [7.0, 7.0])


def test_reinforce_passes_arguments_to_the_child_and_counts():
    coordinator, children = coordinator_with_fakes(n_children=2, updates_per_merge=2)
    result = coordinator.reinforce(2.0, scale=3.0, model_index=1)
    assert result == "reinforced"
    assert children[1].reinforce_calls == [(2.0, 3.0)]
    assert children[0].reinforce_calls == []
    assert coordinator.update_count == 1
    coordinator.reinforce(4.0, model_index=0)
    # children: 4 and 6 -> 5
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [5.0, 5.0])
    assert coordinator.update_count == 0


def test_reinforce_on_a_child_without_reinforce_raises():
    coordinator = DistributedModelParameters()
    coordinator.add_model(LinearRegression())
    with pytest.raises(errors.DataPredictError) as info:
        coordinator.reinforce(1.0, model_index=0)
    assert "reinforce" in str(info.value)
    assert coordinator.update_count == 0


# ------------------------------------------------------------ add_model_parameters


def test_add_model_parameters_queue_path_merges_every_n_pushes():
    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.add_model_parameters(np.array([0.0, 2.0]))
    assert coordinator.update_count == 1
    assert coordinator.get_main_model_parameters() is None
    coordinator.add_model_parameters(np.array([2.0, 6.0]))
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [1.0, 4.0])
    assert coordinator.update_count == 0
    assert coordinator.version == 1
    # The queue is emptied by the merge: the next one uses only the new pushes.
    coordinator.add_model_parameters(np.array([10.0, 10.0]))
    coordinator.add_model_parameters(np.array([20.0, 20.0]))
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [15.0, 15.0])


def test_add_model_parameters_with_lists_and_dicts():
    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.add_model_parameters([np.zeros((2, 2)), np.ones(1)])
    coordinator.add_model_parameters([np.ones((2, 2)), np.full(1, 3.0)])
    first, second = coordinator.get_main_model_parameters()
    np.testing.assert_array_equal(first, np.full((2, 2), 0.5))
    np.testing.assert_array_equal(second, [2.0])

    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.set_main_model_parameters({"w": np.zeros(2), "b": np.zeros(1)})
    coordinator.add_model_parameters({"w": np.ones(2), "b": np.ones(1)})
    coordinator.add_model_parameters({"b": np.full(1, 3.0), "w": np.full(2, 3.0)})
    out = coordinator.get_main_model_parameters()
    np.testing.assert_array_equal(out["w"], [2.0, 2.0])
    np.testing.assert_array_equal(out["b"], [2.0])


def test_add_model_parameters_copies_what_it_is_given():
    coordinator = DistributedModelParameters(updates_per_merge=2)
    pushed = np.array([1.0, 1.0])
    coordinator.add_model_parameters(pushed)
    pushed[:] = 100.0
    coordinator.add_model_parameters(np.array([3.0, 3.0]))
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [2.0, 2.0])


def test_fedavg_uses_the_weight_of_each_push():
    merger = ModelParametersMerger(merge_type="fedavg")
    coordinator = DistributedModelParameters(updates_per_merge=2, merger=merger)
    coordinator.add_model_parameters(np.array([0.0]), weight=1)
    coordinator.add_model_parameters(np.array([4.0]), weight=3)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [3.0])


def test_fedavg_without_a_weight_raises_before_queueing():
    merger = ModelParametersMerger(merge_type="fedavg")
    coordinator = DistributedModelParameters(updates_per_merge=2, merger=merger)
    coordinator.add_model_parameters(np.array([0.0]), weight=1)
    with pytest.raises(errors.DataPredictError) as info:
        coordinator.add_model_parameters(np.array([4.0]))
    assert "weight" in str(info.value)
    coordinator.add_model_parameters(np.array([4.0]), weight=1)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [2.0])


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_bad_weight_is_rejected(weight):
    coordinator = DistributedModelParameters(updates_per_merge=2)
    with pytest.raises(ValueError) as info:
        coordinator.add_model_parameters(np.array([0.0]), weight=weight)
    assert isinstance(info.value, errors.DataPredictError)
    assert "weight" in str(info.value)
    assert coordinator.update_count == 0


def test_children_and_pushes_are_merged_together():
    coordinator, _ = coordinator_with_fakes(n_children=2, updates_per_merge=2)
    coordinator.train(X1, y_sum(3.0), 0)  # child 0: 3, child 1: 0
    coordinator.add_model_parameters(np.array([9.0, 9.0]))
    # candidates: 3, 0, 9 -> 4
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [4.0, 4.0])


# --------------------------------------------------------- reset, merge_now, options


def test_reset_zeroes_the_count_and_drops_queued_pushes():
    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.add_model_parameters(np.array([100.0]))
    coordinator.reset()
    assert coordinator.update_count == 0
    coordinator.add_model_parameters(np.array([2.0]))
    assert coordinator.get_main_model_parameters() is None
    coordinator.add_model_parameters(np.array([4.0]))
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [3.0])


def test_merge_now_merges_what_is_counted():
    coordinator, _ = coordinator_with_fakes(updates_per_merge=10)
    assert coordinator.merge_now() is False
    coordinator.train(X1, y_sum(6.0), 0)
    assert coordinator.merge_now() is True
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [2.0, 2.0])
    assert coordinator.update_count == 0
    assert coordinator.version == 2
    assert coordinator.merge_now() is False


def test_set_parameters_changes_updates_per_merge():
    coordinator, _ = coordinator_with_fakes(updates_per_merge=5)
    coordinator.set_parameters(2)
    coordinator.train(X1, y_sum(3.0), 0)
    coordinator.train(X1, y_sum(3.0), 1)
    assert coordinator.version == 2
    coordinator.set_parameters(None)  # keeps 2
    with pytest.raises(errors.InvalidOptionError):
        coordinator.set_parameters(0)
    coordinator.train(X1, y_sum(3.0), 0)
    coordinator.train(X1, y_sum(3.0), 1)
    assert coordinator.version == 3


def test_server_optimizer_fedavgm_hand_computed():
    # delta = merged - x; v <- 0.5 v + delta; x <- x + 0.5 v
    coordinator = DistributedModelParameters(
        updates_per_merge=2, server_optimizer=FedAvgM(learning_rate=0.5, momentum=0.5)
    )
    coordinator.set_main_model_parameters(np.array([10.0]))
    coordinator.add_model_parameters(np.array([8.0]))
    coordinator.add_model_parameters(np.array([6.0]))  # merged 7: v = -3, x = 8.5
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [8.5])
    coordinator.add_model_parameters(np.array([7.0]))
    coordinator.add_model_parameters(np.array([6.0]))  # merged 6.5: v = -3.5, x = 6.75
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [6.75])


def test_server_optimizer_output_is_sent_to_the_children():
    coordinator, children = coordinator_with_fakes(
        n_children=2,
        updates_per_merge=2,
        main=(10.0,),
        server_optimizer=FedAvgM(learning_rate=0.5, momentum=0.5),
    )
    coordinator.train(X1, y_sum(-2.0), 0)  # 8
    coordinator.train(X1, y_sum(-4.0), 1)  # 6 -> merged 7 -> x = 8.5
    for child in children:
        np.testing.assert_array_equal(child.params, [8.5])


# --------------------------------------------------------------------- background


def test_background_mode_merges_on_the_worker_and_stop_finishes_a_due_merge():
    coordinator, children = coordinator_with_fakes(updates_per_merge=3)
    coordinator.start()
    try:
        coordinator.train(X1, y_sum(3.0), 0)
        coordinator.train(X1, y_sum(6.0), 1)
        coordinator.add_model_parameters(np.array([3.0, 3.0]))
    finally:
        coordinator.stop()
    # candidates: 3, 6, 0 (children) and 3 (push) -> 3
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [3.0, 3.0])
    assert coordinator.update_count == 0
    assert coordinator.version == 2
    for child in children:
        np.testing.assert_array_equal(child.params, [3.0, 3.0])


def test_background_merge_waits_for_the_worker():
    # The merge is applied by the worker, so it can be held back: a blocking merge rule
    # shows that stop() waits for the due merge and then applies it.
    entered, release = threading.Event(), threading.Event()

    def blocking_average(stacked, weights=None):
        entered.set()
        assert release.wait(10)
        return stacked.mean(axis=0)

    merger = ModelParametersMerger(merge_type=blocking_average)
    coordinator = DistributedModelParameters(updates_per_merge=2, merger=merger)
    coordinator.start()
    coordinator.add_model_parameters(np.array([1.0]))
    coordinator.add_model_parameters(np.array([3.0]))
    assert entered.wait(10)
    stopper = threading.Thread(target=coordinator.stop)
    stopper.start()
    stopper.join(0.05)
    assert stopper.is_alive()  # stop() waits for the merge in progress
    release.set()
    stopper.join(10)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [2.0])


@pytest.mark.parametrize(
    "calls",
    [
        [
            ("train", 0, 2.0),
            ("train", 1, 4.0),
            ("push", 5.0),
            ("train", 2, 1.0),
            ("reinforce", 0, 3.0),
            ("push", 1.0),
            ("merge_now",),
            ("train", 1, 2.0),
        ],
        [
            ("push", 1.0),
            ("push", 2.0),
            ("reset",),
            ("train", 0, 5.0),
            ("push", 3.0),
            ("train", 2, 1.0),
            ("push", 8.0),
            ("train", 1, 1.0),
        ],
    ],
)
def test_same_result_with_and_without_start(calls):
    results = []
    for started in (False, True):
        coordinator, children = coordinator_with_fakes(updates_per_merge=3)
        if started:
            coordinator.start()
        for call in calls:
            if call[0] == "train":
                coordinator.train(X1, y_sum(call[2]), call[1])
            elif call[0] == "reinforce":
                coordinator.reinforce(call[2], model_index=call[1])
            elif call[0] == "push":
                coordinator.add_model_parameters(np.array([call[1], -call[1]]))
            elif call[0] == "reset":
                coordinator.reset()
            else:
                coordinator.merge_now()
        coordinator.stop()
        results.append(
            (
                coordinator.get_main_model_parameters(),
                coordinator.version,
                coordinator.update_count,
                [child.params for child in children],
            )
        )
    plain, background = results
    np.testing.assert_array_equal(plain[0], background[0])
    assert plain[1:3] == background[1:3]
    for a, b in zip(plain[3], background[3], strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("index", [-1, 3, "0", True, 1.0, None])
@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_model_index_out_of_range_raises_and_trains_nothing(index, started):
    coordinator, children = coordinator_with_fakes(updates_per_merge=2)
    if started:
        coordinator.start()
    try:
        with pytest.raises(errors.ModelIndexError) as info:
            coordinator.train(X1, y_sum(1.0), index)
        assert isinstance(info.value, IndexError)
        message = str(info.value)
        assert "[0, 2]" in message and repr(index) in message
        with pytest.raises(errors.ModelIndexError):
            coordinator.reinforce(1.0, model_index=index)
        coordinator.flush()
        assert coordinator.update_count == 0
        assert [child.train_calls for child in children] == [0, 0, 0]
        assert all(child.reinforce_calls == [] for child in children)
    finally:
        coordinator.stop()


def test_numpy_integer_index_is_accepted():
    coordinator, children = coordinator_with_fakes(updates_per_merge=5)
    coordinator.train(X1, y_sum(1.0), np.int64(2))
    assert children[2].train_calls == 1


def test_model_index_without_children_names_the_count():
    coordinator = DistributedModelParameters()
    with pytest.raises(errors.ModelIndexError) as info:
        coordinator.train(X1, y_sum(1.0), 0)
    assert "0 children" in str(info.value)


@pytest.mark.parametrize("value", [0, -3, 1.5, True, "10", None])
def test_updates_per_merge_must_be_a_positive_integer(value):
    with pytest.raises(errors.InvalidOptionError) as info:
        DistributedModelParameters(updates_per_merge=value)
    assert isinstance(info.value, ValueError)
    assert "updates_per_merge" in str(info.value) and repr(value) in str(info.value)


def test_unknown_server_optimizer_is_rejected():
    with pytest.raises(errors.InvalidOptionError) as info:
        DistributedModelParameters(server_optimizer="sgd")
    assert "server_optimizer" in str(info.value) and "sgd" in str(info.value)


BAD_PUSHES = [
    pytest.param(
        np.zeros(3), errors.ParameterStructureError, ValueError, ("(3,)", "(2,)"), id="shape"
    ),
    pytest.param(
        [np.zeros(2)], errors.ParameterStructureError, ValueError, ("list",), id="structure"
    ),
    pytest.param(
        np.zeros(2, dtype=np.int64), errors.DataTypeError, TypeError, ("float", "int64"), id="int"
    ),
    pytest.param(
        np.zeros(2, dtype=np.complex64),
        errors.DataTypeError,
        TypeError,
        ("float", "complex64"),
        id="complex",
    ),
    pytest.param(np.array([np.nan, 0.0]), errors.NonFiniteError, ValueError, ("finite",), id="nan"),
    pytest.param(np.array([np.inf, 0.0]), errors.NonFiniteError, ValueError, ("finite",), id="inf"),
]


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
@pytest.mark.parametrize("with_main", [True, False], ids=["main-set", "first-push-defines"])
@pytest.mark.parametrize(("push", "error", "builtin", "needles"), BAD_PUSHES)
def test_bad_pushes_raise_and_queue_nothing(push, error, builtin, needles, with_main, started):
    coordinator = DistributedModelParameters(updates_per_merge=2)
    if with_main:
        coordinator.set_main_model_parameters(np.array([1.0, 1.0]))
    else:
        coordinator.add_model_parameters(np.array([1.0, 1.0]))
    if started:
        coordinator.start()
    try:
        count = coordinator.update_count
        with pytest.raises(error) as info:
            coordinator.add_model_parameters(push)
        assert isinstance(info.value, builtin)
        for needle in needles:
            assert needle in str(info.value), f"{needle!r} not in {info.value}"
        coordinator.flush()
        assert coordinator.update_count == count
        # The next valid push merges with what was accepted before, nothing else.
        coordinator.add_model_parameters(np.array([3.0, 3.0]))
        if with_main:
            coordinator.add_model_parameters(np.array([5.0, 5.0]))
    finally:
        coordinator.stop()
    expected = [4.0, 4.0] if with_main else [2.0, 2.0]
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), expected)


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_children_with_other_shapes_cannot_be_merged(started):
    coordinator = DistributedModelParameters(updates_per_merge=2)
    coordinator.add_model(FakeChild([1.0, 1.0]))
    coordinator.add_model(FakeChild([1.0, 1.0, 1.0]))
    if started:
        coordinator.start()
    try:
        coordinator.train(X1, y_sum(1.0), 0)
        with pytest.raises(errors.ParameterStructureError) as info:
            coordinator.train(X1, y_sum(1.0), 1)  # raised by the call itself
        assert isinstance(info.value, ValueError)
        assert "(3,)" in str(info.value) and "(2,)" in str(info.value)
        assert "child 1" in str(info.value)
        coordinator.flush()
        assert coordinator.update_count == 1
    finally:
        coordinator.stop()
    assert coordinator.get_main_model_parameters() is None
    assert coordinator.version == 0


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_child_drifting_from_the_main_shape_is_caught(started):
    coordinator, children = coordinator_with_fakes(n_children=2, updates_per_merge=2)
    children[1].params = np.zeros(3)  # the child changed shape behind our back
    if started:
        coordinator.start()
    try:
        coordinator.train(X1, y_sum(1.0), 0)
        with pytest.raises(errors.ParameterStructureError) as info:
            coordinator.train(X1, y_sum(1.0), 1)
        assert "(3,)" in str(info.value) and "(2,)" in str(info.value)
        coordinator.flush()
        assert coordinator.update_count == 1
    finally:
        coordinator.stop()
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [0.0, 0.0])
    assert coordinator.version == 1


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "started"])
def test_pushes_of_other_shapes_cannot_be_merged(started):
    coordinator = DistributedModelParameters(updates_per_merge=3)
    if started:
        coordinator.start()
    try:
        coordinator.add_model_parameters(np.zeros(2))
        with pytest.raises(errors.ParameterStructureError) as info:
            coordinator.add_model_parameters(np.zeros(3))
        assert isinstance(info.value, ValueError)
        assert "(3,)" in str(info.value) and "(2,)" in str(info.value)
        coordinator.flush()
        assert coordinator.update_count == 1
    finally:
        coordinator.stop()
    assert coordinator.get_main_model_parameters() is None


def test_bad_main_parameters_are_rejected_and_old_ones_kept():
    coordinator, children = coordinator_with_fakes()
    for bad in (np.array([np.nan, 0.0]), np.array([1, 2]), "params"):
        with pytest.raises(errors.DataPredictError):
            coordinator.set_main_model_parameters(bad)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [0.0, 0.0])
    assert coordinator.version == 1
    for child in children:
        np.testing.assert_array_equal(child.params, [0.0, 0.0])


def test_repr_names_the_options():
    coordinator, _ = coordinator_with_fakes(updates_per_merge=7)
    assert "updates_per_merge=7" in repr(coordinator) and "children=3" in repr(coordinator)


@pytest.mark.parametrize(
    ("push", "weight"),
    [(np.zeros(3), -1.0), (np.array([np.nan, 0.0, 0.0]), None), (np.zeros(3, dtype=int), None)],
)
def test_a_rejected_first_push_does_not_fix_the_structure(push, weight):
    coordinator = DistributedModelParameters(updates_per_merge=2)
    with pytest.raises(errors.DataPredictError):
        coordinator.add_model_parameters(push, weight=weight)
    coordinator.add_model_parameters(np.zeros(2))
    coordinator.add_model_parameters(np.ones(2))
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), [0.5, 0.5])


def test_main_vector_is_a_read_only_view_of_the_current_main():
    coordinator = DistributedModelParameters(2, ModelParametersMerger())
    assert coordinator.main_vector is None
    coordinator.set_main_model_parameters(np.zeros((2, 1)))
    view = coordinator.main_vector
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 1.0
    coordinator.add_model_parameters(np.full((2, 1), 2.0))
    coordinator.add_model_parameters(np.full((2, 1), 4.0))
    np.testing.assert_array_equal(coordinator.main_vector, [3.0, 3.0])
    assert not coordinator.main_vector.flags.writeable
