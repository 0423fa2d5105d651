"""Behaviour every model shares, checked on each of them (scikit-learn ``test_common`` style).

Each case builds a small model and the kind of target it learns; the tests below never
look at which model they are given.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from datapredict import LinearRegression, LogisticRegression, NeuralNetwork, errors
from datapredict.models import ChildModel, GradientChild


@dataclass(frozen=True)
class Case:
    name: str
    model_class: type
    defaults: dict[str, Any]
    target: Callable[[np.ndarray], np.ndarray]
    structural: tuple[str, Any]  # an option that cannot change once parameters exist

    def make(self, **options: Any):
        return self.model_class(**{**self.defaults, **options})


def regression_target(X: np.ndarray) -> np.ndarray:
    return X @ np.array([1.5, -2.0, 0.5]) + 0.3


def binary_target(X: np.ndarray) -> np.ndarray:
    return np.where(X[:, 0] - X[:, 1] > 0, "yes", "no")


def three_class_target(X: np.ndarray) -> np.ndarray:
    return np.digitize(X[:, 0] + 0.5 * X[:, 2], [-0.5, 0.5]) * 10


CASES = [
    Case("linear", LinearRegression, {"learning_rate": 0.1}, regression_target,
         ("fit_intercept", False)),
    Case("logistic-binary", LogisticRegression, {"learning_rate": 0.5}, binary_target,
         ("fit_intercept", False)),
    Case("logistic-softmax", LogisticRegression, {"learning_rate": 0.5}, three_class_target,
         ("classes", (0, 10, 20, 30))),
    Case("nn-classifier", NeuralNetwork, {"hidden_layer_sizes": (5,), "learning_rate": 0.5},
         three_class_target, ("hidden_layer_sizes", (6,))),
    Case("nn-regressor", NeuralNetwork,
         {"hidden_layer_sizes": (4, 3), "activation": "tanh", "task": "regression"},
         regression_target, ("task", "classification")),
]  # fmt: skip


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request) -> Case:
    return request.param


@pytest.fixture
def data(case) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(1).standard_normal((30, 3))
    return X, case.target(X)


def make_factory(case: Case, **options: Any) -> Callable[[], Any]:
    return lambda: case.make(random_state=0, max_iterations=3, **options)


def as_list(params) -> list[np.ndarray]:
    return [params] if isinstance(params, np.ndarray) else list(params)


def assert_params_equal(a, b) -> None:
    for x, y in zip(as_list(a), as_list(b), strict=True):
        np.testing.assert_array_equal(x, y)


def flat(params) -> np.ndarray:
    return np.concatenate([p.ravel() for p in as_list(params)])


# ---------------------------------------------------------------- interface


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.InvalidOptionError, ValueError),
        (errors.InvalidDataError, ValueError),
        (errors.NonFiniteError, ValueError),
        (errors.ParameterStructureError, ValueError),
        (errors.DataTypeError, TypeError),
        (errors.NotInitializedError, RuntimeError),
    ],
)
def test_errors_are_also_the_builtin_a_user_catches(error, builtin):
    assert issubclass(error, errors.DataPredictError)
    assert issubclass(error, builtin)


def test_models_are_gradient_children(case):
    model = case.make()
    assert isinstance(model, ChildModel) and isinstance(model, GradientChild)


def test_train_returns_one_cost_per_iteration_and_lowers_it(case, data):
    model = case.make(max_iterations=25, random_state=0)
    costs = model.train(*data)

    assert costs.shape == (25,)
    assert np.isfinite(costs).all()
    assert costs[-1] < 0.9 * costs[0]


def test_train_continues_from_the_current_parameters(case, data):
    split, whole = case.make(random_state=0), case.make(random_state=0)
    split.set_parameters(3)
    first = split.train(*data)
    split.set_parameters(4)
    second = split.train(*data)
    whole.set_parameters(7)

    np.testing.assert_array_equal(np.concatenate([first, second]), whole.train(*data))
    assert_params_equal(split.get_model_parameters(), whole.get_model_parameters())


@pytest.mark.parametrize("how", ["positional", "keyword"])
def test_set_parameters_one_means_exactly_one_step(case, data, how):
    model, twin = case.make(random_state=0), case.make(random_state=0, max_iterations=2)
    if how == "positional":
        model.set_parameters(1)
    else:
        model.set_parameters(max_iterations=1)

    costs = [model.train(*data), model.train(*data)]
    assert model.get_params()["max_iterations"] == 1
    assert [c.shape for c in costs] == [(1,), (1,)]
    assert costs[1][0] < costs[0][0]
    np.testing.assert_array_equal(np.concatenate(costs), twin.train(*data))
    assert_params_equal(model.get_model_parameters(), twin.get_model_parameters())


def test_random_state_makes_training_reproducible(case, data):
    a, b, c = (case.make(random_state=seed, max_iterations=3) for seed in (7, 7, 8))
    costs = [m.train(*data) for m in (a, b, c)]

    np.testing.assert_array_equal(costs[0], costs[1])
    assert_params_equal(a.get_model_parameters(), b.get_model_parameters())
    assert not np.array_equal(flat(a.get_model_parameters()), flat(c.get_model_parameters()))


# ---------------------------------------------------------------- parameters


def test_get_model_parameters_is_none_before_training_then_a_copy(case, data):
    model = make_factory(case)()
    assert model.get_model_parameters() is None
    model.train(*data)

    params = model.get_model_parameters()
    kept = [p.copy() for p in as_list(params)]
    for p in as_list(params):
        p += 100.0
    assert_params_equal(model.get_model_parameters(), kept)


def test_set_model_parameters_copies_and_round_trips(case, data):
    trained = make_factory(case)()
    trained.train(*data)
    params = trained.get_model_parameters()
    kept = [p.copy() for p in as_list(params)]

    classes = getattr(trained, "classes_", None)  # parameters do not carry the class labels
    fresh = make_factory(case, **({} if classes is None else {"classes": tuple(classes)}))()
    fresh.set_model_parameters(params)
    for p in as_list(params):
        p *= -3.0
    assert_params_equal(fresh.get_model_parameters(), kept)
    np.testing.assert_array_equal(fresh.predict(data[0]), trained.predict(data[0]))


def test_training_starts_from_set_parameters(case, data):
    source, other = make_factory(case)(), case.make(random_state=99, max_iterations=3)
    source.train(*data)
    other.train(*data)
    other.set_model_parameters(source.get_model_parameters())
    twin = make_factory(case)()
    twin.train(*data)

    np.testing.assert_array_equal(other.train(*data)[0], twin.train(*data)[0])


def _wrong_shape(params):
    arrays = as_list(params)
    arrays[0] = np.zeros((arrays[0].shape[0] + 1, arrays[0].shape[1]))
    return arrays[0] if isinstance(params, np.ndarray) else arrays


def _wrong_container(params):
    return [params] if isinstance(params, np.ndarray) else params[0]


def _non_finite(params):
    arrays = as_list(params)
    arrays[-1][-1, -1] = np.nan
    return arrays[0] if isinstance(params, np.ndarray) else arrays


def _integer(params):
    arrays = [p.astype(np.int64) for p in as_list(params)]
    return arrays[0] if isinstance(params, np.ndarray) else arrays


BAD_PARAMETERS = {
    "shape": (_wrong_shape, errors.ParameterStructureError, ["params", "shape"]),
    "container": (_wrong_container, errors.ParameterStructureError, ["params", "must be"]),
    "non-finite": (_non_finite, errors.NonFiniteError, ["params", "must be finite"]),
    "integer": (_integer, errors.DataTypeError, ["params", "int64"]),
}


@pytest.mark.parametrize("bad", sorted(BAD_PARAMETERS))
def test_set_model_parameters_rejects_bad_parameters(case, data, bad, assert_rejected_unchanged):
    source = make_factory(case)()
    source.train(*data)
    spoil, error, fragments = BAD_PARAMETERS[bad]
    params = spoil(source.get_model_parameters())

    info = assert_rejected_unchanged(
        make_factory(case), *data, lambda m: m.set_model_parameters(params), error, *fragments
    )
    if bad == "shape":
        expected = as_list(source.get_model_parameters())[0].shape
        assert str(expected) in str(info.value)
        assert str(as_list(params)[0].shape) in str(info.value)


@pytest.mark.parametrize("bad", ["shape", "container", "non-finite"])
def test_untrained_model_rejects_unusable_parameters(case, data, bad, assert_rejected_unchanged):
    source = make_factory(case)()
    source.train(*data)
    spoil, error, _ = BAD_PARAMETERS[bad]
    if bad == "shape":  # a new model adopts any consistent shape; a broken chain is unusable
        params = as_list(source.get_model_parameters())
        spoil, error = (lambda p: [p[0].T]), errors.ParameterStructureError
        if len(params) == 1:
            spoil = lambda p: p[0][:1]  # noqa: E731 - one row: no room for a feature
    params = spoil(source.get_model_parameters())

    assert_rejected_unchanged(
        make_factory(case), *data, lambda m: m.set_model_parameters(params), error,
        train_first=False,
    )  # fmt: skip


def test_parameters_with_an_empty_matrix_are_refused(case, data, assert_rejected_unchanged):
    source = make_factory(case)()
    source.train(*data)
    arrays = as_list(source.get_model_parameters())
    arrays[-1] = arrays[-1][:, :0]  # no output column
    params = arrays[0] if len(arrays) == 1 else arrays

    assert_rejected_unchanged(
        make_factory(case), *data, lambda m: m.set_model_parameters(params),
        errors.ParameterStructureError, "column", train_first=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "params"),
    [(LinearRegression(), np.zeros((4, 0))), (LinearRegression(), np.zeros((0, 1))),
     (LogisticRegression(), np.zeros((4, 0))),
     (NeuralNetwork(hidden_layer_sizes=(2,)), [np.zeros((4, 2)), np.zeros((3, 0))]),
     (NeuralNetwork(hidden_layer_sizes=(2,)), [np.zeros((4, 0)), np.zeros((1, 1))])],
    ids=["linear no column", "linear no row", "logistic no column", "network no output",
         "network empty layer"],
)  # fmt: skip
def test_empty_parameters_are_refused_by_a_new_model(model, params):
    with pytest.raises(errors.ParameterStructureError, match="params for"):
        model.set_model_parameters(params)
    assert not model.is_initialized


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch_size", [None, 8])
def test_get_gradients_is_the_step_the_last_iteration_applied(case, data, optimizer, batch_size):
    model = case.make(random_state=0, optimizer=optimizer, batch_size=batch_size)
    model.set_are_gradients_saved(True)
    model.set_parameters(2)
    model.train(*data)  # the rule's state (velocity, moments) is now non-trivial
    before = model.get_model_parameters()
    model.set_parameters(1)
    model.train(*data)
    step, after = model.get_gradients(), model.get_model_parameters()

    for b, s, a in zip(as_list(before), as_list(step), as_list(after), strict=True):
        assert s.shape == b.shape and np.any(s != 0)
        np.testing.assert_array_equal(b - s, a)


def test_get_gradients_keeps_the_last_step_of_many(case, data):
    many, stepwise = case.make(random_state=0), case.make(random_state=0)
    for model in (many, stepwise):
        model.set_are_gradients_saved(True)
    many.set_parameters(3)
    many.train(*data)
    stepwise.set_parameters(1)
    for _ in range(3):
        stepwise.train(*data)

    assert_params_equal(many.get_gradients(), stepwise.get_gradients())


def test_get_gradients_returns_a_copy(case, data):
    model = make_factory(case)()
    model.set_are_gradients_saved(True)
    model.train(*data)
    step = model.get_gradients()
    kept = [s.copy() for s in as_list(step)]
    for s in as_list(step):
        s += 1.0
    assert_params_equal(model.get_gradients(), kept)


def test_get_gradients_needs_saving_turned_on(case, data):
    model = make_factory(case)()
    model.train(*data)
    with pytest.raises(errors.NotInitializedError, match="set_are_gradients_saved"):
        model.get_gradients()

    model.set_are_gradients_saved(True)
    model.train(*data)
    model.set_are_gradients_saved(False)
    with pytest.raises(RuntimeError):
        model.get_gradients()
    with pytest.raises(errors.InvalidOptionError, match="a bool"):
        model.set_are_gradients_saved("yes")


# ---------------------------------------------------------------- bad data


def _nan_last_row(X, y):
    X = X.copy()
    X[-1, -1] = np.nan
    return X, y


def _inf_first_row(X, y):
    X = X.copy()
    X[0, 1] = np.inf
    return X, y


def _minus_inf(X, y):
    X = X.copy()
    X[13, 0] = -np.inf
    return X, y


def _string_in_object(X, y):
    X = X.astype(object)
    X[4, 1] = "1.5"  # a string, even one that spells a number, is not a number
    return X, y


def _dict_in_object(X, y):
    X = X.astype(object)
    X[0, 0] = {"a": 1}
    return X, y


def _ragged(X, y):
    rows = X.tolist()
    rows[3] = rows[3][:2]
    return rows, y


BAD_DATA = {
    "rows differ": (
        lambda X, y: (X, y[:-1]), errors.InvalidDataError, ValueError, ["X's 30 rows", "(29,)"]
    ),
    "feature count": (
        lambda X, y: (X[:, :2], y), errors.InvalidDataError, ValueError,
        ["X has 2 features", "expecting 3 features"],
    ),
    "nan in X": (_nan_last_row, errors.NonFiniteError, ValueError, ["X must be finite", "nan"]),
    "inf in X": (_inf_first_row, errors.NonFiniteError, ValueError, ["X must be finite", "inf"]),
    "-inf in X": (_minus_inf, errors.NonFiniteError, ValueError, ["row 13, column 0"]),
    "strings": (
        lambda X, y: (X.astype(str), y), errors.DataTypeError, TypeError,
        ["X must hold real numbers", "<U"],
    ),
    "string in an object X": (
        _string_in_object, errors.DataTypeError, TypeError, ["X must hold real numbers", "strings"]
    ),
    "dict in an object X": (
        _dict_in_object, errors.DataTypeError, TypeError, ["X must hold real numbers", "dict"]
    ),
    "complex": (
        lambda X, y: (X + 1j, y), errors.DataTypeError, TypeError, ["complex128"]
    ),
    "ragged": (_ragged, errors.DataTypeError, TypeError, ["X must be a numeric array"]),
    "1-D X": (
        lambda X, y: (X[:, 0], y), errors.InvalidDataError, ValueError, ["2-D", "(30,)"]
    ),
    "3-D y": (
        lambda X, y: (X, y.reshape(30, 1, 1)), errors.InvalidDataError, ValueError, ["(30, 1, 1)"]
    ),
}  # fmt: skip

MODES = {"full batch": {}, "mini-batch adam": {"batch_size": 7, "optimizer": "adam"}}


BAD_DATA_RUNS = [
    pytest.param(bad, trained, id=f"{bad}-{'trained' if trained else 'untrained'}")
    for bad in sorted(BAD_DATA)
    for trained in (True, False)
    if trained or bad != "feature count"  # an untrained model accepts any feature count
]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize(("bad", "trained"), BAD_DATA_RUNS)
def test_bad_data_raises_and_leaves_the_model_unchanged(
    case, data, bad, mode, trained, assert_rejected_unchanged
):
    spoil, error, builtin, fragments = BAD_DATA[bad]
    X_bad, y_bad = spoil(*data)

    info = assert_rejected_unchanged(
        make_factory(case, **MODES[mode]), *data, lambda m: m.train(X_bad, y_bad), error,
        *fragments, train_first=trained,
    )  # fmt: skip
    assert isinstance(info.value, builtin)


def test_predict_checks_its_input(case, data):
    model = make_factory(case)()
    with pytest.raises(errors.NotInitializedError, match="train"):
        model.predict(data[0])
    model.train(*data)
    with pytest.raises(errors.InvalidDataError, match="X has 4 features"):
        model.predict(np.ones((2, 4)))
    with pytest.raises(errors.NonFiniteError):
        model.predict(np.full((2, 3), np.nan))


def test_non_finite_data_is_found_even_when_parameters_have_diverged(case, data):
    model = make_factory(case, on_nonfinite="warn")()
    model.train(*data)
    params = model.get_model_parameters()
    for p in as_list(params):
        p *= 1e300  # products overflow: the first iteration's result is not finite
    model.set_model_parameters(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.train(*data)  # finite data: training goes on, however badly
    X = data[0].copy()
    X[5, 2] = np.nan
    with pytest.raises(errors.NonFiniteError, match="X must be finite"):
        model.train(X, data[1])


# ---------------------------------------------------------------- options

BAD_OPTIONS = [
    ("optimizer", "foo"),
    ("max_iterations", 0),
    ("max_iterations", 2.5),
    ("learning_rate", 0.0),
    ("learning_rate", -0.1),
    ("learning_rate", float("nan")),
    ("batch_size", 0),
    ("l1", -1.0),
    ("l2", float("inf")),
    ("random_state", "seed"),
    ("on_nonfinite", "ignore"),
]


@pytest.mark.parametrize(("name", "value"), BAD_OPTIONS)
def test_bad_option_values_are_rejected(case, data, name, value, assert_rejected_unchanged):
    model = case.make(**{name: value})  # stored as given, validated when used
    for use in (lambda m: m.train(*data), lambda m: m.fit(*data), lambda m: m.initialize(3)):
        with pytest.raises(errors.InvalidOptionError, match=name) as info:
            use(model)
        assert isinstance(info.value, ValueError)
        assert repr(value) in str(info.value)
        assert not model.is_initialized

    assert_rejected_unchanged(
        make_factory(case), *data,
        lambda m: m.set_parameters(**{"l2": 0.5, name: value}),  # the valid l2 is not applied
        errors.InvalidOptionError, name,
    )  # fmt: skip


def test_set_parameters_is_all_or_nothing(case):
    model = case.make(learning_rate=0.2)
    options = model.get_params()
    with pytest.raises(errors.InvalidOptionError):
        model.set_parameters(5, learning_rate=0.7, optimizer="foo")
    assert model.get_params() == options


def test_unknown_option_names_are_rejected(case, data, assert_rejected_unchanged):
    info = assert_rejected_unchanged(
        make_factory(case), *data, lambda m: m.set_parameters(momentum=0.9),
        errors.InvalidOptionError, "no option 'momentum'", "learning_rate",
    )  # fmt: skip
    assert isinstance(info.value, ValueError)
    with pytest.raises(TypeError, match="momentum"):
        case.make(momentum=0.9)


def test_structural_options_cannot_change_once_parameters_exist(case, data):
    name, value = case.structural
    untrained = case.make()
    untrained.set_parameters(**{name: value})  # fine before parameters exist
    assert untrained.get_params()[name] == value

    trained = make_factory(case)()
    trained.train(*data)
    with pytest.raises(errors.InvalidOptionError, match=f"{name!r} option .* cannot change"):
        trained.set_parameters(**{name: value})


# ---------------------------------------------------------------- batches, penalties


def test_batch_size_of_all_rows_is_full_batch(case, data):
    full, batched, mini = (case.make(random_state=0, batch_size=b) for b in (None, 30, 11))
    costs = [m.train(*data) for m in (full, batched, mini)]

    np.testing.assert_array_equal(costs[0], costs[1])
    assert not np.array_equal(costs[0], costs[2])


def test_mini_batches_cover_every_row_once_per_epoch(case):
    model = case.make(random_state=0, batch_size=4)
    model._check_options()  # as train does first
    epochs = [np.concatenate([model._next_batch(10) for _ in range(3)]) for _ in range(2)]

    for rows in epochs:
        np.testing.assert_array_equal(np.sort(rows), np.arange(10))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled


def _penalised_weights(params) -> np.ndarray:
    """Every weight but the intercept / bias rows (the first row of each matrix)."""
    return np.concatenate([p[1:].ravel() for p in as_list(params)])


@pytest.mark.parametrize(("l1", "l2"), [(0.3, 0.0), (0.0, 0.7), (0.2, 0.5)])
def test_penalties_add_the_documented_cost(case, data, l1, l2):
    plain = make_factory(case)()
    plain.train(*data)
    penalised = make_factory(case)()
    penalised.set_model_parameters(plain.get_model_parameters())
    plain.set_model_parameters(penalised.get_model_parameters())
    penalised.set_parameters(1, l1=l1, l2=l2)
    plain.set_parameters(1)

    w = _penalised_weights(plain.get_model_parameters())
    expected = plain.train(*data)[0] + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w
    np.testing.assert_allclose(penalised.train(*data)[0], expected, rtol=1e-12)


def test_get_gradients_without_copy_gives_read_only_views_that_stay_valid():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    model = LinearRegression(max_iterations=1, random_state=0)
    model.set_are_gradients_saved(True)
    model.train(X, y)
    view = model.get_gradients(copy=False)
    np.testing.assert_array_equal(view, model.get_gradients())
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0] = 1.0
    kept = view.copy()
    model.train(X, y)
    np.testing.assert_array_equal(view, kept)
    assert not np.array_equal(model.get_gradients(), kept)
