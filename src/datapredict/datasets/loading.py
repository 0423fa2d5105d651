"""The bundled real datasets: load one (scikit-learn's loaders), standardize features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from datapredict._validation import check_bool, check_choice, check_features
from datapredict.errors import InvalidDataError, MissingDependencyError

__all__ = ["DATASETS", "Dataset", "Task", "load_dataset", "standardize_features"]

Task = Literal["classification", "regression"]

DATASETS: dict[str, tuple[str, Task]] = {
    "digits": ("load_digits", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}
"""Bundled dataset names, each with its scikit-learn loader and task."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features, float64.
    y : ndarray of shape (n_samples,)
        Class labels 0..n_classes-1 (int64) for classification, targets (float64) for
        regression.
    name : str
        The name given to :func:`load_dataset`.
    task : {"classification", "regression"}
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    task: Task

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, "
            f"X.shape={self.X.shape}, y.shape={self.y.shape})"
        )


def load_dataset(name: str, *, standardize: bool = True) -> Dataset:
    """Load one of scikit-learn's bundled datasets.

    Parameters
    ----------
    name : {"digits", "breast_cancer", "iris", "wine", "diabetes"}
        Which dataset; case-insensitive.
    standardize : bool, default=True
        Give every feature mean 0 and standard deviation 1 over the whole dataset
        (constant features are only centred). Targets are never changed. To use the
        statistics of a training part only, load with ``standardize=False``, split,
        then call :func:`standardize_features`.

    Returns
    -------
    Dataset

    Raises
    ------
    MissingDependencyError
        If scikit-learn is not installed.
    InvalidOptionError
        For an unknown name.

    Examples
    --------
    >>> load_dataset("iris")  # doctest: +SKIP
    Dataset(name='iris', task='classification', X.shape=(150, 4), y.shape=(150,))
    """
    key = check_choice("load_dataset", "name", name, DATASETS)
    standardize = check_bool("load_dataset", "standardize", standardize)
    try:
        from sklearn import datasets as sklearn_datasets
    except ImportError as error:
        raise MissingDependencyError(
            f"load_dataset({name!r}) needs scikit-learn: pip install 'datapredict[demo]'"
        ) from error
    loader, task = DATASETS[key]
    bunch = getattr(sklearn_datasets, loader)()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64 if task == "classification" else np.float64)
    if standardize:
        (X,) = standardize_features(X)
    return Dataset(X=X, y=y, name=key, task=task)


def standardize_features(X_train: Any, *X_others: Any) -> tuple[np.ndarray, ...]:
    """Standardize features with the mean and standard deviation of ``X_train``.

    Parameters
    ----------
    X_train : array-like of shape (n_samples, n_features)
        Data whose per-feature statistics are used.
    *X_others : array-like of shape (m, n_features)
        More data (a test part) transformed with the same statistics.

    Returns
    -------
    tuple of ndarray
        ``X_train`` then each of ``X_others``, standardized (float64, new arrays).
        Features constant in ``X_train`` are only centred.

    Examples
    --------
    >>> X_train, X_test = standardize_features([[0.0], [2.0]], [[4.0]])
    >>> X_train.ravel().tolist(), X_test.ravel().tolist()
    ([-1.0, 1.0], [3.0])
    """
    X_train = check_features(X_train, "X_train")
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    arrays = [X_train]
    for i, X in enumerate(X_others):
        X = check_features(X, f"X_others[{i}]")
        if X.shape[1] != X_train.shape[1]:
            raise InvalidDataError(
                f"standardize_features: X_others[{i}] has {X.shape[1]} features; "
                f"X_train has {X_train.shape[1]}"
            )
        arrays.append(X)
    return tuple((X - mean) / std for X in arrays)
