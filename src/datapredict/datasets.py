"""Real datasets and ways to split them among children.

:func:`load_dataset` loads one of scikit-learn's bundled datasets (scikit-learn is
needed only here, through the ``demo`` extra). The split functions share one contract:
they take ``X`` of shape ``(n_samples, n_features)`` and ``y`` of shape
``(n_samples,)`` or ``(n_samples, n_outputs)``, and return ``n_children`` pairs
``(X_i, y_i)`` that partition the rows (every row goes to exactly one child, rows are
copied, row order within a child is random). The same ``random_state`` gives the same
split.

- :func:`split_iid`: a random permutation cut into near-equal shards.
- :func:`split_dirichlet`: label skew; each class is shared among children in
  proportions drawn from Dirichlet(alpha) (Hsu, Qi, Brown, 2019; the "label
  distribution skew" of Li et al., NIID-Bench, ICDE 2022). Small ``alpha``: most
  children see few classes; large ``alpha``: close to IID.
- :func:`split_quantity_skew`: shard sizes drawn from Dirichlet(alpha), labels IID
  (NIID-Bench's "quantity skew").

Examples
--------
>>> import numpy as np
>>> X = np.arange(20.0).reshape(10, 2)
>>> y = np.array([0, 1] * 5)
>>> shards = split(X, y, 3, random_state=0)
>>> [len(y_i) for _, y_i in shards]
[4, 3, 3]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from datapredict._validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_random_state,
    option_error,
)
from datapredict.errors import DataTypeError, InvalidDataError, MissingDependencyError

__all__ = [
    "DATASETS",
    "Dataset",
    "load_dataset",
    "split",
    "split_dirichlet",
    "split_iid",
    "split_quantity_skew",
    "standardize_features",
    "train_test_split",
]

Task = Literal["classification", "regression"]
Shards = list[tuple[np.ndarray, np.ndarray]]

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
    X_train = _check_features("standardize_features", X_train, "X_train").astype(
        np.float64, copy=False
    )
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    arrays = [X_train]
    for i, X in enumerate(X_others):
        X = _check_features("standardize_features", X, f"X_others[{i}]")
        if X.shape[1] != X_train.shape[1]:
            raise InvalidDataError(
                f"standardize_features: X_others[{i}] has {X.shape[1]} features; "
                f"X_train has {X_train.shape[1]}"
            )
        arrays.append(X)
    return tuple((X - mean) / std for X in arrays)


def train_test_split(
    X: Any,
    y: Any,
    *,
    test_size: float | int = 0.25,
    random_state: Any = None,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows at random into a training and a test part.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    test_size : float or int, default=0.25
        A fraction in (0, 1) (the test part gets ``ceil(test_size * n_samples)`` rows)
        or a row count in [1, n_samples - 1].
    random_state : None, int, SeedSequence or Generator, default=None
    stratify : bool, default=True
        Keep each class's share in both parts (largest-remainder rounding). Applies
        when ``y`` holds class labels (integer, boolean or string dtype); float
        targets (regression) are split at random.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        New arrays, rows in random order.
    """
    owner = "train_test_split"
    X, y = _check_X_y(owner, X, y)
    n_test = _test_count(test_size, len(X))
    rng = check_random_state(random_state)
    if check_bool(owner, "stratify", stratify) and _has_class_labels(y):
        test = _stratified_sample(_class_codes(owner, y), n_test, rng)
    else:
        test = rng.permutation(len(X))[:n_test]
    is_test = np.zeros(len(X), dtype=bool)
    is_test[test] = True
    train = rng.permutation(np.flatnonzero(~is_test))
    test = rng.permutation(test)
    return X[train], X[test], y[train], y[test]


def split_iid(X: Any, y: Any, n_children: int, *, random_state: Any = None) -> Shards:
    """Split rows at random into ``n_children`` shards whose sizes differ by at most one.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    n_children : int
        Number of shards, in [1, n_samples].
    random_state : None, int, SeedSequence or Generator, default=None

    Returns
    -------
    list of (X_i, y_i)
        One pair per child; together they hold every row exactly once.
    """
    owner = "split_iid"
    X, y = _check_X_y(owner, X, y)
    n_children = _check_n_children(owner, n_children, len(X))
    rng = check_random_state(random_state)
    return _take(X, y, np.array_split(rng.permutation(len(X)), n_children), rng)


def split_dirichlet(
    X: Any,
    y: Any,
    n_children: int,
    *,
    alpha: float = 0.5,
    min_size: int = 1,
    max_attempts: int = 100,
    random_state: Any = None,
) -> Shards:
    """Split rows with label skew: each class is shared out in Dirichlet(alpha) proportions.

    For each class independently, proportions ``p ~ Dirichlet(alpha, ..., alpha)`` over
    the children are drawn and the class's rows are dealt out in those proportions.
    The whole draw is repeated until every child has at least ``min_size`` rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Class labels: integer, boolean or string dtype.
    n_children : int
        Number of shards, in [1, n_samples].
    alpha : float, default=0.5
        Concentration, > 0. Small values (0.1) give strong skew, large ones (100)
        nearly IID shards.
    min_size : int, default=1
        Fewest rows any child may get, >= 1 (NIID-Bench uses 10);
        ``n_children * min_size`` must not exceed ``n_samples``.
    max_attempts : int, default=100
        How many draws to try before giving up, >= 1.
    random_state : None, int, SeedSequence or Generator, default=None

    Returns
    -------
    list of (X_i, y_i)
        One pair per child; together they hold every row exactly once.

    Raises
    ------
    InvalidDataError
        If no draw within ``max_attempts`` gives every child ``min_size`` rows.
    """
    owner = "split_dirichlet"
    X, y = _check_X_y(owner, X, y)
    n_children = _check_n_children(owner, n_children, len(X))
    alpha = _check_alpha(owner, alpha)
    min_size = _check_min_size(owner, min_size, n_children, len(X))
    max_attempts = check_int(owner, "max_attempts", max_attempts, minimum=1)
    codes = _class_codes(owner, y)
    rng = check_random_state(random_state)
    for _ in range(max_attempts):
        parts = _dirichlet_parts(codes, n_children, alpha, rng)
        if min(len(part) for part in parts) >= min_size:
            return _take(X, y, parts, rng)
    raise InvalidDataError(
        f"{owner}: no draw in {max_attempts} attempts gave every one of {n_children} "
        f"children at least {min_size} rows (alpha={alpha}, {len(X)} rows). Use a larger "
        "alpha, fewer children, a smaller min_size or more max_attempts."
    )


def split_quantity_skew(
    X: Any,
    y: Any,
    n_children: int,
    *,
    alpha: float = 0.5,
    min_size: int = 1,
    random_state: Any = None,
) -> Shards:
    """Split rows into shards of Dirichlet(alpha) sizes, with labels IID.

    Each child first gets ``min_size`` rows; the remaining rows are shared in
    proportions ``q ~ Dirichlet(alpha, ..., alpha)`` (largest-remainder rounding).
    Rows are dealt from one random permutation, so labels are IID across children.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    n_children : int
        Number of shards, in [1, n_samples].
    alpha : float, default=0.5
        Concentration, > 0. Small values give very unequal sizes.
    min_size : int, default=1
        Fewest rows any child gets, >= 1; ``n_children * min_size`` must not exceed
        ``n_samples``.
    random_state : None, int, SeedSequence or Generator, default=None

    Returns
    -------
    list of (X_i, y_i)
        One pair per child; together they hold every row exactly once.
    """
    owner = "split_quantity_skew"
    X, y = _check_X_y(owner, X, y)
    n_children = _check_n_children(owner, n_children, len(X))
    alpha = _check_alpha(owner, alpha)
    min_size = _check_min_size(owner, min_size, n_children, len(X))
    rng = check_random_state(random_state)
    shares = _allocate(rng.dirichlet(np.full(n_children, alpha)), len(X) - n_children * min_size)
    sizes = shares + min_size
    parts = np.split(rng.permutation(len(X)), np.cumsum(sizes)[:-1])
    return _take(X, y, parts, rng)


def split(
    X: Any,
    y: Any,
    n_children: int,
    *,
    how: Literal["iid", "dirichlet", "quantity"] = "iid",
    alpha: float | None = None,
    min_size: int | None = None,
    random_state: Any = None,
) -> Shards:
    """Split rows among ``n_children`` children: IID, label skew or quantity skew.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    n_children : int
        Number of shards, in [1, n_samples].
    how : {"iid", "dirichlet", "quantity"}, default="iid"
        :func:`split_iid`, :func:`split_dirichlet` or :func:`split_quantity_skew`.
    alpha : float, optional
        Dirichlet concentration for ``"dirichlet"`` and ``"quantity"`` (default 0.5).
        Rejected with ``"iid"``.
    min_size : int, optional
        Fewest rows per child for ``"dirichlet"`` and ``"quantity"`` (default 1).
        Rejected with ``"iid"``.
    random_state : None, int, SeedSequence or Generator, default=None

    Returns
    -------
    list of (X_i, y_i)
        One pair per child; together they hold every row exactly once.
    """
    how = check_choice("split", "how", how, ("iid", "dirichlet", "quantity"))
    if how == "iid":
        for name, value in (("alpha", alpha), ("min_size", min_size)):
            if value is not None:
                raise option_error("split", name, "None when how='iid'", value)
        return split_iid(X, y, n_children, random_state=random_state)
    options = {"alpha": alpha, "min_size": min_size}
    options = {name: value for name, value in options.items() if value is not None}
    function = split_dirichlet if how == "dirichlet" else split_quantity_skew
    return function(X, y, n_children, random_state=random_state, **options)


# Validation ----------------------------------------------------------------------


def _check_features(owner: str, X: Any, name: str) -> np.ndarray:
    """Return ``X`` as a 2-D numeric array with at least one row."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataTypeError(f"{owner}: {name} must be numeric; got dtype {X.dtype}")
    if X.ndim != 2 or len(X) == 0:
        raise InvalidDataError(
            f"{owner}: {name} must be 2-D (n_samples, n_features) with at least one row; "
            f"got shape {X.shape}"
        )
    return X


def _check_X_y(owner: str, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``X`` and ``y`` as arrays after checking their shapes agree."""
    X = _check_features(owner, X, "X")
    y = np.asarray(y)
    if y.ndim not in (1, 2) or len(y) != len(X):
        raise InvalidDataError(
            f"{owner}: y must have shape ({len(X)},) or ({len(X)}, n_outputs) to match "
            f"X's {len(X)} rows; got shape {y.shape}"
        )
    return X, y


def _check_n_children(owner: str, n_children: Any, n_rows: int) -> int:
    ok = isinstance(n_children, numbers.Integral) and not isinstance(n_children, bool)
    if not ok or not 1 <= n_children <= n_rows:
        expected = f"an integer in [1, {n_rows}] (the number of rows)"
        raise option_error(owner, "n_children", expected, n_children)
    return int(n_children)


def _check_alpha(owner: str, alpha: Any) -> float:
    return check_float(owner, "alpha", alpha, low=0.0, low_open=True)


def _check_min_size(owner: str, min_size: Any, n_children: int, n_rows: int) -> int:
    ok = isinstance(min_size, numbers.Integral) and not isinstance(min_size, bool)
    largest = n_rows // n_children
    if not ok or not 1 <= min_size <= largest:
        expected = f"an integer in [1, {largest}] ({n_rows} rows among {n_children} children)"
        raise option_error(owner, "min_size", expected, min_size)
    return int(min_size)


def _test_count(test_size: Any, n_rows: int) -> int:
    """Number of test rows for ``test_size`` (a fraction or a count)."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, numbers.Real) and 0 < test_size < 1:
        n_test = math.ceil(test_size * n_rows)
    else:
        n_test = 0
    if not 1 <= n_test <= n_rows - 1:
        expected = f"a float in (0, 1) or an int in [1, {n_rows - 1}], leaving rows on both sides"
        raise option_error("train_test_split", "test_size", expected, test_size)
    return n_test


def _has_class_labels(y: np.ndarray) -> bool:
    return y.dtype.kind in "biuUS"


def _class_codes(owner: str, y: np.ndarray) -> np.ndarray:
    """Return class labels as codes 0..n_classes-1, one per row."""
    if not _has_class_labels(y):
        raise DataTypeError(
            f"{owner} needs class labels: y of integer, boolean or string dtype; got dtype "
            f"{y.dtype}. Cast labels with y.astype(int), or split regression targets with "
            "how='iid' or how='quantity'."
        )
    if y.ndim == 2 and y.shape[1] != 1:
        raise InvalidDataError(
            f"{owner} needs one label per row: y of shape (n,) or (n, 1); got shape {y.shape}"
        )
    return np.unique(y.ravel(), return_inverse=True)[1].ravel()


# Kernels -------------------------------------------------------------------------


def _allocate(proportions: np.ndarray, total: int) -> np.ndarray:
    """Round ``proportions * total`` to integers summing to ``total`` (largest remainder)."""
    exact = proportions / proportions.sum() * total
    counts = np.floor(exact).astype(np.int64)
    shortfall = total - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:shortfall]] += 1
    return counts


def _stratified_sample(codes: np.ndarray, n_sample: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_sample`` row indices keeping each class's share."""
    class_counts = np.bincount(codes)
    quotas = _allocate(class_counts.astype(np.float64), n_sample)
    chosen = [
        rng.choice(np.flatnonzero(codes == label), size=quota, replace=False)
        for label, quota in enumerate(quotas)
    ]
    return np.concatenate(chosen)


def _dirichlet_parts(
    codes: np.ndarray, n_children: int, alpha: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """One draw of the label-skew split: row indices for each child."""
    parts: list[list[np.ndarray]] = [[] for _ in range(n_children)]
    for label in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == label))
        counts = _allocate(rng.dirichlet(np.full(n_children, alpha)), len(members))
        for child, chunk in enumerate(np.split(members, np.cumsum(counts)[:-1])):
            parts[child].append(chunk)
    return [np.concatenate(chunks) for chunks in parts]


def _take(
    X: np.ndarray, y: np.ndarray, parts: list[np.ndarray], rng: np.random.Generator
) -> Shards:
    """Copy each child's rows, in random order."""
    shards = []
    for part in parts:
        rows = rng.permutation(part)
        shards.append((X[rows], y[rows]))
    return shards
