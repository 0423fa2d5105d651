"""``ModelParametersMerger``: the seed's merge types on top of the merge rules.

The seed's string merge types ("average", "weighted_average", "best", "custom",
"regression_mean") and every rule of :mod:`datapredict.merge` ("fedavg", "median",
``TrimmedMean(beta=0.2)``, ...) are accepted as ``merge_type``. Candidates are merged in
one pass over the stacked (K, P) matrix of their flat parameters.

Unlike DataPredict, scoring never changes the user's model (a copy is scored), "best"
really picks the best candidate, custom weights are normalised, and weights that are all
zero fall back to a plain average instead of producing zeros.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from datapredict._validation import check_choice, check_features
from datapredict.errors import InvalidDataError, NotInitializedError, ParameterStructureError
from datapredict.merge.rules import Average, check_weights, resolve_rule
from datapredict.parameters import Layout, ModelParameters, check_finite, copy_parameters

__all__ = ["SEED_MERGE_TYPES", "ModelParametersMerger"]

_OWNER = "ModelParametersMerger"
SEED_MERGE_TYPES = ("weighted_average", "best", "custom", "regression_mean")
_ROUNDING = {None: None, "floor": np.floor, "ceil": np.ceil}


class ModelParametersMerger:
    """Merge several children's parameters into one set.

    Parameters
    ----------
    model : object, optional
        A model used to score candidates ("weighted_average", "best"); it is copied
        before scoring, never changed.
    model_type : {"regression", "classification"}, default="regression"
        How candidates are scored: accuracy for classification; for regression
        ``s_i = 1 - e_i / sum(e)`` with ``e_i`` the sum of absolute errors (DataPredict).
    merge_type : str or merge rule, default="average"
        "average", "weighted_average", "best", "custom", "regression_mean", any name of
        :data:`datapredict.merge.MERGE_RULES` or a rule object such as ``Median()``.
    rounding_mode : {None, "floor", "ceil"}, default=None
        Rounding applied elementwise to the merged parameters.

    Examples
    --------
    >>> import numpy as np
    >>> merger = ModelParametersMerger(merge_type="custom")
    >>> merger.set_custom_split_percentage_array([3, 1])
    >>> merger.merge(np.zeros(2), np.ones(2)).tolist()
    [0.25, 0.25]
    """

    def __init__(
        self,
        model: Any = None,
        model_type: str = "regression",
        merge_type: Any = "average",
        rounding_mode: str | None = None,
    ) -> None:
        self._model = model
        self._model_type = check_choice(
            _OWNER, "model_type", model_type, ("regression", "classification")
        )
        self._merge_type, self._rule = self._check_merge_type(merge_type)
        self._rounding = self._check_rounding(rounding_mode)
        self._data: tuple[np.ndarray, np.ndarray] | None = None
        self._custom: np.ndarray | None = None
        self._features: list[np.ndarray] | None = None

    # ---------------------------------------------------------------- options
    @staticmethod
    def _check_merge_type(merge_type: Any) -> tuple[str, Any]:
        if isinstance(merge_type, str) and merge_type.lower() in SEED_MERGE_TYPES:
            return merge_type.lower(), None
        rule = resolve_rule(merge_type)
        return getattr(rule, "name", type(rule).__name__), rule

    @staticmethod
    def _check_rounding(mode: Any) -> str | None:
        if mode is None:
            return None
        return check_choice(_OWNER, "rounding_mode", mode, ("floor", "ceil"))

    def set_parameters(
        self,
        model: Any = None,
        model_type: str | None = None,
        merge_type: Any = None,
        rounding_mode: str | None = None,
    ) -> None:
        """Change options; ``None`` keeps the current value. Validated before applying."""
        kind = self._model_type
        if model_type is not None:
            kind = check_choice(_OWNER, "model_type", model_type, ("regression", "classification"))
        merge = (
            (self._merge_type, self._rule)
            if merge_type is None
            else self._check_merge_type(merge_type)
        )
        rounding = self._rounding if rounding_mode is None else self._check_rounding(rounding_mode)
        self._model = self._model if model is None else model
        self._model_type, (self._merge_type, self._rule), self._rounding = kind, merge, rounding

    @property
    def merge_type(self) -> str:
        """The merge type's name."""
        return self._merge_type

    @property
    def uses_sample_counts(self) -> bool:
        """Whether coordinators should pass each child's sample count as its weight."""
        return bool(getattr(self._rule, "requires_weights", False))

    def set_data(self, X: Any, y: Any) -> None:
        """Validation data for "weighted_average" and "best"."""
        X = check_features(X)
        if y is None:
            raise InvalidDataError("set_data: y must be an array of targets, one per row; got None")
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            raise InvalidDataError(
                f"set_data: X and y must have the same number of rows; X has {X.shape[0]}, "
                f"y has shape {y.shape}"
            )
        self._data = (X, y)

    def set_custom_split_percentage_array(self, weights: Sequence[float]) -> None:
        """Per-candidate weights for "custom"; normalised to sum 1 when merging.

        One per candidate in candidate order, or one per child by index when the
        coordinator says which child each candidate is (see :meth:`merge_stacked`).
        """
        array = np.asarray(weights, dtype=np.float64)
        check_weights(
            array, array.shape[0] if array.ndim == 1 else -1, "custom split percentage array"
        )
        self._custom = array

    def set_feature_matrix_array(self, feature_matrices: Sequence[Any]) -> None:
        """One feature matrix per candidate for "regression_mean": in candidate order, or
        one per child by index when the coordinator says which child each candidate is
        (see :meth:`merge_stacked`)."""
        if isinstance(feature_matrices, np.ndarray) and feature_matrices.ndim == 2:
            raise InvalidDataError(
                "set_feature_matrix_array takes a list of matrices, one per child"
            )
        self._features = [
            check_features(X, f"feature_matrices[{i}]") for i, X in enumerate(feature_matrices)
        ]

    # ---------------------------------------------------------------- merging
    def merge(
        self, *params: ModelParameters, weights: Sequence[float] | None = None
    ) -> ModelParameters:
        """Merge parameter sets; the result has the structure of the first one.

        Parameters
        ----------
        *params : ModelParameters
            The candidates, all of one structure.
        weights : sequence of float, optional
            Per-candidate weights (for example sample counts for "fedavg").

        Raises
        ------
        InvalidDataError
            Without candidates.
        ParameterStructureError
            If candidates differ in structure or shape.
        """
        if not params:
            raise InvalidDataError("merge needs at least one parameter set; got none")
        check_finite(params[0], "params[0]")
        layout = Layout.from_template(params[0], "params[0]")
        stacked = np.empty((len(params), layout.size), dtype=layout.dtype)
        for k, candidate in enumerate(params):
            check_finite(candidate, f"params[{k}]")
            layout.flatten(candidate, f"params[{k}]", out=stacked[k])
        merged = self.merge_stacked(stacked, layout, weights)
        return copy_parameters(layout.unflatten(merged))

    def merge_stacked(
        self,
        stacked: np.ndarray,
        layout: Layout,
        weights: Sequence[float] | None = None,
        *,
        children: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Merge the (K, P) matrix of flat candidates; returns a new (P,) vector.

        This is what coordinators call: ``layout`` tells how to rebuild a candidate
        for scoring and "regression_mean". ``children`` (optional) is the child index
        of each candidate: "regression_mean" and "custom" then take each candidate's
        own feature matrix or weight by that index, so a round that some children miss
        (sampled out, or failed) merges the ones that came.
        """
        kind = self._merge_type
        if self._rule is not None:
            merged = self._rule(stacked, weights)
        elif kind == "regression_mean":
            merged = self._regression_mean(stacked, layout, children)
        else:
            merged = self._by_weights(stacked, layout, children)
        if self._rounding is not None:
            merged = _ROUNDING[self._rounding](merged)
        return merged

    def _by_weights(
        self, stacked: np.ndarray, layout: Layout, children: Sequence[int] | None
    ) -> np.ndarray:
        """ "custom", "weighted_average" and "best": weights, then one weighted mean."""
        if self._merge_type == "custom":
            if self._custom is None:
                raise NotInitializedError(
                    "merge_type='custom' needs set_custom_split_percentage_array()"
                )
            picked = _per_candidate(
                self._custom, stacked.shape[0], children, "the custom split percentage array"
            )
            return Average()(stacked, np.asarray(picked))
        scores = self.score_candidates(stacked, layout)
        if self._merge_type == "best":
            return stacked[int(np.argmax(scores))].copy()
        return Average()(stacked, scores if scores.sum() > 0 else None)

    def score_candidates(self, stacked: np.ndarray, layout: Layout) -> np.ndarray:
        """Score each flat candidate on the validation data (higher is better)."""
        if self._model is None:
            raise NotInitializedError(
                f"merge_type={self._merge_type!r} scores candidates: pass model= to {_OWNER}"
            )
        if self._data is None:
            raise NotInitializedError(f"merge_type={self._merge_type!r} needs set_data(X, y) first")
        X, y = self._data
        scorer = copy.deepcopy(self._model)
        predictions = []
        for row in stacked:
            scorer.set_model_parameters(layout.unflatten(row))
            predictions.append(scorer.predict(X))
        if self._model_type == "classification":
            return np.array([np.mean(p == y) for p in predictions])
        errors = np.array(
            [np.abs(np.asarray(y, float) - p.reshape(np.shape(y))).sum() for p in predictions]
        )
        total = errors.sum()
        return np.ones_like(errors) if total == 0 else 1.0 - np.abs(errors / total)

    def _regression_mean(
        self, stacked: np.ndarray, layout: Layout, children: Sequence[int] | None
    ) -> np.ndarray:
        """``W = (sum X_i^T X_i)^-1 sum X_i^T X_i W_i``, intercept column added when needed."""
        if self._features is None:
            raise NotInitializedError(
                "merge_type='regression_mean' needs set_feature_matrix_array()"
            )
        features = _per_candidate(
            self._features, stacked.shape[0], children, "regression_mean's feature matrices"
        )
        if layout.kind != "array" or len(layout.shapes[0]) != 2:
            raise ParameterStructureError(
                f"regression_mean merges single-matrix parameters; got {layout.describe()}"
            )
        rows, outputs = layout.shapes[0]
        n_features = features[0].shape[1]
        if rows not in (n_features, n_features + 1):
            raise ParameterStructureError(
                f"regression_mean: the parameters have {rows} rows; the feature matrices have "
                f"{n_features} columns (expected {n_features} or {n_features + 1} rows)"
            )
        grams = np.stack([_gram(X, intercept=rows == n_features + 1) for X in features])
        weights = stacked.reshape(-1, rows, outputs).astype(np.float64)
        rhs = np.einsum("kij,kjm->im", grams, weights)
        total = grams.sum(axis=0)
        try:
            merged = np.linalg.solve(total, rhs)
        except np.linalg.LinAlgError:
            merged = np.linalg.lstsq(total, rhs, rcond=None)[0]
        return merged.astype(stacked.dtype).ravel()

    def __repr__(self) -> str:
        return f"{_OWNER}(model_type={self._model_type!r}, merge_type={self._merge_type!r})"


def _per_candidate(
    values: Sequence[Any], count: int, children: Sequence[int] | None, name: str
) -> list[Any]:
    """``values`` (one per child) for the ``count`` candidates: by each candidate's child
    index when ``children`` is known, else in candidate order."""
    if children is not None and all(0 <= child < len(values) for child in children):
        return [values[child] for child in children]
    if children is not None:
        raise InvalidDataError(
            f"{name} has {len(values)} entries, one per child; candidates come from "
            f"children {list(children)}"
        )
    if len(values) != count:
        raise InvalidDataError(
            f"{name} has {len(values)} entries; merging {count} candidates (one per "
            "candidate is needed)"
        )
    return list(values)


def _gram(X: np.ndarray, intercept: bool) -> np.ndarray:
    """``X~^T X~`` where ``X~`` is ``X`` with a leading column of ones when ``intercept``."""
    if not intercept:
        return X.T @ X
    d = X.shape[1]
    gram = np.empty((d + 1, d + 1))
    gram[0, 0] = X.shape[0]
    gram[0, 1:] = gram[1:, 0] = X.sum(axis=0)
    gram[1:, 1:] = X.T @ X
    return gram
