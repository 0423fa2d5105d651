"""Logistic regression: a sigmoid for two classes, a softmax for more, any label values."""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict._validation import check_bool
from datapredict.models._classes import ClassifierMixin, check_classes_option
from datapredict.models._linear import (
    affine,
    affine_by_class,
    affine_gradient,
    affine_gradient_by_class,
    initial_matrix,
    intercept_mask,
    matrix_features,
)
from datapredict.models._losses import cross_entropy, softmax_cross_entropy_by_class
from datapredict.models.base import GradientModel
from datapredict.parameters import Layout

__all__ = ["LogisticRegression"]


class LogisticRegression(ClassifierMixin, GradientModel):
    """Logistic (two classes) or multinomial (softmax) regression on the mean cross-entropy.

    Parameters
    ----------
    max_iterations : int, default=500
    learning_rate : float, default=0.1
    fit_intercept : bool, default=True
    classes : sequence or None, default=None
        All class labels. Needed when a child's shard does not hold every class;
        otherwise learned from the first labels seen.
    batch_size, optimizer, l1, l2, on_nonfinite, random_state
        As for :class:`LinearRegression`.

    Notes
    -----
    Parameters: one matrix (n_features + 1, 1) for two classes, (n_features + 1, K) for K
    classes, intercept first. ``predict`` returns labels from ``classes_``.
    """

    _OPTIONS = {
        **GradientModel._OPTIONS,
        "fit_intercept": lambda o, v: check_bool(o, "fit_intercept", v),
        "classes": check_classes_option,
    }
    _STRUCTURAL = frozenset({"fit_intercept", "classes"})
    _NONFINITE_INPUTS_PROPAGATE = True
    _targets_by_class = True

    # Each option spelled out, as in every model: scikit-learn's checks read this signature.
    def __init__(
        self,
        *,
        max_iterations: int = 500,
        learning_rate: float = 0.1,
        fit_intercept: bool = True,
        classes: Any = None,
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
            classes=classes,
            batch_size=batch_size,
            optimizer=optimizer,
            l1=l1,
            l2=l2,
            on_nonfinite=on_nonfinite,
            random_state=random_state,
        )

    def cost_and_gradient(self, params, X, Y):
        """Mean cross-entropy of ``Y`` under the model and its gradient.

        With more than two classes the logits are computed with the classes along the
        rows, (K, n), where the softmax's per-sample work is whole-row operations.
        """
        fit_intercept = self._options["fit_intercept"]
        n, k = X.shape[0], params.shape[1]
        if k == 1:
            logits = affine(params, X, fit_intercept, out=self._scratch("logits", (n, 1)))
            cost, dZ = cross_entropy(logits, Y, work=self._scratch("work", (n, 1)))
            return cost, affine_gradient(X, dZ, fit_intercept)
        ZT = affine_by_class(params, X, fit_intercept, out=self._scratch("logits", (k, n)))
        YT = Y.T if Y.T.flags.c_contiguous else np.ascontiguousarray(Y.T)
        cost, RT = softmax_cross_entropy_by_class(ZT, YT)
        return cost, affine_gradient_by_class(X, RT, fit_intercept)

    def stacked_cost_and_gradient(self, W, X, YT):
        """:meth:`cost_and_gradient` of B children at once (more than two classes):
        parameters ``W`` (B, rows, K), features ``X`` (B, n, n_features) and encoded
        targets ``YT`` (B, K, n) give the costs (B,) and gradients (B, rows, K), each
        slice exactly as :meth:`cost_and_gradient` computes it alone."""
        fit_intercept = self._options["fit_intercept"]
        (B, n), k = X.shape[:2], W.shape[-1]
        logits = self._scratch("stacked logits", (B, k, n))
        ZT = affine_by_class(W, X, fit_intercept, out=logits)
        costs, RT = softmax_cross_entropy_by_class(ZT, YT)
        return costs, affine_gradient_by_class(X, RT, fit_intercept)

    def _has_stacked_objective(self) -> bool:
        return self._params.shape[1] > 1

    def _logits(self, X: Any) -> np.ndarray:
        X = self._check_predict_features(X)
        return affine(self._params, X, self._options["fit_intercept"])

    def _output_count(self) -> int:
        return self._params.shape[1]

    def _validate_new_layout(self, layout: Layout) -> int:
        n_features = matrix_features(
            layout, "LogisticRegression", self._options["fit_intercept"], None
        )
        self._check_classifier_outputs(layout.shapes[0][1])
        return n_features

    def _initial_parameters(self, n_features, n_outputs, rng):
        return initial_matrix(n_features, n_outputs, self._options["fit_intercept"], rng)

    def _penalty_mask(self, params):
        return intercept_mask(params, self._options["fit_intercept"])
