"""scikit-learn estimators as children: :class:`SklearnChild`.

Any estimator that learns incrementally (``partial_fit``) and keeps its parameters in
``coef_`` / ``intercept_`` (SGDClassifier, SGDRegressor, Perceptron,
PassiveAggressiveClassifier, PassiveAggressiveRegressor) or ``coefs_`` / ``intercepts_``
(MLPClassifier, MLPRegressor) can be a child:

- its parameters are those arrays as a list (``[coef_, intercept_]``, or
  ``[coefs_[0], intercepts_[0], coefs_[1], ...]`` for an MLP), which ``Layout`` flattens;
- one iteration is one epoch of ``partial_fit`` over the shard;
- the step saved for the gradients strategy is ``before - after`` over the last
  :meth:`SklearnChild.train`, so a parameter server in descent mode (``main -= step``)
  lands where the child did.

scikit-learn creates an estimator's internal state (classes, loss, solver) only in its
first ``partial_fit``. :meth:`SklearnChild.initialize` therefore makes that call once,
on one all-zero row, with every class of the job, and then sets the parameters to their
initial values: zeros for the linear models (scikit-learn's own start; the weight-update
counter ``t_`` is reset too, so the first epoch is exactly a fresh estimator's) and a
Glorot-uniform draw for MLPs (scikit-learn's scheme). An MLP's solver keeps that one
zero-row step in its state (Adam's step count and moments).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from datapredict._validation import check_features, check_int, check_random_state, option_error
from datapredict.adapters._child import SavedStep, settable_options
from datapredict.errors import InvalidDataError, MissingDependencyError, NotInitializedError
from datapredict.parameters import Layout, ModelParameters, check_finite, copy_parameters

try:
    from sklearn.base import clone, is_classifier
except ImportError as error:
    raise MissingDependencyError(
        "SklearnChild needs scikit-learn, which is not installed: pip install 'datapredict[demo]'"
    ) from error

__all__ = ["SklearnChild"]

_OWNER = "SklearnChild"
_ESTIMATORS = (
    "an estimator with partial_fit and coef_/intercept_ or coefs_/intercepts_ "
    "(SGDClassifier, SGDRegressor, Perceptron, PassiveAggressiveClassifier, "
    "PassiveAggressiveRegressor, MLPClassifier, MLPRegressor)"
)
_SETTABLE = ("max_iterations", "random_state")


def _arrays(estimator: Any) -> list[np.ndarray]:
    """The estimator's parameter arrays, in layout order (the live arrays, not copies)."""
    if hasattr(estimator, "coefs_"):
        pairs = zip(estimator.coefs_, estimator.intercepts_, strict=True)
        return [array for pair in pairs for array in pair]
    return [estimator.coef_, estimator.intercept_]


def _glorot(rng: np.random.Generator, arrays: list[np.ndarray], activation: str) -> list:
    """Glorot-uniform values for an MLP's ``[W0, b0, W1, b1, ...]``, as scikit-learn draws
    them: every weight and bias of a layer in ``±sqrt(f / (fan_in + fan_out))``, f = 2
    for the logistic activation, else 6."""
    factor = 2.0 if activation == "logistic" else 6.0
    values = []
    for weights, biases in zip(arrays[::2], arrays[1::2], strict=True):
        bound = np.sqrt(factor / sum(weights.shape))
        values += [rng.uniform(-bound, bound, a.shape) for a in (weights, biases)]
    return values


def _sklearn_random_state(rng: np.random.Generator) -> np.random.RandomState:
    """A ``RandomState`` for the estimator (scikit-learn takes no ``Generator``), drawn
    from ``rng``; one instance, so every epoch shuffles differently."""
    return np.random.RandomState(rng.integers(2**32, dtype=np.uint64))


class SklearnChild(SavedStep):
    """A scikit-learn estimator with ``partial_fit`` as a child model.

    Parameters
    ----------
    estimator : scikit-learn estimator
        E.g. ``SGDClassifier(loss="log_loss")`` or ``MLPClassifier((32,))``. It is
        cloned (``sklearn.base.clone``) in :meth:`initialize`; the object given is never
        changed. ``average`` (averaged SGD) is not supported.
    classes : array-like of shape (n_classes,), optional
        Every class of the job (classifiers only). By default the classes are those of
        the ``labels`` given to :meth:`initialize`, which ``train_distributed`` takes
        from every shard, so a child knows classes its own shard lacks.
    max_iterations : int, default=1
        Epochs of ``partial_fit`` per :meth:`train`.
    random_state : None, int, SeedSequence or Generator, default=None
        Seeds the MLPs' initial parameters and the estimator's shuffling (a
        ``RandomState`` drawn from it becomes the clone's ``random_state``).

    Attributes
    ----------
    estimator_ : scikit-learn estimator or None
        The fitted clone, once :meth:`initialize` ran.

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> child = SklearnChild(SGDClassifier(), random_state=0)
    >>> child.initialize(4, [0, 1, 2])
    >>> [p.shape for p in child.get_model_parameters()]
    [(3, 4), (3,)]
    """

    def __init__(
        self,
        estimator: Any,
        *,
        classes: Any = None,
        max_iterations: int = 1,
        random_state: Any = None,
    ) -> None:
        if not callable(getattr(estimator, "partial_fit", None)):
            raise option_error(_OWNER, "estimator", _ESTIMATORS, estimator)
        if estimator.get_params().get("average", False):
            raise option_error(_OWNER, "estimator", "an estimator with average=False", estimator)
        if classes is not None:
            if not is_classifier(estimator):
                raise option_error(_OWNER, "classes", "None for a regressor", classes)
            classes = np.unique(np.asarray(classes))
            if classes.size < 2:
                raise option_error(_OWNER, "classes", "at least two distinct classes", classes)
        self.estimator = estimator
        self.classes = classes
        self.max_iterations = check_int(_OWNER, "max_iterations", max_iterations, minimum=1)
        self.random_state = random_state
        self._rng = check_random_state(random_state)
        self.estimator_: Any = None
        self._layout: Layout | None = None
        self._are_gradients_saved = False
        self._saved_step: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"SklearnChild({self.estimator!r}, max_iterations={self.max_iterations})"

    # ----------------------------------------------------------------- options
    # Each child's options by name, spelled out as in the other adapter (alike on purpose).
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options (``random_state`` among them, so the runner seeds each child)."""
        return {
            "estimator": self.estimator,
            "classes": self.classes,
            "max_iterations": self.max_iterations,
            "random_state": self.random_state,
        }

    def set_parameters(self, max_iterations: int | None = None, **options: Any) -> None:
        """Change ``max_iterations`` (first positional, as in the seed) or ``random_state``.

        Both are validated before either is applied. A new ``random_state`` also
        reseeds the fitted estimator's shuffling.
        """
        options = settable_options(_OWNER, _SETTABLE, max_iterations, options)
        iterations = self.max_iterations
        if "max_iterations" in options:
            iterations = check_int(_OWNER, "max_iterations", options["max_iterations"], minimum=1)
        rng = check_random_state(options["random_state"]) if "random_state" in options else None
        self.max_iterations = iterations
        if rng is not None:
            self.random_state, self._rng = options["random_state"], rng
            if self.estimator_ is not None:
                self.estimator_.set_params(random_state=_sklearn_random_state(rng))

    # -------------------------------------------------------------- parameters
    def initialize(self, n_features: int, labels: Any = None) -> None:
        """Clone the estimator and create its parameters for ``n_features`` inputs.

        Parameters
        ----------
        n_features : int
        labels : array-like, optional
            Targets of the whole job: a classifier takes its classes from them (unless
            ``classes`` was given); a regressor its number of outputs (2-D targets).
        """
        n_features = check_int(_OWNER, "n_features", n_features, minimum=1)
        estimator = clone(self.estimator)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=_sklearn_random_state(self._rng))
        first_fit: dict[str, Any] = {}
        if is_classifier(estimator):
            classes = self.classes
            if classes is None:
                if labels is None:
                    raise InvalidDataError(
                        f"{_OWNER}.initialize: a classifier needs labels (every class of the "
                        "job) or the classes option; got neither"
                    )
                classes = np.unique(np.asarray(labels))
            first_fit["classes"], target = classes, classes[:1]
        else:
            outputs = () if labels is None or np.ndim(labels) < 2 else np.shape(labels)[1:]
            target = np.zeros((1, *outputs))
        with warnings.catch_warnings():  # an MLP's batch_size is clipped to the one row
            warnings.filterwarnings("ignore", "Got `batch_size`", UserWarning)
            estimator.partial_fit(np.zeros((1, n_features)), target, **first_fit)
        arrays = _arrays(estimator)
        if hasattr(estimator, "coefs_"):
            start = _glorot(self._rng, arrays, estimator.activation)
            estimator.t_ = 0
        else:
            start = [np.zeros_like(a) for a in arrays]
            estimator.t_ = 1.0
        for array, value in zip(arrays, start, strict=True):
            array[...] = value
        self.estimator_ = estimator
        self._layout = Layout.from_template(arrays)
        self._saved_step = None

    def get_model_parameters(self) -> ModelParameters | None:
        """A copy of the parameter arrays (see the module docstring), or None before
        :meth:`initialize`."""
        if self.estimator_ is None:
            return None
        return copy_parameters(_arrays(self.estimator_))

    def set_model_parameters(self, params: ModelParameters) -> None:
        """Validate ``params`` (structure, shapes, finiteness) and copy them into the
        estimator's arrays, in place (an MLP's solver holds those arrays)."""
        if self._layout is None:
            raise NotInitializedError(
                f"{_OWNER}.set_model_parameters: no parameters yet; call "
                "initialize(n_features, labels) or train first"
            )
        values = self._layout.check(params, "params")
        check_finite(params, "params")
        for array, value in zip(_arrays(self.estimator_), values, strict=True):
            np.copyto(array, value)

    def _flat(self) -> np.ndarray:
        return self._layout.flatten(_arrays(self.estimator_))

    # ---------------------------------------------------------------- training
    def train(self, X: Any, y: Any) -> np.ndarray:
        """Run ``max_iterations`` epochs of ``partial_fit`` from the current parameters.

        Returns
        -------
        costs : ndarray of shape (max_iterations,)
            At the start of each epoch: the error rate (classifiers) or the mean squared
            error (regressors) on ``(X, y)``.
        """
        X = check_features(X)
        y = np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise InvalidDataError(
                f"X and y must have the same number of rows; X has {X.shape[0]}, y has {y.shape[0]}"
            )
        if self.estimator_ is None:
            self.initialize(X.shape[1], y)
        before = self._flat() if self._are_gradients_saved else None
        costs = np.empty(self.max_iterations)
        for epoch in range(self.max_iterations):
            costs[epoch] = self._cost(X, y)
            self.estimator_.partial_fit(X, y)
        if before is not None:
            before -= self._flat()
            self._saved_step = before
        return costs

    def _cost(self, X: np.ndarray, y: np.ndarray) -> float:
        if is_classifier(self.estimator_):
            return 1.0 - self.estimator_.score(X, y)
        return float(np.mean((self.estimator_.predict(X).reshape(y.shape) - y) ** 2))

    def predict(self, X: Any) -> np.ndarray:
        """The estimator's predictions for ``X``."""
        self._check_initialized("predict")
        return self.estimator_.predict(check_features(X))

    def score(self, X: Any, y: Any) -> float:
        """The estimator's ``score``: accuracy (classifiers) or R² (regressors)."""
        self._check_initialized("score")
        return float(self.estimator_.score(check_features(X), np.asarray(y)))

    def _check_initialized(self, method: str) -> None:
        if self.estimator_ is None:
            raise NotInitializedError(
                f"{_OWNER}.{method}: the model holds no parameters; train it first"
            )

    # --------------------------------------------------------------- gradients
    def get_gradients(self) -> ModelParameters:
        """A copy of the step of the last :meth:`train`: ``before - after``.

        The child went from ``before`` to ``after = before - step``; a parameter server
        in descent mode applies the same ``main -= step``.
        """
        step = self._last_step()  # first: before any train there is no layout either
        return copy_parameters(self._layout.unflatten(step))
