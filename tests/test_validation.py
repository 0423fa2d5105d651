"""The data checks of ``datapredict._validation``: what they accept, return and refuse."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datapredict import errors
from datapredict._validation import (
    check_features,
    check_labels,
    check_same_rows,
    check_targets,
    feature_names,
)

finite_floats = st.floats(-1e300, 1e300, allow_nan=False)
matrices = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2), elements=finite_floats)


class Frame:
    """The least a DataFrame offers here: column names and conversion to an array."""

    def __init__(self, values, columns):
        self.values = np.asarray(values)
        self.columns = columns

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


# ------------------------------------------------------------------- features


@settings(max_examples=50, deadline=None)
@given(matrices)
def test_a_finite_float_matrix_is_returned_as_it_is(X):
    checked = check_features(X)
    assert checked is X  # C-contiguous float64 already: no copy


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2), elements=st.integers(-9, 9)))
def test_integers_and_objects_holding_numbers_become_the_same_floats(X):
    expected = X.astype(np.float64)
    np.testing.assert_array_equal(check_features(X), expected)
    as_objects = X.astype(object)
    as_objects[0, 0] = bool(X[0, 0] % 2)  # a DataFrame's bool column gives such values
    expected[0, 0] = float(bool(X[0, 0] % 2))
    checked = check_features(as_objects)
    assert checked.dtype == np.float64 and checked.flags.c_contiguous
    np.testing.assert_array_equal(checked, expected)


def test_a_fortran_ordered_matrix_becomes_c_ordered():
    X = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    checked = check_features(X)
    assert checked.flags.c_contiguous
    np.testing.assert_array_equal(checked, X)


@pytest.mark.parametrize(
    ("value", "fragments"),
    [("1.5", ["X must hold real numbers", "strings"]), ({"a": 1}, ["not one", "dict"]),
     (1 + 2j, ["not one", "complex"])],
    ids=["numeric string", "dict", "complex"],
)  # fmt: skip
def test_objects_that_are_not_real_numbers_are_refused(value, fragments):
    X = np.ones((3, 2), dtype=object)
    X[1, 1] = value
    with pytest.raises(errors.DataTypeError) as info:
        check_features(X)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_nan_in_an_object_array_is_found():
    X = np.array([[1.0, None], [2.0, 3.0]], dtype=object)  # None converts to NaN
    with pytest.raises(errors.NonFiniteError, match="row 0, column 1"):
        check_features(X)


@pytest.mark.parametrize(
    ("X", "error", "pattern"),
    [
        (np.zeros((12, 0)), errors.InvalidDataError,
         r"X has 0 feature\(s\) \(shape=\(12, 0\)\) while a minimum of 1 is required"),
        (np.zeros((0, 3)), errors.InvalidDataError,
         r"X has 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required"),
        (np.zeros(3), errors.InvalidDataError, r"got shape \(3,\)\. Reshape your data"),
        (np.zeros((2, 2, 2)), errors.InvalidDataError, r"must be 2-D"),
        (np.array([["a", "b"]]), errors.DataTypeError, "<U1"),
        (np.ones((2, 2)) + 1j, errors.DataTypeError, "complex128"),
        (scipy.sparse.csr_matrix(np.eye(3)), errors.DataTypeError,
         r"sparse input is not supported: pass X\.toarray\(\)"),
        ([[1.0, 2.0], [3.0]], errors.DataTypeError, "X must be a numeric array"),
        (np.array([[1.0, np.inf]]), errors.NonFiniteError, "row 0, column 1"),
    ],
    ids=["no columns", "no rows", "1-D", "3-D", "strings", "complex", "sparse", "ragged", "inf"],
)  # fmt: skip
def test_unusable_features_are_refused_naming_the_argument(X, error, pattern):
    with pytest.raises(error, match=pattern):
        check_features(X)
    with pytest.raises(error, match="shards\\[2\\]\\[0\\]"):
        check_features(X, "shards[2][0]")


def test_finite_false_leaves_nan_to_the_caller():
    X = np.array([[np.nan, 1.0]])
    assert np.isnan(check_features(X, finite=False)[0, 0])


def test_feature_names_are_taken_only_when_all_are_strings():
    values = np.ones((2, 2))
    np.testing.assert_array_equal(feature_names(Frame(values, ["a", "b"])), ["a", "b"])
    assert feature_names(Frame(values, [0, 1])) is None
    assert feature_names(Frame(values, ["a", 1])) is None
    assert feature_names(values) is None


# -------------------------------------------------------------------- targets


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=finite_floats))
def test_finite_regression_targets_are_returned_as_floats(y):
    np.testing.assert_array_equal(check_targets(y, task="regression"), y)
    np.testing.assert_array_equal(check_targets(y.tolist(), task="regression"), y)


@pytest.mark.parametrize(
    ("y", "error", "pattern"),
    [
        (None, errors.InvalidDataError, "requires y to be passed, but the target y is None"),
        (np.array([1.0, np.nan]), errors.NonFiniteError, r"y must be finite.*index 1"),
        (np.array([np.inf, 1.0]), errors.NonFiniteError, r"y must be finite.*index 0"),
        (np.array(["1.0", "2.0"]), errors.DataTypeError, "y must hold real numbers"),
        (np.array([1.0, "a"], dtype=object), errors.DataTypeError, "strings"),
        (np.zeros((4, 0)), errors.InvalidDataError, "at least one output"),
        (np.zeros((2, 2, 1)), errors.InvalidDataError, r"\(2, 2, 1\)"),
    ],
    ids=["None", "nan", "inf", "strings", "object with a string", "no outputs", "3-D"],
)  # fmt: skip
def test_unusable_regression_targets_are_refused(y, error, pattern):
    with pytest.raises(error, match=pattern):
        check_targets(y, task="regression")


def test_huge_finite_regression_targets_are_accepted():
    y = np.full(5, 1e160)  # the squares overflow: the one-pass proof fails, then each is checked
    np.testing.assert_array_equal(check_targets(y, task="regression"), y)


@pytest.mark.parametrize(
    "y",
    [[0, 1, 1], [True, False, True], ["a", "b", "a"], [1.0, 2.0, 1.0], [[0], [1], [1]]],
    ids=["int", "bool", "str", "whole floats", "column vector"],
)
def test_class_labels_are_accepted_as_one_label_per_row(y):
    labels = check_targets(y, task="classification")
    assert labels.shape == (3,)
    np.testing.assert_array_equal(labels, np.ravel(y))


def test_continuous_floats_are_refused_for_a_classifier_suggesting_a_regressor():
    y = np.array([0.0, 1.0, 2.25, 3.0])
    with pytest.raises(errors.InvalidDataError) as info:
        check_targets(y, "shards[1][1]", task="classification")
    message = str(info.value)
    for fragment in (
        "shards[1][1] holds continuous values",
        "2.25",
        "regressor",
        "LinearRegression",
    ):
        assert fragment in message
    check_targets(y, task="regression")  # the same values are fine targets for a regressor


@pytest.mark.parametrize(
    ("y", "error", "pattern"),
    [
        (None, errors.InvalidDataError, "target y is None"),
        (np.array([0.0, np.nan]), errors.InvalidDataError, "continuous"),
        (np.array([1 + 1j, 2]), errors.DataTypeError, "class labels"),
        (np.zeros((3, 2), dtype=int), errors.InvalidDataError, "1-D class labels"),
        (np.array([1, "a", None], dtype=object), errors.DataTypeError, "cannot be compared"),
    ],
    ids=["None", "nan", "complex", "two columns", "incomparable"],
)  # fmt: skip
def test_unusable_labels_are_refused(y, error, pattern):
    with pytest.raises(error, match=pattern):
        check_targets(y, task="classification")


def test_the_task_must_be_named():
    with pytest.raises(errors.InvalidOptionError, match="'task' option"):
        check_targets([1.0], task="clustering")


def test_check_labels_is_check_targets_for_classification():
    y = np.array(["x", "y"])
    np.testing.assert_array_equal(check_labels(y), check_targets(y, task="classification"))


def test_rows_must_match():
    X = np.ones((3, 2))
    check_same_rows(X, np.ones(3))
    check_same_rows(X, np.ones((3, 2)))
    with pytest.raises(errors.InvalidDataError, match=r"shape \(3,\) or \(3, n_outputs\).*\(2,\)"):
        check_same_rows(X, np.ones(2))
