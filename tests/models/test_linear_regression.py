"""LinearRegression: layout, cost, exact steps, gradients, and the least-squares fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.metrics import r2_score

from datapredict import LinearRegression, errors


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    return X, X @ np.array([2.0, -1.0, 0.5]) + 1.5 + 0.1 * rng.standard_normal(40)


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def with_ones(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(X)), X])


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize(
    ("fit_intercept", "outputs", "shape"),
    [(True, None, (4, 1)), (True, 2, (4, 2)), (False, None, (3, 1)), (False, 3, (3, 3))],
)
def test_parameters_are_one_matrix_intercept_first(data, fit_intercept, outputs, shape):
    X, y = data
    Y = y if outputs is None else np.column_stack([y * (k + 1) for k in range(outputs)])
    model = LinearRegression(fit_intercept=fit_intercept, max_iterations=1, random_state=0)
    model.train(X, Y)

    params = model.get_model_parameters()
    assert isinstance(params, np.ndarray) and params.shape == shape
    assert model.predict(X).shape == ((40,) if outputs is None else (40, outputs))


def test_intercept_is_the_first_row(data):
    X, _ = data
    model = LinearRegression()
    model.set_model_parameters(np.array([[5.0], [1.0], [-2.0], [0.5]]))
    np.testing.assert_allclose(model.predict(X), 5.0 + X @ [1.0, -2.0, 0.5])

    no_intercept = LinearRegression(fit_intercept=False)
    no_intercept.set_model_parameters(np.array([[1.0], [-2.0], [0.5]]))
    np.testing.assert_allclose(no_intercept.predict(X), X @ [1.0, -2.0, 0.5])


def test_set_model_parameters_needs_a_matrix_for_a_new_model():
    for bad in (np.ones(4), np.ones((1, 1)), [np.ones((4, 1))]):
        with pytest.raises(errors.ParameterStructureError, match="LinearRegression"):
            LinearRegression().set_model_parameters(bad)


# ---------------------------------------------------------------- cost and steps


def test_cost_is_the_documented_half_mean_squared_error(data):
    X, y = data
    W = np.array([[0.5], [0.1], [0.2], [-0.3]])
    model = LinearRegression(max_iterations=1)
    model.set_model_parameters(W)

    residual = with_ones(X) @ W[:, 0] - y
    np.testing.assert_allclose(model.train(X, y)[0], residual @ residual / (2 * len(y)))


def _gradient(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    A = with_ones(X)
    return A.T @ (A @ w - y) / len(y)


def _sgd(grads, lr):
    return [lr * g for g in grads]


def _momentum(grads, lr, beta=0.9):
    velocity, steps = 0.0, []
    for g in grads:
        velocity = beta * velocity + g
        steps.append(lr * velocity)
    return steps


def _adam(grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = v = 0.0
    steps = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        steps.append(lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps))
    return steps


@pytest.mark.parametrize(("optimizer", "rule"), [("sgd", _sgd), ("momentum", _momentum),
                                                  ("adam", _adam)])  # fmt: skip
def test_steps_follow_the_optimizer_formulas(data, optimizer, rule):
    X, y = data
    lr, w = 0.05, np.array([0.5, 0.1, 0.2, -0.3])
    model = LinearRegression(max_iterations=1, learning_rate=lr, optimizer=optimizer)
    model.set_model_parameters(w[:, None].copy())

    for _ in range(4):  # the rule sees every gradient so far; replay it by hand
        model.train(X, y)
    expected, grads = w.copy(), []
    for _ in range(4):
        grads.append(_gradient(X, y, expected))
        expected = expected - rule(grads, lr)[-1]
    np.testing.assert_allclose(model.get_model_parameters()[:, 0], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"fit_intercept": False},
        {"l1": 0.3},
        {"l2": 0.8},
        {"l1": 0.2, "l2": 0.5, "fit_intercept": False},
    ],
    ids=["plain", "no-intercept", "l1", "l2", "both-no-intercept"],
)
@pytest.mark.parametrize("outputs", [1, 2])
def test_gradient_matches_central_differences(data, options, outputs, assert_gradient_matches):
    X, y = data
    Y = y if outputs == 1 else np.column_stack([y, -2.0 * y + 1.0])
    assert_gradient_matches(LinearRegression(random_state=0, **options), X, Y)


# ---------------------------------------------------------------- fits


def test_reaches_the_least_squares_fit_on_diabetes(diabetes):
    X, y = diabetes
    coef = np.linalg.lstsq(with_ones(X), y, rcond=None)[0]
    residual = with_ones(X) @ coef - y
    best_cost = residual @ residual / (2 * len(y))

    model = LinearRegression(max_iterations=5000, learning_rate=0.3, random_state=0)
    costs = model.train(X, y)

    np.testing.assert_allclose(model.get_model_parameters()[:, 0], coef, atol=1e-3)
    np.testing.assert_allclose(costs[-1], best_cost, rtol=1e-10)
    assert np.all(np.diff(costs) <= 1e-12)  # full-batch descent never goes up at this rate
    assert model.score(X, y) == pytest.approx(r2_score(y, with_ones(X) @ coef), abs=1e-10)


def test_reaches_the_least_squares_fit_without_intercept(diabetes):
    X, y = diabetes
    y = y - y.mean()
    coef = np.linalg.lstsq(X, y, rcond=None)[0]

    model = LinearRegression(fit_intercept=False, max_iterations=5000, learning_rate=0.3)
    model.train(X, y)
    np.testing.assert_allclose(model.get_model_parameters()[:, 0], coef, atol=1e-3)


def test_l2_reaches_the_ridge_solution(diabetes):
    X, y = diabetes
    l2, n = 0.5, len(y)
    A = with_ones(X)
    penalty = l2 * np.diag([0.0] + [1.0] * X.shape[1])  # the intercept is not penalised
    ridge = np.linalg.solve(A.T @ A / n + penalty, A.T @ y / n)

    model = LinearRegression(l2=l2, max_iterations=3000, learning_rate=0.3)
    model.train(X, y)
    np.testing.assert_allclose(model.get_model_parameters()[:, 0], ridge, atol=1e-6)


@pytest.mark.parametrize(("optimizer", "learning_rate"), [("momentum", 0.05), ("adam", 1.0)])
def test_other_optimizers_also_reach_the_fit(diabetes, optimizer, learning_rate):
    X, y = diabetes
    coef = np.linalg.lstsq(with_ones(X), y, rcond=None)[0]
    model = LinearRegression(optimizer=optimizer, learning_rate=learning_rate,
                             max_iterations=3000)  # fmt: skip
    model.train(X, y)
    np.testing.assert_allclose(model.get_model_parameters()[:, 0], coef, atol=1e-3)


def test_mini_batches_converge_near_the_fit(diabetes):
    X, y = diabetes
    coef = np.linalg.lstsq(with_ones(X), y, rcond=None)[0]
    model = LinearRegression(batch_size=32, learning_rate=0.02, max_iterations=3000,
                             random_state=0)  # fmt: skip
    model.train(X, y)
    assert model.score(X, y) > r2_score(y, with_ones(X) @ coef) - 0.01


def test_integer_and_float32_features_give_the_float64_result(data):
    X, y = data
    X_int = np.round(X * 4).astype(np.int32)
    results = []
    for features in (X_int, X_int.astype(np.float32), X_int.astype(np.float64)):
        model = LinearRegression(max_iterations=5, random_state=0)
        results.append(model.train(features, y))
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(results[1], results[2])


# ---------------------------------------------------------------- bad targets


def _factory():
    return LinearRegression(max_iterations=2, random_state=0)


@pytest.mark.parametrize(
    ("spoil", "error", "builtin", "fragments"),
    [
        (lambda y: np.where(np.arange(40) == 7, np.nan, y), errors.NonFiniteError, ValueError,
         ["y must be finite"]),
        (lambda y: np.where(np.arange(40) == 0, np.inf, y), errors.NonFiniteError, ValueError,
         ["y must be finite"]),
        (lambda y: y.astype(str), errors.DataTypeError, TypeError, ["y must hold real numbers"]),
        (lambda y: np.where(np.arange(40) == 3, {"a": 1}, y.astype(object)),
         errors.DataTypeError, TypeError, ["y must hold real numbers", "dict"]),
        (lambda y: np.column_stack([y, y]), errors.InvalidDataError, ValueError,
         ["y has 2 outputs", "has 1"]),
    ],
    ids=["nan", "inf", "strings", "dict in an object y", "outputs"],
)  # fmt: skip
def test_bad_targets_raise_and_change_nothing(
    data, spoil, error, builtin, fragments, assert_rejected_unchanged
):
    X, y = data
    info = assert_rejected_unchanged(
        _factory, X, y, lambda m: m.train(X, spoil(y)), error, *fragments
    )
    assert isinstance(info.value, builtin)


def test_huge_finite_targets_are_accepted(data):
    # Their squares overflow, so the one-pass proof of finiteness fails; the
    # element-wise check must then accept them.
    X, _ = data
    model = LinearRegression(
        max_iterations=1, learning_rate=1e-300, on_nonfinite="warn", random_state=0
    )
    with pytest.warns(RuntimeWarning, match="the cost is inf"):  # it overflows, as its squares
        costs = model.train(X, np.full(X.shape[0], 1e160))
    assert costs.shape == (1,)
    assert np.isfinite(model.get_model_parameters()).all()
