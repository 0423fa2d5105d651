"""clip_rows: hand-computed cases, properties against a numpy reference, extremes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datapredict.errors import DataTypeError, InvalidDataError, InvalidOptionError, NonFiniteError
from datapredict.merge import clip_rows


def test_clip_rows_by_hand():
    stacked = np.array([[3.0, 4.0], [0.0, 0.0], [0.3, 0.4], [0.0, -2.0]])
    # norms 5, 0, 0.5, 2; max_norm 1: row 0 / 5, row 3 / 2, rows 1 and 2 unchanged
    expected = np.array([[0.6, 0.8], [0.0, 0.0], [0.3, 0.4], [0.0, -1.0]])
    clipped = clip_rows(stacked, 1.0)
    np.testing.assert_allclose(clipped, expected, rtol=1e-15)
    assert not np.shares_memory(clipped, stacked)
    assert stacked[0, 0] == 3.0  # input untouched
    # a vector is one row: (6, 8) has norm 10 -> (3, 4) at max_norm 5
    np.testing.assert_allclose(clip_rows(np.array([6.0, 8.0], np.float32), 5), [3.0, 4.0])


def test_clip_rows_in_place_and_into_out():
    stacked = np.array([[3.0, 4.0], [0.3, 0.4]])
    out = np.empty_like(stacked)
    assert clip_rows(stacked, 1.0, out=out) is out
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4]])
    assert clip_rows(stacked, 1.0, out=stacked) is stacked
    np.testing.assert_array_equal(stacked, out)


finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@settings(max_examples=80, deadline=None)
@given(
    stacked=st.sampled_from([np.float32, np.float64]).flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=12),
            elements=finite,
        )
    ),
    max_norm=st.floats(1e-3, 1e4),
)
def test_clip_rows_properties(stacked, max_norm):
    clipped = clip_rows(stacked, max_norm)
    assert clipped.shape == stacked.shape and clipped.dtype == stacked.dtype
    rows = stacked.reshape(-1, stacked.shape[-1]).astype(np.float64)
    out = clipped.reshape(rows.shape).astype(np.float64)
    norms = np.linalg.norm(rows, axis=1)
    eps = np.finfo(stacked.dtype).eps
    # norms at most max_norm (up to the dtype's rounding)
    assert (np.linalg.norm(out, axis=1) <= max_norm * (1 + 8 * eps)).all()
    # rows within the bound are unchanged, bit for bit
    inside = norms <= max_norm
    np.testing.assert_array_equal(out[inside], rows[inside])
    # the others keep their direction: the numpy reference row * max_norm / |row|
    expected = rows[~inside] * (max_norm / norms[~inside])[:, None]
    np.testing.assert_allclose(out[~inside], expected, rtol=8 * eps, atol=8 * eps * max_norm)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_clip_rows_extreme_values(dtype, sign):
    big = np.finfo(dtype).max
    stacked = np.array([[sign * big] * 4, [big, -big, big, -big], [1.0, 0.0, 0.0, 0.0]], dtype)
    clipped = clip_rows(stacked, 2.0)
    # norm 2 over 4 equal magnitudes: each 2 / sqrt(4) = 1, with the row's signs
    np.testing.assert_allclose(clipped[0], [sign] * 4, rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_allclose(clipped[1], [1.0, -1.0, 1.0, -1.0], rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(clipped[2], stacked[2])
    # a tiny bound gives a factor below float32's smallest normal number, still exact
    np.testing.assert_allclose(
        clip_rows(np.full(4, 1e30, dtype), 1e-20), np.full(4, 5e-21), rtol=4 * np.finfo(dtype).eps
    )


@pytest.mark.parametrize(
    ("stacked", "error", "fragment"),
    [
        (np.ones((2, 0)), InvalidDataError, r"K, P >= 1; got shape \(2, 0\)"),
        (np.ones((0, 3)), InvalidDataError, r"got shape \(0, 3\)"),
        (np.ones((2, 2, 2)), InvalidDataError, r"got shape \(2, 2, 2\)"),
        (np.ones((2, 2), dtype=int), DataTypeError, "float32 or float64 array; got int64"),
        ([[1.0, 2.0]], DataTypeError, "got list"),
        (np.array([[1.0, np.nan], [1.0, 1.0], [np.inf, 0.0]]), NonFiniteError, r"rows \[0, 2\]"),
    ],
)
def test_clip_rows_rejects_bad_input(stacked, error, fragment):
    with pytest.raises(error, match=fragment):
        clip_rows(stacked, 1.0)


def test_clip_rows_rejects_bad_options():
    with pytest.raises(InvalidOptionError, match="'max_norm' option of clip_rows"):
        clip_rows(np.ones((2, 2)), 0.0)
    with pytest.raises(InvalidDataError, match=r"out must be None or an array .*float64 \(2, 2\)"):
        clip_rows(np.ones((2, 2)), 1.0, out=np.ones((2, 2), np.float32))
