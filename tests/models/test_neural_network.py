"""NeuralNetwork: layer layout, forward pass, backpropagation, and scikit-learn's accuracy."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier

from datapredict import NeuralNetwork, errors

ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "sigmoid": expit}


@pytest.fixture
def X() -> np.ndarray:
    return np.random.default_rng(11).standard_normal((40, 3))


def binary_labels(X: np.ndarray) -> np.ndarray:
    return (X[:, 0] * X[:, 1] > 0).astype(int)


def three_labels(X: np.ndarray) -> np.ndarray:
    return np.digitize(X[:, 0] ** 2 - X[:, 2], [-0.5, 0.8])


def targets(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])


def forward(layers: list[np.ndarray], X: np.ndarray, activation: str) -> np.ndarray:
    """An independent forward pass: bias row first, activation on hidden layers only."""
    out = X
    for depth, W in enumerate(layers):
        out = np.column_stack([np.ones(len(out)), out]) @ W
        if depth < len(layers) - 1:
            out = ACTIVATIONS[activation](out)
    return out


def random_layers(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((a + 1, b)) for a, b in itertools.pairwise(sizes)]


# ---------------------------------------------------------------- layout and forward pass


@pytest.mark.parametrize(
    ("task", "y", "last"),
    [("classification", binary_labels, 1), ("classification", three_labels, 3),
     ("regression", lambda X: X[:, 0], 1), ("regression", targets, 2)],
)  # fmt: skip
def test_parameters_are_a_list_of_bias_first_matrices(X, task, y, last):
    model = NeuralNetwork(hidden_layer_sizes=(5, 4), task=task, max_iterations=1, random_state=0)
    model.train(X, y(X))

    params = model.get_model_parameters()
    assert isinstance(params, list)
    assert [p.shape for p in params] == [(4, 5), (6, 4), (5, last)]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_probabilities_follow_the_forward_pass(X, activation):
    layers = random_layers([3, 5, 4, 3])
    model = NeuralNetwork(hidden_layer_sizes=(5, 4), activation=activation, classes=[0, 1, 2])
    model.set_model_parameters(layers)

    expected = softmax(forward(layers, X, activation), axis=1)
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), expected.argmax(axis=1))


def test_binary_output_is_a_sigmoid(X):
    layers = random_layers([3, 5, 1])
    model = NeuralNetwork(hidden_layer_sizes=(5,), activation="tanh", classes=["a", "b"])
    model.set_model_parameters(layers)

    p = expit(forward(layers, X, "tanh")[:, 0])
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], p, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), np.where(p > 0.5, "b", "a"))


def test_regression_output_is_linear_and_cost_is_half_mse(X):
    layers = random_layers([3, 5, 2])
    model = NeuralNetwork(hidden_layer_sizes=(5,), task="regression", max_iterations=1)
    model.set_model_parameters(layers)

    predicted = forward(layers, X, "relu")
    np.testing.assert_allclose(model.predict(X), predicted, rtol=1e-12)
    residual = predicted - targets(X)
    expected_cost = np.sum(residual**2) / (2 * len(X))
    assert model.train(X, targets(X))[0] == pytest.approx(expected_cost, rel=1e-12)
    assert not hasattr(model, "predict_proba")  # scikit-learn's rule for regressors
    with pytest.raises(AttributeError, match="no predict_proba"):
        model.predict_proba(X)


def test_classification_cost_is_the_cross_entropy(X):
    y = three_labels(X)
    model = NeuralNetwork(hidden_layer_sizes=(4,), max_iterations=1, random_state=0)
    model.train(X, y)
    proba = model.predict_proba(X)  # the parameters the next iteration starts from
    assert model.train(X, y)[0] == pytest.approx(log_loss(y, proba), rel=1e-10)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize(
    ("task", "y"),
    [("classification", binary_labels), ("classification", three_labels),
     ("regression", targets)],
    ids=["sigmoid-output", "softmax-output", "regression"],
)  # fmt: skip
def test_backpropagation_matches_central_differences(
    X, activation, task, y, assert_gradient_matches
):
    model = NeuralNetwork(hidden_layer_sizes=(4, 3), activation=activation, task=task,
                          random_state=0)  # fmt: skip
    assert_gradient_matches(model, X, y(X))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_penalties_skip_biases_in_the_gradient(X, task, assert_gradient_matches):
    y = three_labels(X) if task == "classification" else targets(X)
    model = NeuralNetwork(hidden_layer_sizes=(4,), task=task, l1=0.1, l2=0.4, random_state=0)
    assert_gradient_matches(model, X, y)


# ---------------------------------------------------------------- learning


@pytest.mark.parametrize("loader", [load_breast_cancer, load_digits],
                         ids=["breast_cancer", "digits"])  # fmt: skip
def test_reaches_scikit_learn_accuracy(loader, split_standardised):
    X_train, X_test, y_train, y_test = split_standardised(loader)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
        reference = mlp.fit(X_train, y_train).score(X_test, y_test)

    model = NeuralNetwork(hidden_layer_sizes=(32,), optimizer="adam", learning_rate=0.01,
                          max_iterations=300, random_state=0)  # fmt: skip
    model.train(X_train, y_train)
    assert model.score(X_test, y_test) >= reference - 0.02


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_regression_fits_a_curve_a_line_cannot(activation):
    X = np.linspace(-3, 3, 120)[:, None]
    y = np.sin(X[:, 0])
    model = NeuralNetwork(hidden_layer_sizes=(16,), activation=activation, task="regression",
                          optimizer="adam", learning_rate=0.02, max_iterations=1500,
                          random_state=0)  # fmt: skip
    model.train(X, y)
    assert model.score(X, y) > 0.99  # the best line scores about 0.64


# ---------------------------------------------------------------- options and structure


@pytest.mark.parametrize(
    "sizes", [8, np.int64(8), (8,), [8]], ids=["int", "np.int64", "tuple", "list"]
)
def test_hidden_layer_sizes_accepts_an_int_or_a_sequence(X, sizes):
    model = NeuralNetwork(hidden_layer_sizes=sizes, max_iterations=1, random_state=0)
    model.train(X, binary_labels(X))
    assert model.get_params()["hidden_layer_sizes"] is sizes  # as given (scikit-learn's rule)
    assert f"hidden_layer_sizes={sizes!r}" in repr(model)
    assert model.get_model_parameters()[0].shape == (4, 8)


@pytest.mark.parametrize(
    ("name", "value"),
    [("hidden_layer_sizes", (0,)), ("hidden_layer_sizes", (4, -1)), ("hidden_layer_sizes", 2.5),
     ("hidden_layer_sizes", "32"), ("hidden_layer_sizes", (True,)), ("activation", "bar"),
     ("activation", None), ("task", "clustering"), ("classes", [1])],
)  # fmt: skip
def test_bad_network_options_are_rejected_by_train_and_set_parameters(X, name, value):
    model = NeuralNetwork(**{name: value})  # stored as given, as scikit-learn's estimators do
    assert model.get_params()[name] is value
    with pytest.raises(errors.InvalidOptionError, match=f"'{name}' option of NeuralNetwork"):
        model.train(X, binary_labels(X))
    assert not model.is_initialized
    with pytest.raises(errors.InvalidOptionError, match=f"'{name}' option of NeuralNetwork"):
        NeuralNetwork().set_parameters(**{name: value})


def test_activation_may_change_but_the_architecture_may_not(X):
    model = NeuralNetwork(hidden_layer_sizes=(4,), max_iterations=1, random_state=0)
    model.train(X, binary_labels(X))
    model.set_parameters(activation="tanh")
    model.train(X, binary_labels(X))
    for name, value in [("hidden_layer_sizes", (5,)), ("task", "regression")]:
        with pytest.raises(errors.InvalidOptionError, match="cannot change"):
            model.set_parameters(**{name: value})


def _make():
    return NeuralNetwork(hidden_layer_sizes=(4, 3), max_iterations=2, random_state=0)


@pytest.mark.parametrize(
    "params",
    [
        tuple(random_layers([3, 4, 3, 1])),
        random_layers([3, 4, 1]),
        [np.zeros((4, 4)), np.zeros((4, 3)), np.zeros((4, 1))],
        random_layers([3, 4, 5, 1]),
        random_layers([0, 4, 3, 1]),
        [np.zeros((4, 4)), np.zeros((5, 3)), np.zeros((4, 2))],
        np.zeros((4, 4)),
    ],
    ids=["tuple", "too-few-layers", "broken-chain", "wrong-width", "no-features",
         "two-outputs", "one-matrix"],
)  # fmt: skip
def test_new_parameters_must_fit_the_architecture(X, params, assert_rejected_unchanged):
    assert_rejected_unchanged(
        _make, X, binary_labels(X), lambda m: m.set_model_parameters(params),
        errors.ParameterStructureError, "NeuralNetwork", train_first=False,
    )  # fmt: skip


def test_classes_option_fixes_the_output_width():
    model = NeuralNetwork(hidden_layer_sizes=(4,), classes=["a", "b", "c"])
    with pytest.raises(errors.ParameterStructureError, match="3 output column"):
        model.set_model_parameters(random_layers([3, 4, 1]))
    model.set_model_parameters(random_layers([3, 4, 3]))


@pytest.mark.parametrize(
    ("spoil", "error", "fragments"),
    [(lambda y: np.where(np.arange(80).reshape(40, 2) == 7, np.nan, y), errors.NonFiniteError,
      ["y must be finite"]),
     (lambda y: y.astype(str), errors.DataTypeError, ["y must hold real numbers"]),
     (lambda y: y[:, :1], errors.InvalidDataError, ["y has 1 outputs", "has 2"])],
    ids=["nan", "strings", "outputs"],
)  # fmt: skip
def test_regression_rejects_bad_targets(X, spoil, error, fragments, assert_rejected_unchanged):
    def make():
        return NeuralNetwork(hidden_layer_sizes=(3,), task="regression", max_iterations=2,
                             random_state=0)  # fmt: skip

    y = targets(X)
    assert_rejected_unchanged(make, X, y, lambda m: m.train(X, spoil(y)), error, *fragments)
