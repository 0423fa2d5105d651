"""The shared training loop of datapredict's own models.

A subclass supplies the parameter initialisation, the targets' encoding, the forward
pass and ``cost_and_gradient(params, X, Y)``; :class:`GradientModel` owns everything
else: input validation, the iteration loop, mini-batching, the step rule, L1/L2
penalties, saving the applied step, refusing (or reporting) a run that diverged, and,
through its bases, the options (:mod:`~datapredict.models._options`) and scikit-learn's
conventions (:mod:`~datapredict.models._sklearn`).

Parameters are held as one contiguous float64 vector (``Layout`` views give the
structured form), so a step is one in-place vector operation.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np

from datapredict._validation import (
    check_choice,
    check_features,
    check_finite_features,
    check_float,
    check_int,
    check_random_state,
    check_same_rows,
    check_targets,
    feature_names,
    option_error,
)
from datapredict.errors import NonFiniteError, NotInitializedError
from datapredict.models._divergence import Snapshot, divergence_message
from datapredict.models._options import ModelOptions, OptionCheck
from datapredict.models._scratch import Scratch
from datapredict.models._sklearn import ScikitLearnEstimator
from datapredict.models._stacked import StackedTrainingMixin
from datapredict.models._training_state import TrainingStateMixin
from datapredict.models.optimizers import STEP_RULES
from datapredict.parameters import (
    Layout,
    ModelParameters,
    check_finite,
    copy_parameters,
    is_finite_fast,
    read_only_view,
)

__all__ = ["GradientModel"]


def _all_finite(vector: np.ndarray) -> bool:
    """Whether every value of the 1-D float ``vector`` is finite (one BLAS pass, usually)."""
    return is_finite_fast(vector) or bool(np.isfinite(vector).all())


def _check_optimizer(owner: str, value: Any) -> str:
    return check_choice(owner, "optimizer", value, STEP_RULES)


def _check_batch_size(owner: str, value: Any) -> int | None:
    return None if value is None else check_int(owner, "batch_size", value, minimum=1)


class GradientModel(ModelOptions, TrainingStateMixin, StackedTrainingMixin, ScikitLearnEstimator):
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
    _is_classifier: ClassVar[bool] = False

    _OPTIONS: ClassVar[dict[str, OptionCheck]] = {
        "max_iterations": lambda o, v: check_int(o, "max_iterations", v, minimum=1),
        "learning_rate": lambda o, v: check_float(o, "learning_rate", v, low=0, low_open=True),
        "batch_size": _check_batch_size,
        "optimizer": _check_optimizer,
        "l1": lambda o, v: check_float(o, "l1", v, low=0),
        "l2": lambda o, v: check_float(o, "l2", v, low=0),
        "on_nonfinite": lambda o, v: check_choice(o, "on_nonfinite", v, ("raise", "warn")),
        "random_state": lambda o, v: (check_random_state(v), v)[1],
    }

    def __init__(self, **options: Any) -> None:
        self._store_options(options)
        self._layout: Layout | None = None
        self._flat: np.ndarray | None = None
        self._n_features: int | None = None
        self._feature_names: np.ndarray | None = None
        self._saved_step: np.ndarray | None = None
        self._are_gradients_saved = False
        self._scratch = Scratch()
        self._step_state: tuple = ()
        self._order: np.ndarray | None = None
        self._cursor = 0

    @property
    def _task(self) -> str:
        return "classification" if self._is_classifier else "regression"

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
        one this model can use, with no empty matrix); afterwards it must match the
        current structure.
        """
        self._check_options()
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
        self._check_options()
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
        self._step_state = STEP_RULES[self._options["optimizer"]]().init(self._flat.size)
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
    def _forget(self) -> None:
        """Drop the parameters and what was learned with them (see :meth:`fit`)."""
        self._layout = self._flat = self._n_features = self._saved_step = None
        self._feature_names = None
        self.__dict__.pop("_params", None)
        if hasattr(self, "classes_"):
            self.classes_ = None
        self._changed = self._changed | {"random_state"}  # reseeded when validated

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
        InvalidOptionError
            For a bad option value; the model is then left unchanged.
        DataTypeError, InvalidDataError, NonFiniteError, ParameterStructureError
            For unusable ``X`` or ``y``; the model is then left unchanged.
        NonFiniteError
            When training diverged (a cost or the parameters became NaN or infinite)
            and the ``on_nonfinite`` option is ``"raise"``: the model is then left as
            it was before the call. With ``"warn"``, a ``RuntimeWarning`` instead.

        Notes
        -----
        Checking ``X`` for NaN and infinity is one more pass over the data, about as
        long as one of an iteration's two matrix products. When the model already holds
        parameters and trains on the full batch, a model that propagates non-finite
        inputs skips that pass: in IEEE arithmetic every product term with NaN or
        infinity is NaN or infinite (``0 * inf`` is NaN), so such a value anywhere in
        ``X`` makes the first iteration's cost or gradient non-finite, and only then is
        ``X`` checked, before any step is applied.

        Divergence costs no work inside the loop: the costs and then the parameters
        are checked once, after it (one pass over each).
        """
        costs, divergence = self._train(X, y)
        if divergence:
            warnings.warn(divergence, RuntimeWarning, stacklevel=2)
        return costs

    def _train(self, X: Any, y: Any) -> tuple[np.ndarray, str | None]:
        """:meth:`train`, returning the costs and, when it diverged with
        ``on_nonfinite="warn"``, the warning for the public method to issue."""
        self._check_options()
        names = feature_names(X)
        X = check_features(X, finite=False)
        deferred = self._defers_finite_check(X.shape[0])
        if not deferred:
            check_finite_features(X)
        draws = self._flat is None or not self._is_full_batch(X.shape[0])  # init or batches
        before = Snapshot.take(self, draws=draws)
        Y = self._prepare(X, y, names)
        with np.errstate(all="ignore"):  # a non-finite result is reported below
            costs = self._iterate(X, Y, deferred)
        if _all_finite(costs) and _all_finite(self._flat):
            return costs, None
        return costs, self._report_divergence(costs, before)

    def _iterate(self, X: np.ndarray, Y: np.ndarray, deferred: bool) -> np.ndarray:
        """Apply ``max_iterations`` steps; return the cost before each (see :meth:`train`)."""
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

    def _report_divergence(self, costs: np.ndarray, before: Snapshot) -> str:
        """Raise :class:`NonFiniteError` after restoring the model to ``before``, or return
        the warning to issue (``on_nonfinite="warn"``)."""
        message = divergence_message(type(self).__name__, costs, self._options["learning_rate"])
        if self._options["on_nonfinite"] == "warn":
            return f"{message}; the parameters are kept (on_nonfinite='warn')"
        before.restore(self)
        raise NonFiniteError(
            f"{message}; the model is left as it was before this call (on_nonfinite='raise')"
        )

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

    def _prepare(self, X: np.ndarray, y: Any, names: np.ndarray | None) -> np.ndarray:
        """Validate ``y`` against ``X`` and the model; initialise parameters if needed."""
        targets = check_targets(y, task=self._task)
        check_same_rows(X, targets)
        self._check_feature_count(X)
        self._check_feature_names(names)
        Y = self._encode_targets(targets)
        if self._flat is None:
            self.initialize(X.shape[1], targets)
            self._feature_names = names
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
        have diverged (then training goes on, and :meth:`train` reports it at the end).
        """
        cost, gradient = self._objective(X, Y)
        if not (math.isfinite(cost) and is_finite_fast(gradient)):
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
        """Targets validated by ``check_targets`` -> the matrix (n_samples, n_outputs)."""
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
