"""What makes the models scikit-learn estimators, without importing scikit-learn.

``fit`` (start over, then train), the learned attributes ``n_features_in_`` and
``feature_names_in_``, the estimator tags, and :func:`available_if`, which exposes a
method only on the instances where it works (so ``hasattr`` tells the truth), as
scikit-learn's own ``available_if`` does. scikit-learn is imported only by
``__sklearn_tags__``, which only scikit-learn calls.
"""

from __future__ import annotations

import functools
import types
import warnings
from collections.abc import Callable
from typing import Any, Self

import numpy as np

from datapredict import errors
from datapredict._validation import check_features, feature_names
from datapredict.errors import InvalidDataError

__all__ = ["ScikitLearnEstimator", "available_if"]


class _ConditionalMethod:
    """A method that instances have only while ``check(instance)`` is true."""

    def __init__(self, check: Callable[[Any], bool], method: Callable) -> None:
        self.check = check
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.method
        if not self.check(instance):
            raise AttributeError(
                f"This {type(instance).__name__} has no {self.method.__name__}: "
                f"it is not available with these options"
            )
        return types.MethodType(self.method, instance)


def available_if(check: Callable[[Any], bool]) -> Callable[[Callable], _ConditionalMethod]:
    """Decorate a method so that it exists on an instance only when ``check(instance)``.

    Elsewhere, reading the attribute raises ``AttributeError``, so ``hasattr`` is false.

    Examples
    --------
    >>> class Model:
    ...     def __init__(self, task):
    ...         self.task = task
    ...     @available_if(lambda model: model.task == "classification")
    ...     def predict_proba(self):
    ...         return 0.5
    >>> [hasattr(Model(task), "predict_proba") for task in ("classification", "regression")]
    [True, False]
    """
    return functools.partial(_ConditionalMethod, check)


class ScikitLearnEstimator:
    """scikit-learn's side of a model: ``fit``, learned attributes and tags.

    It also checks prediction input against what was learned (feature count and names).
    The host class defines ``_check_options``, ``_train`` (``train``, returning the costs
    and the warning to issue, if any), ``_forget`` (drop the parameters and what was
    learned with them), ``_flat`` (the parameters or ``None``), ``_n_features``,
    ``_feature_names`` and ``_is_classifier``.
    """

    def fit(self, X: Any, y: Any) -> Self:
        """scikit-learn's ``fit``: train ``max_iterations`` steps from fresh parameters.

        Unlike :meth:`train`, which continues from the current parameters, ``fit``
        starts over (new initialisation from ``random_state``; classifiers learn their
        classes again). Options are validated here. Bad input or options raise as for
        :meth:`train` and change nothing. A classifier given a column vector ``y`` of
        shape (n, 1) warns with :class:`~datapredict.errors.DataConversionWarning`, as
        scikit-learn's classifiers do (``train`` takes it silently: it is the seed's
        label vector).

        Returns
        -------
        self
        """
        shape = getattr(y, "shape", ())
        if self._is_classifier and len(shape) == 2 and shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples,), for example using ravel().",
                errors.DataConversionWarning,
                stacklevel=2,
            )
        kept = dict(self.__dict__)
        try:
            self._forget()
            _, divergence = self._train(X, y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(kept)
            raise
        if divergence:
            warnings.warn(divergence, RuntimeWarning, stacklevel=2)
        return self

    @property
    def n_features_in_(self) -> int:
        """Number of features the parameters take (``AttributeError`` before they exist)."""
        if self._n_features is None:
            raise AttributeError(f"This {type(self).__name__} has no parameters yet")
        return self._n_features

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The string column names of the DataFrame-like ``X`` the parameters were made
        for (``AttributeError`` when it had none)."""
        if self._feature_names is None:
            raise AttributeError(f"This {type(self).__name__} was not trained on named features")
        return self._feature_names.copy()

    @property
    def _estimator_type(self) -> str:
        return "classifier" if self._is_classifier else "regressor"

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (only scikit-learn calls this, so it is installed)."""
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        classifier = self._is_classifier
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True, multi_output=not classifier),
            classifier_tags=ClassifierTags() if classifier else None,
            regressor_tags=None if classifier else RegressorTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return self._flat is not None

    def _check_predict_features(self, X: Any) -> np.ndarray:
        """Validate ``X`` for prediction against the model's features and options."""
        self._require_parameters("predict")
        self._check_options()
        names = feature_names(X)
        X = check_features(X)
        self._check_feature_count(X)
        self._check_feature_names(names)
        return X

    def _check_feature_count(self, X: np.ndarray) -> None:
        if self._n_features is not None and X.shape[1] != self._n_features:
            raise InvalidDataError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self._n_features} features as input"
            )

    def _check_feature_names(self, names: np.ndarray | None) -> None:
        known = self._feature_names
        if known is None or names is None or np.array_equal(names, known):
            return
        raise InvalidDataError(
            f"X has the columns {names.tolist()}; this {type(self).__name__} was trained "
            f"on {known.tolist()}. The feature names should match those passed to fit"
        )

    def _require_parameters(self, what: str) -> None:
        if self._flat is None:
            raise errors.NotFittedError(
                f"{what}: this {type(self).__name__} has no parameters yet; call fit(), "
                "train() or set_model_parameters() first"
            )
