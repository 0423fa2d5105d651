"""The shared training loop of datapredict's own models.

A subclass supplies the parameter initialisation, the targets' encoding, the forward
pass and ``cost_and_gradient(params, X, Y)``; :class:`GradientModel` owns everything
else: option and input validation, the iteration loop, mini-batching, the step rule,
L1/L2 penalties, saving the applied step and ``set_parameters``.

Parameters are held as one contiguous float64 vector (``Layout`` views give the
structured form), so a step is one in-place vector operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np

from datapredict._validation import (
    check_choice,
    check_float,
    check_int,
    check_random_state,
    option_error,
)
from datapredict.errors import (
    DataTypeError,
    InvalidDataError,
    InvalidOptionError,
    NonFiniteError,
    NotInitializedError,
)
from datapredict.models._scratch import Scratch
from datapredict.models.optimizers import STEP_RULES
from datapredict.parameters import (
    Layout,
    ModelParameters,
    check_finite,
    copy_parameters,
    is_finite_fast,
    read_only_view,
)

__all__ = ["GradientModel", "as_array", "check_features", "check_finite_features"]


def as_array(data: Any, name: str) -> np.ndarray:
    """Return ``data`` as an ndarray; ragged or otherwise unconvertible input is a type error."""
    try:
        return np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise DataTypeError(f"{name} must be a numeric array; it cannot be one: {exc}") from None


def check_features(X: Any, name: str = "X", *, finite: bool = True) -> np.ndarray:
    """Return ``X`` as a C-contiguous float64 matrix of shape (n_samples, n_features).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : str, default="X"
        The argument name used in error messages.
    finite : bool, default=True
        Check that every value is finite. ``False`` leaves the check to the caller
        (see :func:`check_finite_features`).

    Raises
    ------
    DataTypeError
        For non-numeric, complex or ragged data.
    InvalidDataError
        For a wrong number of dimensions or no rows or columns.
    NonFiniteError
        For NaN or infinity (when ``finite``).
    """
    array = as_array(X, name)
    if array.dtype.kind not in "biuf":
        raise DataTypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 2:
        raise InvalidDataError(
            f"{name} must be 2-D, of shape (n_samples, n_features); got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidDataError(f"{name} must have at least one row and column; got {array.shape}")
    floats = array.dtype.kind == "f"
    array = np.ascontiguousarray(array, dtype=np.float64)
    if finite and floats:
        check_finite_features(array, name)
    return array


def check_finite_features(X: np.ndarray, name: str = "X") -> None:
    """Raise :class:`NonFiniteError` if the float matrix ``X`` holds NaN or infinity.

    A finite sum proves every value finite (one fast pass); only a non-finite sum,
    which finite values can also give by overflowing, needs the element-wise check.
    """
    if np.isfinite(np.sum(X)):
        return
    finite = np.isfinite(X)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise NonFiniteError(
            f"{name} must be finite; it holds {X.size - np.count_nonzero(finite)} NaN or "
            f"infinite values, the first at row {row}, column {column} ({X[row, column]})"
        )


def _all_finite(cost: float, gradient: np.ndarray) -> bool:
    return math.isfinite(cost) and is_finite_fast(gradient)


def _check_rows(X: np.ndarray, y: np.ndarray) -> None:
    if y.shape[0] != X.shape[0]:
        raise InvalidDataError(
            f"X and y must have the same number of rows; X has {X.shape[0]}, y has {y.shape[0]}"
        )


def _check_optimizer(owner: str, value: Any) -> str:
    return check_choice(owner, "optimizer", value, STEP_RULES)


def _check_batch_size(owner: str, value: Any) -> int | None:
    return None if value is None else check_int(owner, "batch_size", value, minimum=1)


class GradientModel:
    """Base class of the gradient-trained models (see the subclasses for the options).

    Subclasses define ``_OPTIONS`` entries of their own, ``_STRUCTURAL`` option names
    that cannot change once parameters exist, and the hooks ``_initial_parameters``,
    ``_encode_targets``, ``_penalty_mask`` and ``cost_and_gradient``.

    A subclass whose full-batch cost or gradient is NaN or infinite whenever an input
    value is (every input value enters a matrix product with the parameters, as
    ``X @ W`` and ``X.T @ delta`` do) sets ``_NONFINITE_INPUTS_PROPAGATE = True``; for
    an initialised model :meth:`train` then checks the first iteration's result
    instead of making a separate pass over ``X`` (see :meth:`train`).
    """

    _NONFINITE_INPUTS_PROPAGATE: ClassVar[bool] = False

    _OPTIONS: ClassVar[dict[str, Callable[[str, Any], Any]]] = {
        "max_iterations": lambda o, v: check_int(o, "max_iterations", v, minimum=1),
        "learning_rate": lambda o, v: check_float(o, "learning_rate", v, low=0, low_open=True),
        "batch_size": _check_batch_size,
        "optimizer": _check_optimizer,
        "l1": lambda o, v: check_float(o, "l1", v, low=0),
        "l2": lambda o, v: check_float(o, "l2", v, low=0),
        "random_state": lambda o, v: (check_random_state(v), v)[1],
    }
    _STRUCTURAL: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **options: Any) -> None:
        self._options: dict[str, Any] = {}
        self._given: dict[str, Any] = {}
        self._apply_options(options)
        self._layout: Layout | None = None
        self._flat: np.ndarray | None = None
        self._n_features: int | None = None
        self._saved_step: np.ndarray | None = None
        self._are_gradients_saved = False
        self._scratch = Scratch()
        self._reset_training_state()

    # ----------------------------------------------------------------- options
    def _apply_options(self, options: dict[str, Any]) -> None:
        owner = type(self).__name__
        validated = {}
        for name, value in options.items():
            if name not in self._OPTIONS:
                raise InvalidOptionError(
                    f"{owner} has no option {name!r}; the options are {sorted(self._OPTIONS)}"
                )
            validated[name] = self._OPTIONS[name](owner, value)
        if getattr(self, "_flat", None) is not None:
            changed = [
                n for n in validated if n in self._STRUCTURAL and validated[n] != self._options[n]
            ]
            if changed:
                raise InvalidOptionError(
                    f"The {changed[0]!r} option of {owner} cannot change once the parameters "
                    f"exist; create a new {owner} instead"
                )
        self._options.update(validated)
        self._given.update(options)
        if "random_state" in validated:
            self._rng = check_random_state(validated["random_state"])
        if "optimizer" in validated and getattr(self, "_flat", None) is not None:
            self._step_state = STEP_RULES[self._options["optimizer"]]().init(self._flat.size)

    def set_parameters(self, max_iterations: int | None = None, **options: Any) -> None:
        """Change options; the first positional argument is ``max_iterations`` (as in the seed).

        All values are validated before any is applied, so a bad value changes nothing.
        """
        if max_iterations is not None:
            options["max_iterations"] = max_iterations
        self._apply_options(options)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options, as given to the constructor or set since (scikit-learn's
        ``get_params``; a model holds no other estimator, so ``deep`` changes nothing)."""
        return dict(self._given)

    def set_params(self, **options: Any) -> Self:
        """scikit-learn's ``set_params``: :meth:`set_parameters` by keyword; returns the model."""
        self._apply_options(options)
        return self

    # ------------------------------------------------------------ scikit-learn
    @property
    def _estimator_type(self) -> str:
        return "classifier" if getattr(self, "_is_classifier", False) else "regressor"

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (only scikit-learn calls this, so it is installed)."""
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        classifier = self._estimator_type == "classifier"
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags() if classifier else None,
            regressor_tags=None if classifier else RegressorTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return self._flat is not None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"{type(self).__name__}({shown})"

    # -------------------------------------------------------------- parameters
    @property
    def is_initialized(self) -> bool:
        """Whether the model holds parameters."""
        return self._flat is not None

    @property
    def n_features(self) -> int | None:
        """Number of input features, once known."""
        return self._n_features

    def get_model_parameters(self) -> ModelParameters | None:
        """Return a copy of the parameters, or ``None`` before any exist."""
        if self._flat is None:
            return None
        return copy_parameters(self._layout.unflatten(self._flat))

    def set_model_parameters(self, params: ModelParameters) -> None:
        """Validate ``params`` (structure, shapes, finiteness) and copy them in.

        Before the model holds parameters, ``params`` defines the structure (it must be
        one this model can use); afterwards it must match the current structure.
        """
        check_finite(params, "params")
        if self._layout is None:
            layout = Layout.from_template(params, "params")
            n_features = self._validate_new_layout(layout)
            flat = layout.flatten(params, "params").astype(np.float64, copy=False)
            self._adopt(Layout.from_template(layout.unflatten(flat)), flat, n_features)
        else:
            self._layout.flatten(params, "params", out=self._flat)

    def initialize(self, n_features: int, y: Any = None) -> None:
        """Create fresh parameters for ``n_features`` inputs and targets like ``y``.

        Classifiers learn their classes from ``y`` (unless the ``classes`` option is set);
        regressors learn the number of outputs from it (one when ``y`` is None).
        """
        n_features = check_int(type(self).__name__, "n_features", n_features, minimum=1)
        n_outputs = self._n_outputs_for(None if y is None else np.asarray(y))
        params = self._initial_parameters(n_features, n_outputs, self._rng)
        flat_layout = Layout.from_template(params)
        self._adopt(flat_layout, flat_layout.flatten(params), n_features)

    def _adopt(self, layout: Layout, flat: np.ndarray, n_features: int) -> None:
        self._layout, self._flat, self._n_features = layout, np.ascontiguousarray(flat), n_features
        self._params = layout.unflatten(self._flat)
        self._penalty = self._penalty_mask(self._params)
        self._saved_step = None
        self._reset_training_state()

    def __getstate__(self) -> dict[str, Any]:
        # ``_params`` are views into ``_flat``: rebuild them after a copy or unpickling
        # rather than letting copy/pickle turn them into independent arrays.
        state = self.__dict__.copy()
        state.pop("_params", None)
        state.pop("_scratch", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._scratch = Scratch()
        if self._flat is not None:
            self._params = self._layout.unflatten(self._flat)

    def _reset_training_state(self) -> None:
        size = 0 if self._flat is None else self._flat.size
        self._step_state = STEP_RULES[self._options["optimizer"]]().init(size)
        self._order: np.ndarray | None = None
        self._cursor = 0

    # --------------------------------------------------------------- gradients
    def set_are_gradients_saved(self, saved: bool) -> None:
        """Keep (``True``) or not the step of the last iteration for :meth:`get_gradients`."""
        if not isinstance(saved, bool | np.bool_):
            raise option_error(type(self).__name__, "are_gradients_saved", "a bool", saved)
        self._are_gradients_saved = bool(saved)
        if not saved:
            self._saved_step = None

    def get_gradients(self, *, copy: bool = True) -> ModelParameters:
        """Return a copy of the step the last iteration applied (learning rate included).

        The model did ``params -= step``; a parameter server in descent mode applies the
        same step to the main parameters. ``copy=False`` returns read-only views of the
        saved step instead (each iteration saves a new one, so they stay valid).
        """
        if self._saved_step is None:
            raise NotInitializedError(
                "get_gradients: no step saved; call set_are_gradients_saved(True), then train"
            )
        if copy:
            return copy_parameters(self._layout.unflatten(self._saved_step))
        return self._layout.unflatten(read_only_view(self._saved_step))

    def clear_gradients(self) -> None:
        """Forget the saved step."""
        self._saved_step = None

    # ---------------------------------------------------------------- training
    def fit(self, X: Any, y: Any) -> Self:
        """scikit-learn's ``fit``: train ``max_iterations`` steps from fresh parameters.

        Unlike :meth:`train`, which continues from the current parameters, ``fit``
        starts over (new initialisation from ``random_state``; classifiers learn their
        classes again). Bad input raises as for :meth:`train` and changes nothing.

        Returns
        -------
        self
        """
        kept = dict(self.__dict__)
        self._forget()
        try:
            self.train(X, y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(kept)
            raise
        return self

    def _forget(self) -> None:
        """Drop the parameters and what was learned with them (see :meth:`fit`)."""
        self._layout = self._flat = self._n_features = self._saved_step = None
        self.__dict__.pop("_params", None)
        if hasattr(self, "classes_"):
            self.classes_ = None
        self._rng = check_random_state(self._options["random_state"])
        self._reset_training_state()

    def train(self, X: Any, y: Any) -> np.ndarray:
        """Run ``max_iterations`` steps from the current parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        costs : ndarray of shape (max_iterations,)
            The cost at the start of each iteration (before its step), penalties included.

        Raises
        ------
        DataTypeError, InvalidDataError, NonFiniteError, ParameterStructureError
            For unusable ``X`` or ``y``; the model is then left unchanged.

        Notes
        -----
        Checking ``X`` for NaN and infinity is one more pass over the data, about as
        long as one of an iteration's two matrix products. When the model already holds
        parameters and trains on the full batch, a model that propagates non-finite
        inputs skips that pass: in IEEE arithmetic every product term with NaN or
        infinity is NaN or infinite (``0 * inf`` is NaN), so such a value anywhere in
        ``X`` makes the first iteration's cost or gradient non-finite, and only then is
        ``X`` checked, before any step is applied.
        """
        X = check_features(X, finite=False)
        deferred = self._defers_finite_check(X.shape[0])
        if not deferred:
            check_finite_features(X)
        Y = self._prepare(X, y)
        rule = STEP_RULES[self._options["optimizer"]]()
        learning_rate = self._options["learning_rate"]
        costs = np.empty(self._options["max_iterations"])
        for i in range(costs.size):
            rows = self._next_batch(X.shape[0])
            Xb, Yb = (X, Y) if rows is None else (X[rows], Y[rows])
            if deferred and i == 0:
                cost, gradient = self._objective_checking_inputs(X, Y)
            else:
                cost, gradient = self._objective(Xb, Yb)
            step, self._step_state = rule.step(gradient, self._step_state, learning_rate)
            self._flat -= step
            costs[i] = cost
        if self._are_gradients_saved:
            self._saved_step = step
        return costs

    def _is_full_batch(self, n_rows: int) -> bool:
        size = self._options["batch_size"]
        return size is None or size >= n_rows

    def _defers_finite_check(self, n_rows: int) -> bool:
        """Whether the first iteration may stand in for the check of ``X`` (see :meth:`train`)."""
        return (
            self._NONFINITE_INPUTS_PROPAGATE
            and self._flat is not None
            and self._is_full_batch(n_rows)
            and self._targets_known()
        )

    def _targets_known(self) -> bool:
        """Whether encoding targets leaves the model unchanged (classifiers may learn classes)."""
        return True

    def _prepare(self, X: np.ndarray, y: Any) -> np.ndarray:
        """Validate ``y`` against ``X`` and the model; initialise parameters if needed."""
        y = as_array(y, "y")
        if y.ndim == 0 or y.ndim > 2:
            raise InvalidDataError(f"y must be 1-D or 2-D; got shape {y.shape}")
        _check_rows(X, y)
        if self._n_features is not None and X.shape[1] != self._n_features:
            raise InvalidDataError(
                f"X has {X.shape[1]} features; this {type(self).__name__} was initialised "
                f"with {self._n_features}"
            )
        Y = self._encode_targets(y)
        if self._flat is None:
            self.initialize(X.shape[1], y)
        return Y

    def _next_batch(self, n_rows: int) -> np.ndarray | None:
        if self._is_full_batch(n_rows):
            return None
        size = self._options["batch_size"]
        if self._order is None or self._order.size != n_rows or self._cursor >= n_rows:
            self._order, self._cursor = self._rng.permutation(n_rows), 0
        rows = self._order[self._cursor : self._cursor + size]
        self._cursor += size
        return np.sort(rows)

    def _objective_checking_inputs(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`_objective` on the full batch, standing in for the finiteness check of ``X``.

        A non-finite result means NaN or infinity in ``X`` (then
        :class:`NonFiniteError` is raised before anything changes) or parameters that
        have diverged (then training goes on as it would have).
        """
        with np.errstate(all="ignore"):
            cost, gradient = self._objective(X, Y)
        if not _all_finite(cost, gradient):
            check_finite_features(X)
        return cost, gradient

    def _objective(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """Cost and flat gradient at the current parameters, penalties included."""
        cost, gradient = self.cost_and_gradient(self._params, X, Y)
        gradient = self._layout.flatten(gradient, "gradient", copy=False)  # ours: no copy
        l1, l2 = self._options["l1"], self._options["l2"]
        if l1 or l2:
            penalised = self._flat * self._penalty
            cost += l1 * np.abs(penalised).sum() + 0.5 * l2 * penalised @ penalised
            gradient += l1 * np.sign(penalised) + l2 * penalised
        return float(cost), gradient

    # ------------------------------------------------------------ subclass API
    def _n_outputs_for(self, y: np.ndarray | None) -> int:
        raise NotImplementedError

    def _validate_new_layout(self, layout: Layout) -> int:
        """Check that ``layout`` fits this model; return its number of features."""
        raise NotImplementedError

    def _initial_parameters(
        self, n_features: int, n_outputs: int, rng: np.random.Generator
    ) -> ModelParameters:
        raise NotImplementedError

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _penalty_mask(self, params: ModelParameters) -> np.ndarray:
        raise NotImplementedError

    def cost_and_gradient(
        self, params: ModelParameters, X: np.ndarray, Y: np.ndarray
    ) -> tuple[float, ModelParameters]:
        """Return the data cost at ``params`` and its gradient, in the structure of ``params``.

        ``Y`` is the encoded target matrix of shape (n_samples, n_outputs).
        """
        raise NotImplementedError

    def _check_predict_features(self, X: Any) -> np.ndarray:
        """Validate ``X`` for prediction against the model's feature count."""
        self._require_parameters("predict")
        X = check_features(X)
        if X.shape[1] != self._n_features:
            raise InvalidDataError(
                f"X has {X.shape[1]} features; this {type(self).__name__} has {self._n_features}"
            )
        return X

    def _require_parameters(self, what: str) -> None:
        if self._flat is None:
            raise NotInitializedError(
                f"{what}: {type(self).__name__} has no parameters yet; call train() or "
                f"set_model_parameters() first"
            )
