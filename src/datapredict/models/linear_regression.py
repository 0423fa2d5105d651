"""Linear regression trained by gradient descent on the mean squared error."""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict._validation import check_bool
from datapredict.errors import InvalidDataError
from datapredict.models._linear import (
    affine,
    affine_gradient,
    initial_matrix,
    intercept_mask,
    matrix_features,
)
from datapredict.models.base import GradientModel
from datapredict.parameters import Layout

__all__ = ["LinearRegression"]


class LinearRegression(GradientModel):
    """Least-squares regression, ``cost = sum((X W - y)**2) / (2 n)``.

    Parameters
    ----------
    max_iterations : int, default=500
        Steps per call to :meth:`train`.
    learning_rate : float, default=0.3
    fit_intercept : bool, default=True
        Hold an intercept in the first row of the parameter matrix.
    batch_size : int or None, default=None
        Rows per step; ``None`` is full batch.
    optimizer : {"sgd", "momentum", "adam"}, default="sgd"
    l1, l2 : float, default=0
        Penalties on every weight ``w`` but the intercept: the cost becomes
        ``sum((X W - y)**2) / (2 n) + l1 * sum(|w|) + l2 / 2 * sum(w**2)``. The same
        terms are added to the data cost of every model.
    on_nonfinite : {"raise", "warn"}, default="raise"
        When a ``train`` call diverges (a cost or the parameters become NaN or
        infinite): raise :class:`~datapredict.errors.NonFiniteError` and leave the
        model as it was before the call, or warn and keep the parameters.
    random_state : int, Generator or None, default=None
        Seeds the initialisation and the batch order.

    Notes
    -----
    The parameters are one matrix of shape (n_features + 1, n_outputs), intercept first,
    as in DataPredict.

    Options are validated when they are used (``fit``, ``train``, ...), not by the
    constructor or ``set_params``, as scikit-learn's estimators do; ``set_parameters``
    validates at once.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(8.0).reshape(4, 2); y = X @ [1.0, -2.0] + 3.0
    >>> model = LinearRegression(max_iterations=2000, learning_rate=0.05, random_state=0)
    >>> costs = model.train(X, y)
    >>> bool(costs[-1] < 1e-6)
    True
    """

    _OPTIONS = {
        **GradientModel._OPTIONS,
        "fit_intercept": lambda o, v: check_bool(o, "fit_intercept", v),
    }
    _STRUCTURAL = frozenset({"fit_intercept"})
    _NONFINITE_INPUTS_PROPAGATE = True

    # Each option spelled out, as in every model: scikit-learn's checks read this signature.
    def __init__(
        self,
        *,
        max_iterations: int = 500,
        learning_rate: float = 0.3,
        fit_intercept: bool = True,
        batch_size: int | None = None,
        optimizer: str = "sgd",
        l1: float = 0.0,
        l2: float = 0.0,
        on_nonfinite: str = "raise",
        random_state: Any = None,
    ) -> None:
        super().__init__(
            max_iterations=max_iterations,
            learning_rate=learning_rate,
            fit_intercept=fit_intercept,
            batch_size=batch_size,
            optimizer=optimizer,
            l1=l1,
            l2=l2,
            on_nonfinite=on_nonfinite,
            random_state=random_state,
        )

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        X = self._check_predict_features(X)
        Z = affine(self._params, X, self._options["fit_intercept"])
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def score(self, X: Any, y: Any) -> float:
        """Coefficient of determination R² (uniform average over outputs)."""
        predicted = self.predict(X)
        y = np.asarray(y, dtype=np.float64).reshape(predicted.shape)
        residual = ((y - predicted) ** 2).sum(axis=0)
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1.0 - residual / total))

    def cost_and_gradient(self, params, X, Y):
        """Squared-error cost ``sum(R**2) / (2n)`` and its gradient, ``R = X W - Y``."""
        fit_intercept = self._options["fit_intercept"]
        R = affine(params, X, fit_intercept, out=self._scratch("residual", Y.shape))
        R -= Y
        cost = 0.5 * float(np.vdot(R, R)) / X.shape[0]
        R /= X.shape[0]
        return cost, affine_gradient(X, R, fit_intercept)

    # hooks
    def _n_outputs_for(self, y):
        return 1 if y is None or y.ndim == 1 else y.shape[1]

    def _encode_targets(self, y):
        Y = y.reshape(y.shape[0], -1)
        if self._flat is not None and Y.shape[1] != self._params.shape[1]:
            raise InvalidDataError(
                f"y has {Y.shape[1]} outputs; this LinearRegression has {self._params.shape[1]}"
            )
        return Y

    def _validate_new_layout(self, layout: Layout) -> int:
        return matrix_features(layout, "LinearRegression", self._options["fit_intercept"], None)

    def _initial_parameters(self, n_features, n_outputs, rng):
        return initial_matrix(n_features, n_outputs, self._options["fit_intercept"], rng)

    def _penalty_mask(self, params):
        return intercept_mask(params, self._options["fit_intercept"])
