"""Label encoding against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.preprocessing import label_binarize

from datapredict.errors import InvalidDataError
from datapredict.models._classes import encode


@st.composite
def integer_labels(draw):
    """Sorted distinct integer classes (often consecutive, as 0/1 are) and labels from them."""
    start = draw(st.integers(-5, 5))
    gaps = draw(st.lists(st.sampled_from([1, 1, 2, 7]), min_size=1, max_size=4))
    classes = np.cumsum([start, *gaps])
    dtype = draw(
        st.sampled_from([np.int8, np.int64])
        if start < 0
        else st.sampled_from([np.int8, np.int64, np.uint8])
    )
    labels = draw(arrays(dtype, st.integers(1, 40), elements=st.sampled_from(classes.tolist())))
    return labels, classes.astype(np.int64)


@settings(max_examples=200, deadline=None)
@given(integer_labels(), st.booleans())
def test_encode_matches_scikit_learn(case, into_buffer):
    labels, classes = case
    expected = label_binarize(labels, classes=classes).astype(np.float64)
    out = np.full(expected.shape, np.nan) if into_buffer else None
    Y = encode(labels, classes, out=out)
    np.testing.assert_array_equal(Y, expected)
    assert Y.dtype == np.float64
    if into_buffer:
        assert Y is out


def test_encode_booleans_and_shifted_consecutive_classes():
    np.testing.assert_array_equal(
        encode(np.array([True, False, True]), np.array([False, True])), [[1.0], [0.0], [1.0]]
    )
    np.testing.assert_array_equal(
        encode(np.array([4, 3, 3], dtype=np.uint8), np.array([3, 4])), [[1.0], [0.0], [0.0]]
    )


@pytest.mark.parametrize("bad", [2, 5])
def test_encode_rejects_a_label_outside_consecutive_classes(bad):
    labels = np.array([3, 4, bad, 4])
    with pytest.raises(InvalidDataError, match=f"label {bad}, which is not one of .*\\[3, 4\\]"):
        encode(labels, np.array([3, 4]))


def test_encode_rejects_a_label_between_classes():
    with pytest.raises(InvalidDataError, match="label 1, which is not one of"):
        encode(np.array([0, 1, 2]), np.array([0, 2]))
