"""Ways to split rows: a training and a test part, or one shard per child.

The shard functions share the contract stated in :mod:`datapredict.datasets`: they
partition the rows (every row to exactly one child, copied, in random order within a
child), and the same ``random_state`` gives the same split.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal

import numpy as np

from datapredict._validation import (
    as_array,
    check_bool,
    check_choice,
    check_features,
    check_float,
    check_int,
    check_random_state,
    check_same_rows,
    option_error,
)
from datapredict.datasets._allocation import (
    Shards,
    allocate,
    class_codes,
    dirichlet_parts,
    has_class_labels,
    stratified_sample,
    take,
)
from datapredict.errors import InvalidDataError

__all__ = [
    "Shards",
    "split",
    "split_dirichlet",
    "split_iid",
    "split_quantity_skew",
    "train_test_split",
]


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
    X, y = _check_X_y(X, y)
    n_test = _test_count(test_size, len(X))
    rng = check_random_state(random_state)
    if check_bool(owner, "stratify", stratify) and has_class_labels(y):
        test = stratified_sample(class_codes(owner, y), n_test, rng)
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
    X, y = _check_X_y(X, y)
    n_children = _check_n_children(owner, n_children, len(X))
    rng = check_random_state(random_state)
    return take(X, y, np.array_split(rng.permutation(len(X)), n_children), rng)


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
    n_children, random_state
        As for :func:`split_iid`.
    alpha : float, default=0.5
        Concentration, > 0. Small values (0.1) give strong skew, large ones (100)
        nearly IID shards.
    min_size : int, default=1
        Fewest rows any child may get, >= 1 (NIID-Bench uses 10);
        ``n_children * min_size`` must not exceed ``n_samples``.
    max_attempts : int, default=100
        How many draws to try before giving up, >= 1.

    Returns
    -------
    list of (X_i, y_i)
        As for :func:`split_iid`.

    Raises
    ------
    InvalidDataError
        If no draw within ``max_attempts`` gives every child ``min_size`` rows.
    """
    owner = "split_dirichlet"
    X, y = _check_X_y(X, y)
    n_children = _check_n_children(owner, n_children, len(X))
    alpha = _check_alpha(owner, alpha)
    min_size = _check_min_size(owner, min_size, n_children, len(X))
    max_attempts = check_int(owner, "max_attempts", max_attempts, minimum=1)
    codes = class_codes(owner, y)
    rng = check_random_state(random_state)
    for _ in range(max_attempts):
        parts = dirichlet_parts(codes, n_children, alpha, rng)
        if min(len(part) for part in parts) >= min_size:
            return take(X, y, parts, rng)
    raise InvalidDataError(
        f"{owner}: no draw in {max_attempts} attempts gave every one of {n_children} "
        f"children at least {min_size} rows (alpha={alpha}, {len(X)} rows). Use a larger "
        "alpha, fewer children, a smaller min_size or more max_attempts."
    )


# Its public signature starts as split_dirichlet's does: the same options, alike on purpose.
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
    X, y, n_children, random_state
        As for :func:`split_iid`.
    alpha : float, default=0.5
        Concentration, > 0. Small values give very unequal sizes.
    min_size : int, default=1
        Fewest rows any child gets, >= 1; ``n_children * min_size`` must not exceed
        ``n_samples``.

    Returns
    -------
    list of (X_i, y_i)
        As for :func:`split_iid`.
    """
    owner = "split_quantity_skew"
    X, y = _check_X_y(X, y)
    n_children = _check_n_children(owner, n_children, len(X))
    alpha = _check_alpha(owner, alpha)
    min_size = _check_min_size(owner, min_size, n_children, len(X))
    rng = check_random_state(random_state)
    shares = allocate(rng.dirichlet(np.full(n_children, alpha)), len(X) - n_children * min_size)
    sizes = shares + min_size
    parts = np.split(rng.permutation(len(X)), np.cumsum(sizes)[:-1])
    return take(X, y, parts, rng)


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
    X, y, n_children, random_state
        As for :func:`split_iid`.
    how : {"iid", "dirichlet", "quantity"}, default="iid"
        :func:`split_iid`, :func:`split_dirichlet` or :func:`split_quantity_skew`.
    alpha : float, optional
        Dirichlet concentration for ``"dirichlet"`` and ``"quantity"`` (default 0.5).
        Rejected with ``"iid"``.
    min_size : int, optional
        Fewest rows per child for ``"dirichlet"`` and ``"quantity"`` (default 1).
        Rejected with ``"iid"``.

    Returns
    -------
    list of (X_i, y_i)
        As for :func:`split_iid`.
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


def _check_X_y(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``X`` as a float64 matrix and ``y`` as an array with one row per row of ``X``."""
    X = check_features(X)
    y = as_array(y, "y")
    check_same_rows(X, y)
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
