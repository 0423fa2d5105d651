"""Every check of an option or of data, so that all messages follow one template.

Options: ``The 'beta' option of TrimmedMean must be a float in [0, 0.5). Got 0.6 instead.``

Data: :func:`check_features` for a feature matrix and :func:`check_targets` for the
targets that go with it, used by the models, the dataset splits and
``train_distributed`` (once per shard). Messages name the argument, say what was
expected and what was received: ``X has 0 feature(s) (shape=(12, 0)) while a minimum
of 1 is required.``
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from datapredict.errors import (
    ComplexDataError,
    DataTypeError,
    InvalidDataError,
    InvalidOptionError,
    NonFiniteError,
)

__all__ = [
    "as_array",
    "check_bool",
    "check_choice",
    "check_features",
    "check_finite_features",
    "check_float",
    "check_int",
    "check_labels",
    "check_random_state",
    "check_same_rows",
    "check_targets",
    "feature_names",
    "option_error",
]

Task = Literal["classification", "regression"]


def option_error(owner: str, name: str, expected: str, got: Any) -> InvalidOptionError:
    """Build the standard error for an option ``name`` of ``owner``."""
    return InvalidOptionError(
        f"The {name!r} option of {owner} must be {expected}. Got {got!r} instead."
    )


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``choices``; raise otherwise."""
    choices = tuple(choices)
    if not isinstance(value, str) or value.lower() not in choices:
        raise option_error(owner, name, "one of " + ", ".join(map(repr, choices)), value)
    return value.lower()


def check_int(owner: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer not below ``minimum``; raise otherwise."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise option_error(owner, name, f"an integer{bound}", value)
    return int(value)


def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it lies in the interval; raise otherwise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open or low is None else "[") + f"{left}, {right}"
        interval += ")" if high_open or high is None else "]"
        raise option_error(owner, name, f"a float in {interval}", value)
    return float(value)


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``None``, an int, a ``SeedSequence`` or a ``Generator`` into a ``Generator``."""
    if random_state is None or isinstance(random_state, numbers.Integral | np.random.SeedSequence):
        if isinstance(random_state, bool):
            raise option_error("random_state", "random_state", "None, an int or a Generator", True)
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise option_error(
        "datapredict", "random_state", "None, an int, a SeedSequence or a Generator", random_state
    )


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy bools included); raise otherwise."""
    if not isinstance(value, bool | np.bool_):
        raise option_error(owner, name, "a bool", value)
    return bool(value)


# ------------------------------------------------------------------------------ data


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages read ``5``, not ``np.int64(5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _is_sparse(data: Any) -> bool:
    """Whether ``data`` is a scipy sparse matrix or array (told without importing scipy)."""
    return hasattr(data, "nnz") and hasattr(data, "toarray")


def as_array(data: Any, name: str) -> np.ndarray:
    """Return ``data`` as an ndarray, without copying an ndarray.

    Raises
    ------
    DataTypeError
        For sparse matrices and for ragged or otherwise unconvertible input.
    """
    if _is_sparse(data):
        raise DataTypeError(
            f"{name} is a sparse {type(data).__name__}; sparse input is not supported: "
            f"pass {name}.toarray()"
        )
    try:
        return np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise DataTypeError(f"{name} must be a numeric array; it cannot be one: {exc}") from None


def _complex_error(name: str, dtype: np.dtype, expected: str) -> ComplexDataError:
    """The error for complex ``name``, in scikit-learn's words ("Complex data not supported")."""
    return ComplexDataError(
        f"{name} must hold {expected}; got dtype {dtype}. Complex data not supported"
    )


def _real_numbers(array: np.ndarray, name: str) -> np.ndarray:
    """Return a numeric ``array`` as float64; an object array only if it holds numbers.

    A pandas DataFrame with a bool column becomes an object array of numbers: each value
    is converted. Strings are refused even when they spell a number.
    """
    kind = array.dtype.kind
    if kind in "biuf":
        return array.astype(np.float64, copy=False)
    if kind == "c":
        raise _complex_error(name, array.dtype, "real numbers")
    if kind != "O":
        raise DataTypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if any(isinstance(value, str | bytes) for value in array.flat):
        raise DataTypeError(f"{name} must hold real numbers; its object array holds strings")
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataTypeError(
            f"{name} must hold real numbers; a value of its object array is not one: {exc}"
        ) from None


def check_features(X: Any, name: str = "X", *, finite: bool = True) -> np.ndarray:
    """Return ``X`` as a C-contiguous float64 matrix of shape (n_samples, n_features).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Real numbers: a numeric array, or an object array of numbers (as a DataFrame
        with a bool column gives).
    name : str, default="X"
        The argument's name in error messages (``train_distributed`` passes
        ``"shards[3][0]"``).
    finite : bool, default=True
        Check that every value is finite. ``False`` leaves the check to the caller
        (see :func:`check_finite_features`).

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        ``X`` itself when it already is such a matrix, else a converted copy.

    Raises
    ------
    DataTypeError
        For sparse, non-numeric or ragged data; complex data raise its subclass
        :class:`~datapredict.errors.ComplexDataError`, also a ``ValueError``.
    InvalidDataError
        For a number of dimensions other than 2, or no rows or columns.
    NonFiniteError
        For NaN or infinity (when ``finite``).

    Examples
    --------
    >>> check_features([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    array = as_array(X, name)
    may_be_nonfinite = array.dtype.kind in "fO"
    array = _real_numbers(array, name)
    if array.ndim != 2:
        raise InvalidDataError(
            f"{name} must be 2-D, of shape (n_samples, n_features); got shape {array.shape}. "
            f"Reshape your data: {name}.reshape(-1, 1) for a single feature, "
            f"{name}.reshape(1, -1) for a single sample"
        )
    for axis, what in enumerate(("sample(s)", "feature(s)")):
        if array.shape[axis] == 0:
            raise InvalidDataError(
                f"{name} has 0 {what} (shape={array.shape}) while a minimum of 1 is required."
            )
    array = np.ascontiguousarray(array)
    if finite and may_be_nonfinite:
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


def feature_names(X: Any) -> np.ndarray | None:
    """The column names of a DataFrame-like ``X`` when all are strings, else ``None``.

    Examples
    --------
    >>> feature_names([[1.0, 2.0]]) is None
    True
    """
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(columns, dtype=object)
    if names.ndim != 1 or not all(isinstance(column, str) for column in names):
        return None
    return names


def check_same_rows(X: np.ndarray, y: np.ndarray, name: str = "y") -> None:
    """Raise :class:`InvalidDataError` unless ``y`` is 1-D or 2-D with one row per row of ``X``."""
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        n = X.shape[0]
        raise InvalidDataError(
            f"{name} must have shape ({n},) or ({n}, n_outputs) to match X's {n} rows; "
            f"got shape {y.shape}"
        )


def check_labels(y: Any, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D label array, or raise if its values cannot be classes.

    Integers, booleans and strings are classes; floats only when every value is a whole
    number (``1.0``); NaN, infinity, fractional (continuous) or complex values are not.
    A column vector of shape (n, 1) is accepted as n labels.
    """
    labels = as_array(y, name)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise InvalidDataError(f"{name} must be 1-D class labels; got shape {labels.shape}")
    kind = labels.dtype.kind
    if kind == "c":
        raise _complex_error(name, labels.dtype, "class labels")
    if kind in "mMV":
        raise DataTypeError(f"{name} must hold class labels; got dtype {labels.dtype}")
    if kind == "f":
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            index = int(np.argmin(whole))
            raise InvalidDataError(
                f"{name} holds continuous values ({name}[{index}] is {_plain(labels[index])!r}), "
                "which cannot be classes: a classifier needs class labels (integers, booleans, "
                "strings or whole-number floats). Use a regressor for continuous targets: "
                "LinearRegression or NeuralNetwork(task='regression')"
            )
    if kind == "O":
        try:
            np.unique(labels)
        except TypeError as exc:
            raise DataTypeError(f"{name} holds labels that cannot be compared: {exc}") from None
    return labels


def check_targets(y: Any, name: str = "y", *, task: Task) -> np.ndarray:
    """Return training targets for a ``task``, or raise if they cannot be learned.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Values to fit (regression) or class labels (classification).
    name : str, default="y"
        The argument's name in error messages (``train_distributed`` passes
        ``"shards[3][1]"``).
    task : {"regression", "classification"}
        Regression needs finite real numbers, at least one output; classification
        needs class labels: integers, booleans, strings, or floats that are all whole
        numbers (a float ``y`` with a fractional value is continuous and refused).

    Returns
    -------
    ndarray
        Regression: float64 of ``y``'s shape. Classification: the 1-D labels (a column
        vector (n, 1) gives n labels), their dtype kept.

    Raises
    ------
    InvalidDataError
        ``y`` is None, has the wrong number of dimensions or no outputs, or holds
        continuous values for a classifier.
    DataTypeError
        Non-numeric ``y`` for regression, incomparable labels; complex ``y`` raises its
        subclass :class:`~datapredict.errors.ComplexDataError`, also a ``ValueError``.
    NonFiniteError
        NaN or infinity in a regression target.

    Examples
    --------
    >>> check_targets([0.5, 1.5], task="regression").tolist()
    [0.5, 1.5]
    >>> check_targets([0.5, 1.5], task="classification")
    Traceback (most recent call last):
    ...
    datapredict.errors.InvalidDataError: y holds continuous values (y[0] is 0.5), ...
    """
    if task not in ("regression", "classification"):
        raise option_error("check_targets", "task", "'regression' or 'classification'", task)
    if y is None:
        raise InvalidDataError(
            f"training requires {name} to be passed, but the target {name} is None"
        )
    if task == "classification":
        return check_labels(y, name)
    values = _real_numbers(as_array(y, name), name)
    if values.ndim not in (1, 2) or (values.ndim == 2 and values.shape[1] == 0):
        raise InvalidDataError(
            f"{name} must be 1-D or 2-D with at least one output, of shape (n_samples,) or "
            f"(n_samples, n_outputs); got shape {values.shape}"
        )
    flat = values.ravel()
    if not (math.isfinite(np.vdot(flat, flat)) or np.isfinite(flat).all()):
        bad = int(np.argmin(np.isfinite(flat)))
        raise NonFiniteError(
            f"{name} must be finite; it holds NaN or infinite values, the first at flat index "
            f"{bad} ({flat[bad]})"
        )
    return values
