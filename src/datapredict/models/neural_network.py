"""A fully connected neural network (multi-layer perceptron) trained by backpropagation."""

from __future__ import annotations

import itertools
import numbers
from typing import Any

import numpy as np

from datapredict._validation import check_choice, check_int, option_error
from datapredict.errors import InvalidDataError, ParameterStructureError
from datapredict.models._classes import ClassifierMixin, check_classes_option
from datapredict.models._linear import column_sums
from datapredict.models._losses import cross_entropy, sigmoid
from datapredict.models.base import GradientModel
from datapredict.parameters import Layout

__all__ = ["NeuralNetwork"]


# Each activation applies itself in place to a layer's pre-activations, and its
# backprop multiplies, in place, the error arriving at a layer by the activation's
# derivative, written through the layer's output ``a``.


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0, out=z)


def _relu_backprop(delta: np.ndarray, a: np.ndarray) -> None:
    np.multiply(delta, a > 0.0, out=delta)


def _tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=z)


def _tanh_backprop(delta: np.ndarray, a: np.ndarray) -> None:
    slope = np.multiply(a, a)
    np.subtract(1.0, slope, out=slope)
    delta *= slope


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return sigmoid(z, out=z)


def _sigmoid_backprop(delta: np.ndarray, a: np.ndarray) -> None:
    slope = np.subtract(1.0, a)
    slope *= a
    delta *= slope


# activation -> (function in place, backprop in place)
ACTIVATIONS = {
    "relu": (_relu, _relu_backprop),
    "tanh": (_tanh, _tanh_backprop),
    "sigmoid": (_sigmoid, _sigmoid_backprop),
}


def _check_hidden(owner: str, value: Any) -> tuple[int, ...]:
    sizes = (value,) if isinstance(value, numbers.Integral) else value
    try:
        sizes = tuple(check_int(owner, "hidden_layer_sizes", n, minimum=1) for n in sizes)
    except (TypeError, ValueError):
        raise option_error(owner, "hidden_layer_sizes", "a tuple of positive ints", value) from None
    return sizes


def _forward(layers: list[np.ndarray], X: np.ndarray, activation: str) -> list[np.ndarray]:
    """Return the input and every layer's output; the last one is the linear output."""
    function = ACTIVATIONS[activation][0]
    outputs = [X]
    for depth, W in enumerate(layers):
        Z = outputs[-1] @ W[1:]
        Z += W[0]
        outputs.append(Z if depth == len(layers) - 1 else function(Z))
    return outputs


class NeuralNetwork(ClassifierMixin, GradientModel):
    """A multi-layer perceptron for classification or regression.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(32,)
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
        The hidden layers' activation.
    task : {"classification", "regression"}, default="classification"
        Classification ends in a sigmoid (two classes) or softmax with cross-entropy;
        regression ends linear with the squared error ``sum(R**2) / (2n)``.
    classes : sequence or None, default=None
        All class labels (classification only); see :class:`LogisticRegression`.
    max_iterations : int, default=500
    learning_rate : float, default=0.1
    batch_size, optimizer, l1, l2, on_nonfinite, random_state
        As for :class:`LinearRegression`.

    Notes
    -----
    Parameters: a list with one matrix (n_in + 1, n_out) per layer, bias row first.
    """

    _OPTIONS = {
        **GradientModel._OPTIONS,
        "hidden_layer_sizes": _check_hidden,
        "activation": lambda o, v: check_choice(o, "activation", v, ACTIVATIONS),
        "task": lambda o, v: check_choice(o, "task", v, ("classification", "regression")),
        "classes": check_classes_option,
    }
    _STRUCTURAL = frozenset({"hidden_layer_sizes", "task", "classes"})
    _NONFINITE_INPUTS_PROPAGATE = True

    # Each option spelled out, as in every model: scikit-learn's checks read this signature.
    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (32,),
        activation: str = "relu",
        task: str = "classification",
        classes: Any = None,
        max_iterations: int = 500,
        learning_rate: float = 0.1,
        batch_size: int | None = None,
        optimizer: str = "sgd",
        l1: float = 0.0,
        l2: float = 0.0,
        on_nonfinite: str = "raise",
        random_state: Any = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            task=task,
            classes=classes,
            max_iterations=max_iterations,
            learning_rate=learning_rate,
            batch_size=batch_size,
            optimizer=optimizer,
            l1=l1,
            l2=l2,
            on_nonfinite=on_nonfinite,
            random_state=random_state,
        )

    @property
    def _is_classifier(self) -> bool:
        """From the ``task`` option as given (tags and methods exist before validation)."""
        task = self._given["task"]
        return not (isinstance(task, str) and task.lower() == "regression")

    def cost_and_gradient(self, params, X, Y):
        """Cost of ``Y`` under the network and its gradient per layer (backpropagation)."""
        outputs = _forward(params, X, self._options["activation"])
        backprop = ACTIVATIONS[self._options["activation"]][1]
        if self._is_classifier:
            cost, delta = cross_entropy(outputs[-1], Y)
        else:
            delta = outputs[-1] - Y
            cost = 0.5 * float(np.vdot(delta, delta)) / X.shape[0]
            delta /= X.shape[0]
        gradients = [None] * len(params)
        for depth in range(len(params) - 1, -1, -1):
            inputs = outputs[depth]
            G = np.empty_like(params[depth])
            G[1:] = inputs.T @ delta
            G[0] = column_sums(delta)
            gradients[depth] = G
            if depth:
                delta = delta @ params[depth][1:].T
                backprop(delta, inputs)
        return cost, gradients

    def predict(self, X: Any) -> np.ndarray:
        """Labels (classification) or values (regression; (n,) for one output)."""
        if self._is_classifier:
            return super().predict(X)
        Z = self._logits(X)
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification) or R² (regression)."""
        if self._is_classifier:
            return super().score(X, y)
        predicted = self.predict(X).reshape(len(X), -1)
        y = np.asarray(y, dtype=np.float64).reshape(predicted.shape)
        residual = ((y - predicted) ** 2).sum(axis=0)
        return float(np.mean(1.0 - residual / ((y - y.mean(axis=0)) ** 2).sum(axis=0)))

    # hooks
    def _logits(self, X: Any) -> np.ndarray:
        X = self._check_predict_features(X)
        return _forward(self._params, X, self._options["activation"])[-1]

    def _output_count(self) -> int:
        return self._params[-1].shape[1]

    def _n_outputs_for(self, y):
        if self._is_classifier:
            return super()._n_outputs_for(y)
        return 1 if y is None or y.ndim == 1 else y.shape[1]

    def _encode_targets(self, y):
        if self._is_classifier:
            return super()._encode_targets(y)
        Y = y.reshape(y.shape[0], -1)
        if self._flat is not None and Y.shape[1] != self._output_count():
            raise InvalidDataError(
                f"y has {Y.shape[1]} outputs; this NeuralNetwork has {self._output_count()}"
            )
        return Y

    def _validate_new_layout(self, layout: Layout) -> int:
        hidden = self._options["hidden_layer_sizes"]
        shapes = layout.shapes
        ok = layout.kind == "list" and len(shapes) == len(hidden) + 1
        ok = ok and all(len(s) == 2 for s in shapes) and shapes[0][0] >= 2
        ok = ok and all(a[1] + 1 == b[0] for a, b in itertools.pairwise(shapes))
        ok = ok and all(s[1] == h for s, h in zip(shapes, hidden, strict=False))
        ok = ok and shapes[-1][1] >= 1
        if not ok:
            raise ParameterStructureError(
                f"params for NeuralNetwork(hidden_layer_sizes={hidden}) must be a list of "
                f"{len(hidden) + 1} matrices (n_in + 1, n_out) chaining through {hidden}, "
                f"the first with at least 2 rows, the last with at least 1 column; "
                f"got {layout.describe()}"
            )
        if self._is_classifier:
            self._check_classifier_outputs(shapes[-1][1])
        return shapes[0][0] - 1

    def _initial_parameters(self, n_features, n_outputs, rng):
        sizes = [n_features, *self._options["hidden_layer_sizes"], n_outputs]
        layers = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_in + 1, fan_out))
            W[0] = 0.0
            layers.append(W)
        return layers

    def _penalty_mask(self, params):
        masks = []
        for W in params:
            mask = np.ones_like(W)
            mask[0] = 0.0
            masks.append(mask.ravel())
        return np.concatenate(masks)
