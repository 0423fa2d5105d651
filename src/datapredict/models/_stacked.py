"""Training a stack of children at once: B parameter vectors, one model's arithmetic.

A pool worker trains many children from the same main parameters. When the model is
datapredict's softmax regression trained on full batches with plain SGD and no
penalty (the usual federated set-up), B children with shards of equal size train
together: each iteration is the same dozen numpy calls over (B, ...) stacks instead
of once per child. Every slice is computed exactly as :meth:`GradientModel.train`
computes it for that child alone (the kernels of :mod:`~datapredict.models._linear`
and :mod:`~datapredict.models._losses` take leading stack axes), so the parameters
are bit-identical (``tests/models/test_stacked.py``). A child with unusable targets
or a result that is not finite is left to the caller, to train alone and raise or warn
as ``train`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from datapredict.errors import DataPredictError

__all__ = ["StackedResult", "StackedTrainingMixin"]


class StackedResult(NamedTuple):
    """What :meth:`StackedTrainingMixin.train_stacked` returns, one row per child."""

    parameters: np.ndarray  # (B, P): each child's flat parameters after training
    steps: np.ndarray  # (B, P): each child's last step (what a gradients child pushes)
    first_costs: np.ndarray  # (B,): each child's cost before its first step
    done: np.ndarray  # (B,) bool: usable targets, and every cost and parameter finite


class StackedTrainingMixin:
    """``can_train_stacked`` / ``train_stacked`` for :class:`GradientModel` subclasses
    that define ``stacked_cost_and_gradient(W, X, YT) -> (costs, G)`` over stacks."""

    def can_train_stacked(self, n_rows: int) -> bool:
        """Whether shards of ``n_rows`` rows can train stacked, bit-identical to
        :meth:`train`: an initialised model with a stacked objective for its outputs,
        plain SGD, full batches and no L1/L2 penalty. The class must define
        ``stacked_cost_and_gradient`` itself: a subclass (which may change ``train`` or
        the objective) trains one child at a time unless it defines its own."""
        options = self._options
        return (
            "stacked_cost_and_gradient" in type(self).__dict__
            and self._flat is not None
            and self._has_stacked_objective()
            and options["optimizer"] == "sgd"
            and not options["l1"]
            and not options["l2"]
            and self._is_full_batch(n_rows)
        )

    def _has_stacked_objective(self) -> bool:
        return False

    def train_stacked(self, start: np.ndarray, X: np.ndarray, y: Sequence) -> StackedResult:
        """Train B children from the flat parameters ``start``, each on its own shard.

        Parameters
        ----------
        start : ndarray of shape (P,)
            The parameters every child starts from (this model's layout).
        X : ndarray of shape (B, n, n_features)
            The children's features, stacked.
        y : sequence of B arrays of n targets
            The children's targets (each validated and encoded as ``train`` does).

        Returns
        -------
        StackedResult
            ``done`` is False for a child whose targets are unusable or whose training
            did not stay finite: train it alone to get its error or warning. The model
            itself is left unchanged (its parameters, generator and state).
        """
        B = X.shape[0]
        YT, usable = self._stacked_targets(X, y)
        parameters = np.repeat(start[None, :], B, axis=0)
        W = parameters.reshape(B, *self._layout.shapes[0])
        learning_rate = self._options["learning_rate"]
        costs = np.empty((B, self._options["max_iterations"]))
        with np.errstate(all="ignore"):  # a non-finite child is reported by ``done``
            for i in range(costs.shape[1]):
                costs[:, i], G = self.stacked_cost_and_gradient(W, X, YT)
                step = learning_rate * G
                W -= step
        done = usable & np.isfinite(costs).all(axis=1) & np.isfinite(parameters).all(axis=1)
        return StackedResult(parameters, step.reshape(B, -1), costs[:, 0], done)

    def _stacked_targets(self, X: np.ndarray, y: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """The encoded targets (B, K, n) and whether each child's are usable: checked and
        encoded as ``train`` does, all B at once (one call instead of B), or one child at
        a time when some child's are not."""
        (B, n, n_features), k = X.shape, self._output_count()
        try:
            Y = self._prepare(X.reshape(B * n, n_features), np.concatenate(y), None)
        except (DataPredictError, ValueError):  # ValueError: labels of unequal shapes
            YT = np.zeros((B, k, n))
            usable = np.ones(B, dtype=bool)
            for b, targets in enumerate(y):
                try:
                    YT[b] = self._prepare(X[b], targets, None).T
                except DataPredictError:
                    usable[b] = False
            return YT, usable
        YT = np.ascontiguousarray(Y.T.reshape(k, B, n).transpose(1, 0, 2))
        return YT, np.ones(B, dtype=bool)
