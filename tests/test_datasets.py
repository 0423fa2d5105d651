"""Tests for datapredict.datasets."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datapredict.datasets import (
    DATASETS,
    Dataset,
    load_dataset,
    split,
    split_dirichlet,
    split_iid,
    split_quantity_skew,
    standardize_features,
    train_test_split,
)
from datapredict.errors import (
    DataTypeError,
    InvalidDataError,
    InvalidOptionError,
    MissingDependencyError,
)

HOWS = ["iid", "dirichlet", "quantity"]


def labelled_rows(n_rows: int, n_classes: int = 10, seed: int = 0):
    """X holds each row's own index, so a shard's X tells which rows it got."""
    y = np.random.default_rng(seed).integers(0, n_classes, size=n_rows)
    return np.arange(n_rows, dtype=float).reshape(-1, 1), y


def mean_label_distance(shards, y, weighted=False) -> float:
    """Mean total-variation distance between each child's label distribution and y's."""
    n_classes = y.max() + 1
    overall = np.bincount(y, minlength=n_classes) / len(y)
    distances, sizes = [], []
    for _, y_i in shards:
        child = np.bincount(y_i, minlength=n_classes) / len(y_i)
        distances.append(0.5 * np.abs(child - overall).sum())
        sizes.append(len(y_i))
    return float(np.average(distances, weights=sizes if weighted else None))


# Partition and determinism -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 60),
    data=st.data(),
    how=st.sampled_from(HOWS),
    alpha=st.floats(0.05, 50.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_partitions_rows(n_rows, data, how, alpha, seed):
    n_children = data.draw(st.integers(1, n_rows))
    X, y = labelled_rows(n_rows, n_classes=3, seed=seed)
    options = {} if how == "iid" else {"alpha": alpha}
    if how == "dirichlet":
        options["min_size"] = 1
    try:
        shards = split(X, y, n_children, how=how, random_state=seed, **options)
    except InvalidDataError:  # Dirichlet draws may fail min_size with many children.
        assert how == "dirichlet"
        return
    assert len(shards) == n_children
    rows = np.concatenate([X_i[:, 0] for X_i, _ in shards]).astype(int)
    np.testing.assert_array_equal(np.sort(rows), np.arange(n_rows))
    for X_i, y_i in shards:
        assert len(X_i) >= 1
        np.testing.assert_array_equal(y_i, y[X_i[:, 0].astype(int)])


@pytest.mark.parametrize("how", HOWS)
def test_split_is_deterministic(how):
    X, y = labelled_rows(300)
    first = split(X, y, 5, how=how, random_state=7)
    second = split(X, y, 5, how=how, random_state=np.random.default_rng(7))
    other = split(X, y, 5, how=how, random_state=8)
    for (X_a, y_a), (X_b, y_b) in zip(first, second, strict=True):
        np.testing.assert_array_equal(X_a, X_b)
        np.testing.assert_array_equal(y_a, y_b)
    assert any(
        len(X_a) != len(X_c) or not np.array_equal(X_a, X_c)
        for (X_a, _), (X_c, _) in zip(first, other, strict=True)
    )


def test_split_copies_rows():
    X, y = labelled_rows(20)
    X_0, y_0 = split_iid(X, y, 2, random_state=0)[0]
    X_0[:] = -1
    y_0[:] = -1
    assert X.min() == 0
    assert y.min() >= 0


def test_split_keeps_2d_targets():
    X, _ = labelled_rows(30)
    y = np.arange(60.0).reshape(30, 2)
    shards = split_quantity_skew(X, y, 3, random_state=0)
    for X_i, y_i in shards:
        assert y_i.shape == (len(X_i), 2)
        np.testing.assert_array_equal(y_i[:, 0], 2 * X_i[:, 0])


def test_iid_sizes_differ_by_at_most_one():
    X, y = labelled_rows(103)
    sizes = [len(y_i) for _, y_i in split_iid(X, y, 10, random_state=0)]
    assert sum(sizes) == 103
    assert max(sizes) - min(sizes) <= 1


# Skew ------------------------------------------------------------------------------


def test_dirichlet_small_alpha_skews_labels():
    X, y = labelled_rows(2000)
    iid = mean_label_distance(split_iid(X, y, 10, random_state=0), y)
    near_iid = mean_label_distance(split_dirichlet(X, y, 10, alpha=1000.0, random_state=0), y)
    skewed = mean_label_distance(split_dirichlet(X, y, 10, alpha=0.1, random_state=0), y)
    assert iid < 0.15
    assert near_iid < 0.15
    assert skewed > 0.4
    assert skewed > 3 * iid


def test_dirichlet_min_size_honoured():
    X, y = labelled_rows(200)
    for seed in range(5):
        shards = split_dirichlet(X, y, 8, alpha=0.1, min_size=15, random_state=seed)
        assert min(len(y_i) for _, y_i in shards) >= 15


def test_dirichlet_gives_up_with_clear_error():
    X, y = labelled_rows(40, n_classes=2)
    with pytest.raises(InvalidDataError, match="no draw in 3 attempts"):
        split_dirichlet(X, y, 4, alpha=0.01, min_size=10, max_attempts=3, random_state=0)


def test_quantity_skew_sizes_unequal_labels_iid():
    X, y = labelled_rows(2000)
    shards = split_quantity_skew(X, y, 10, alpha=0.5, random_state=0)
    sizes = [len(y_i) for _, y_i in shards]
    assert max(sizes) > 3 * min(sizes)
    assert mean_label_distance(shards, y, weighted=True) < 0.15


def test_quantity_skew_min_size():
    X, y = labelled_rows(100)
    shards = split_quantity_skew(X, y, 10, alpha=0.05, min_size=5, random_state=0)
    assert min(len(y_i) for _, y_i in shards) >= 5


def test_string_labels_accepted():
    X, _ = labelled_rows(40)
    y = np.array(["cat", "dog"] * 20)
    shards = split_dirichlet(X, y, 2, random_state=0)
    assert sum(len(y_i) for _, y_i in shards) == 40


# Arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("function", [split_iid, split_dirichlet, split_quantity_skew])
@pytest.mark.parametrize("n_children", [0, 11, 2.0, True])
def test_bad_n_children(function, n_children):
    X, y = labelled_rows(10)
    message = (
        f"The 'n_children' option of {function.__name__} must be an integer in [1, 10] "
        f"(the number of rows). Got {n_children!r} instead."
    )
    with pytest.raises(InvalidOptionError) as info:
        function(X, y, n_children)
    assert str(info.value) == message


@pytest.mark.parametrize("function", [split_dirichlet, split_quantity_skew])
@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), "1"])
def test_bad_alpha(function, alpha):
    X, y = labelled_rows(10)
    with pytest.raises(
        InvalidOptionError, match=r"'alpha' option .* must be a float in \(0, inf\)"
    ):
        function(X, y, 2, alpha=alpha)


def test_bad_min_size():
    X, y = labelled_rows(10)
    with pytest.raises(InvalidOptionError, match=r"integer in \[1, 3\] \(10 rows among 3"):
        split_dirichlet(X, y, 3, min_size=4)
    with pytest.raises(InvalidOptionError, match="'min_size' option of split_quantity_skew"):
        split_quantity_skew(X, y, 3, min_size=0)


def test_mismatched_rows_and_bad_shapes():
    X, y = labelled_rows(10)
    with pytest.raises(InvalidDataError, match=r"y must have shape \(10,\).*got shape \(9,\)"):
        split_iid(X, y[:9], 2)
    with pytest.raises(InvalidDataError, match="X must be 2-D"):
        split_iid(X.ravel(), y, 2)
    with pytest.raises(InvalidDataError, match=r"X has 0 sample\(s\) \(shape=\(0, 2\)\)"):
        split_iid(np.zeros((0, 2)), np.zeros(0), 1)


def test_dirichlet_needs_class_labels():
    X, _ = labelled_rows(10)
    with pytest.raises(DataTypeError, match="needs class labels"):
        split_dirichlet(X, np.linspace(0, 1, 10), 2)
    with pytest.raises(InvalidDataError, match="one label per row"):
        split_dirichlet(X, np.zeros((10, 2), dtype=int), 2)


def test_split_dispatcher_options():
    X, y = labelled_rows(50)
    with pytest.raises(InvalidOptionError, match="The 'how' option of split must be one of"):
        split(X, y, 2, how="label")
    with pytest.raises(InvalidOptionError, match="The 'alpha' option of split must be None"):
        split(X, y, 2, how="iid", alpha=0.5)
    direct = split_dirichlet(X, y, 3, alpha=0.3, min_size=2, random_state=4)
    through = split(X, y, 3, how="dirichlet", alpha=0.3, min_size=2, random_state=4)
    for (X_a, _), (X_b, _) in zip(direct, through, strict=True):
        np.testing.assert_array_equal(X_a, X_b)


# train_test_split and standardize_features -----------------------------------------------


def test_train_test_split_stratifies():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100.0).reshape(-1, 1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    assert len(y_test) == 20
    np.testing.assert_array_equal(np.bincount(y_test), [12, 6, 2])
    np.testing.assert_array_equal(np.bincount(y_train), [48, 24, 8])
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]]).astype(int)
    np.testing.assert_array_equal(np.sort(rows), np.arange(100))
    np.testing.assert_array_equal(y_test, y[X_test[:, 0].astype(int)])


def test_train_test_split_regression_and_counts():
    X = np.arange(40.0).reshape(20, 2)
    y = np.linspace(0, 1, 20)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=5, random_state=1)
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (15, 5, 15, 5)
    again = train_test_split(X, y, test_size=5, random_state=1)
    np.testing.assert_array_equal(again[1], X_test)
    # ceil(0.25 * 10) = 3 test rows
    assert len(train_test_split(X[:10], y[:10], random_state=0)[1]) == 3


@pytest.mark.parametrize("test_size", [0, 0.0, 1.0, 20, -0.5, True, "0.2"])
def test_train_test_split_bad_test_size(test_size):
    X, y = labelled_rows(20)
    with pytest.raises(InvalidOptionError, match="The 'test_size' option of train_test_split"):
        train_test_split(X, y, test_size=test_size)


def test_standardize_features_uses_training_statistics():
    X_train = np.array([[1.0, 5.0], [3.0, 5.0]])
    X_test = np.array([[5.0, 6.0]])
    train, test = standardize_features(X_train, X_test)
    # column 0: mean 2, std 1; column 1 is constant: only centred
    np.testing.assert_array_equal(train, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(test, [[3.0, 1.0]])
    with pytest.raises(InvalidDataError, match="X_others\\[0\\] has 3 features"):
        standardize_features(X_train, np.zeros((1, 3)))


# load_dataset -------------------------------------------------------------------------

SHAPES = {
    "digits": ((1797, 64), 10),
    "breast_cancer": ((569, 30), 2),
    "iris": ((150, 4), 3),
    "wine": ((178, 13), 3),
    "diabetes": ((442, 10), None),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_load_dataset_shapes(name):
    dataset = load_dataset(name)
    shape, n_classes = SHAPES[name]
    assert isinstance(dataset, Dataset)
    assert dataset.name == name
    assert dataset.X.shape == shape
    assert dataset.X.dtype == np.float64
    assert dataset.y.shape == (shape[0],)
    if n_classes is None:
        assert dataset.task == "regression"
        assert dataset.y.dtype == np.float64
    else:
        assert dataset.task == "classification"
        assert dataset.y.dtype == np.int64
        np.testing.assert_array_equal(np.unique(dataset.y), np.arange(n_classes))
    np.testing.assert_allclose(dataset.X.mean(axis=0), 0.0, atol=1e-12)
    std = dataset.X.std(axis=0)
    assert np.all(np.isclose(std, 1.0) | (std == 0.0))


def test_load_dataset_raw_and_repr():
    dataset = load_dataset("Iris", standardize=False)
    assert dataset.X.min() >= 0  # raw centimetres
    assert repr(dataset) == (
        "Dataset(name='iris', task='classification', X.shape=(150, 4), y.shape=(150,))"
    )
    assert set(DATASETS) == set(SHAPES)


def test_load_dataset_unknown_name():
    with pytest.raises(InvalidOptionError, match="The 'name' option of load_dataset must be one"):
        load_dataset("mnist")


def test_load_dataset_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'datapredict\[demo\]'"):
        load_dataset("iris")
