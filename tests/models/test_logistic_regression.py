"""LogisticRegression: sigmoid and softmax, any labels, gradients, and scikit-learn's accuracy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit, logsumexp, softmax
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import log_loss

from datapredict import LogisticRegression, errors


@pytest.fixture
def X() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((60, 3))


def binary_labels(X: np.ndarray, values=(0, 1)) -> np.ndarray:
    return np.where(X[:, 0] + 0.5 * X[:, 1] > 0, values[1], values[0])


def three_labels(X: np.ndarray, values=(0, 1, 2)) -> np.ndarray:
    return np.asarray(values)[np.digitize(X[:, 0] - X[:, 2], [-0.6, 0.6])]


def with_ones(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(X)), X])


# ---------------------------------------------------------------- layout and probabilities


@pytest.mark.parametrize(
    ("labels", "fit_intercept", "shape"),
    [(binary_labels, True, (4, 1)), (three_labels, True, (4, 3)), (three_labels, False, (3, 3))],
)
def test_one_column_for_two_classes_one_per_class_otherwise(X, labels, fit_intercept, shape):
    model = LogisticRegression(fit_intercept=fit_intercept, max_iterations=1, random_state=0)
    model.train(X, labels(X))
    assert model.get_model_parameters().shape == shape


def test_binary_probabilities_are_the_sigmoid(X):
    W = np.array([[0.3], [1.0], [-2.0], [0.5]])
    model = LogisticRegression(classes=[0, 1])
    model.set_model_parameters(W)

    p = expit(with_ones(X) @ W[:, 0])
    np.testing.assert_allclose(model.predict_proba(X), np.column_stack([1 - p, p]), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), (p > 0.5).astype(int))


def test_multiclass_probabilities_are_the_softmax(X):
    W = np.random.default_rng(0).standard_normal((4, 3))
    model = LogisticRegression(classes=["a", "b", "c"])
    model.set_model_parameters(W)

    p = softmax(with_ones(X) @ W, axis=1)
    np.testing.assert_allclose(model.predict_proba(X), p, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), np.array(["a", "b", "c"])[p.argmax(axis=1)])


@pytest.mark.parametrize("labels", [binary_labels, three_labels])
def test_cost_is_the_mean_cross_entropy(X, labels):
    y = labels(X)
    model = LogisticRegression(max_iterations=1, random_state=0)
    model.train(X, y)
    proba = model.predict_proba(X)  # the parameters the next iteration starts from

    assert model.train(X, y)[0] == pytest.approx(log_loss(y, proba), rel=1e-10)


def test_large_logits_stay_finite_without_warnings(X):
    y = binary_labels(X)
    model = LogisticRegression(max_iterations=3, learning_rate=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        costs = model.train(X * 1e4, y)
        proba = model.predict_proba(X * 1e4)
    assert np.isfinite(costs).all() and np.isfinite(proba).all()


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "values",
    [("no", "yes"), (-1, 1), (0.0, 2.0), (False, True), ("cat", "dog", "fish"), (3, 7, 11)],
)
def test_any_label_values_are_classes(X, values):
    make = binary_labels if len(values) == 2 else three_labels
    y = make(X, values)
    model = LogisticRegression(max_iterations=300, learning_rate=0.5, random_state=0)
    model.train(X, y)

    np.testing.assert_array_equal(model.classes_, np.unique(np.asarray(values)))
    predicted = model.predict(X)
    assert predicted.dtype == np.asarray(values).dtype
    assert np.mean(predicted == y) > 0.9


@pytest.mark.parametrize(("classes", "outputs"), [([0, 1], 1), ([0, 1, 2], 3)])
def test_classes_option_lets_a_shard_hold_one_class(X, classes, outputs):
    model = LogisticRegression(classes=classes, max_iterations=5, random_state=0)
    model.train(X, np.zeros(len(X), dtype=int))

    assert model.get_model_parameters().shape == (4, outputs)
    assert set(model.predict(X)) <= set(classes)


def test_predict_with_set_parameters_does_not_fix_the_classes(X):
    model = LogisticRegression(max_iterations=200, learning_rate=0.5, random_state=0)
    model.set_model_parameters(np.zeros((4, 1)))
    assert set(model.predict(X)) <= {0, 1}  # no labels seen yet: class indices

    y = binary_labels(X, ("low", "high"))
    model.train(X, y)
    assert np.mean(model.predict(X) == y) > 0.9


def _factory():
    return LogisticRegression(max_iterations=2, random_state=0)


def _with(y, index, value):
    y = y.astype(object if isinstance(value, str) else np.result_type(y, type(value)))
    y[index] = value
    return y


BAD_LABELS = {
    "fractional": (lambda y: _with(y, 4, 0.5), errors.InvalidDataError, ValueError, ["0.5"]),
    "nan": (lambda y: _with(y, 0, np.nan), errors.InvalidDataError, ValueError, ["nan"]),
    "inf": (lambda y: _with(y, 9, np.inf), errors.InvalidDataError, ValueError, ["inf"]),
    "complex": (lambda y: y + 0j, errors.DataTypeError, TypeError, ["complex128"]),
    "mixed objects": (lambda y: _with(y, 3, "a"), errors.DataTypeError, TypeError, ["compared"]),
    "single class": (lambda y: np.zeros_like(y), errors.InvalidDataError, ValueError,
                     ["at least 2 classes", "classes=[...]"]),
    "2-D": (lambda y: np.column_stack([y, y]), errors.InvalidDataError, ValueError,
            ["1-D class labels"]),
}  # fmt: skip


@pytest.mark.parametrize("bad", sorted(BAD_LABELS))
@pytest.mark.parametrize("trained", [True, False], ids=["trained", "untrained"])
def test_labels_that_cannot_be_classes_are_rejected(X, bad, trained, assert_rejected_unchanged):
    y = binary_labels(X)
    spoil, error, builtin, fragments = BAD_LABELS[bad]
    if bad == "single class" and trained:  # known classes: a one-class shard is fine
        spoil, fragments = (lambda y: np.full_like(y, 5)), ["label 5", "not one of"]
    y_bad = spoil(y)

    info = assert_rejected_unchanged(
        _factory, X, y, lambda m: m.train(X, y_bad), error, *fragments, train_first=trained
    )
    assert isinstance(info.value, builtin)


@pytest.mark.parametrize("classes", [[1], [0.5, 1.0], [[0, 1], [2, 3]], [np.nan, 1.0], 3], ids=str)
def test_bad_classes_option_is_rejected_by_fit(classes):
    model = LogisticRegression(classes=classes)
    with pytest.raises(errors.InvalidOptionError, match="'classes' option of LogisticRegression"):
        model.fit(np.eye(3), [0, 1, 0])
    assert not model.is_initialized


# ---------------------------------------------------------------- parameters vs classes


@pytest.mark.parametrize(
    ("options", "params", "fragments"),
    [
        ({"classes": [0, 1, 2]}, np.zeros((4, 1)), ["3 output column(s)", "got 1"]),
        ({"classes": [0, 1]}, np.zeros((4, 3)), ["1 output column(s)", "got 3"]),
        ({}, np.zeros((4, 2)), ["got 2"]),
    ],
)
def test_set_model_parameters_checks_outputs_against_classes(X, options, params, fragments):
    model = LogisticRegression(**options)
    with pytest.raises(errors.ParameterStructureError) as info:
        model.set_model_parameters(params)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert model.get_model_parameters() is None


def test_a_shard_with_fewer_classes_than_the_parameters_needs_the_option(X):
    model = LogisticRegression(max_iterations=2)
    model.set_model_parameters(np.zeros((4, 3)))
    before = model.get_model_parameters()
    with pytest.raises(errors.ParameterStructureError, match=r"pass classes=\[\.\.\.\]"):
        model.train(X, binary_labels(X))
    np.testing.assert_array_equal(model.get_model_parameters(), before)

    fixed = LogisticRegression(classes=[0, 1, 2], max_iterations=2)
    fixed.set_model_parameters(np.zeros((4, 3)))
    fixed.train(X, binary_labels(X))
    assert fixed.get_model_parameters().shape == (4, 3)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("labels", [binary_labels, three_labels], ids=["sigmoid", "softmax"])
@pytest.mark.parametrize(
    "options",
    [{}, {"fit_intercept": False}, {"l1": 0.2}, {"l2": 0.6}, {"l1": 0.1, "l2": 0.3}],
    ids=["plain", "no-intercept", "l1", "l2", "both"],
)
def test_gradient_matches_central_differences(X, labels, options, assert_gradient_matches):
    assert_gradient_matches(LogisticRegression(random_state=0, **options), X, labels(X))


def test_softmax_cost_and_gradient_take_targets_in_either_memory_order(X):
    model = LogisticRegression(random_state=0)
    model.train(X, three_labels(X))
    params = model.get_model_parameters()
    Y = np.eye(3)[three_labels(X)]
    by_row = model.cost_and_gradient(params, X, np.ascontiguousarray(Y))
    by_class = model.cost_and_gradient(params, X, np.asfortranarray(Y))
    assert by_row[0] == by_class[0]
    np.testing.assert_array_equal(by_row[1], by_class[1])
    logits = X @ params[1:] + params[0]
    expected = -np.mean(np.sum(Y * (logits - logsumexp(logits, axis=1, keepdims=True)), axis=1))
    assert by_row[0] == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    ("loader", "iterations"), [(load_breast_cancer, 1000), (load_digits, 500)],
    ids=["breast_cancer", "digits"],
)  # fmt: skip
def test_reaches_scikit_learn_accuracy(loader, iterations, split_standardised):
    X_train, X_test, y_train, y_test = split_standardised(loader)
    reference = SkLogisticRegression(max_iter=5000).fit(X_train, y_train).score(X_test, y_test)

    model = LogisticRegression(max_iterations=iterations, learning_rate=0.5, random_state=0)
    model.train(X_train, y_train)
    assert model.score(X_test, y_test) >= reference - 0.02
