"""Fixed-point encoding modulo 2**64: hand-computed values, sums, capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datapredict.errors import InvalidOptionError
from datapredict.secure.fixed_point import FixedPoint


def test_encoding_by_hand():
    codec = FixedPoint(range=4.0, fraction_bits=2)  # units of 1/4
    encoded = codec.encode(np.array([1.0, -0.25, 0.3, 9.0, -9.0]))
    # 1.0 -> 4; -0.25 -> -1 = 2**64 - 1; 0.3 -> round(1.2) = 1; 9 clips to 4 -> 16
    assert encoded.dtype == np.uint64
    assert encoded.tolist() == [4, 2**64 - 1, 1, 16, 2**64 - 16]


def test_a_sum_that_wraps_decodes_to_the_signed_sum():
    codec = FixedPoint(range=4.0, fraction_bits=2)
    total = codec.encode(np.array([-1.0])) + codec.encode(np.array([-2.5]))
    assert codec.decode(total).tolist() == [-3.5]


@given(
    st.lists(
        st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=3),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 40),
)
def test_decoded_sum_is_within_the_rounding_bound(rows, fraction_bits):
    codec = FixedPoint(range=50.0, fraction_bits=fraction_bits)
    values = np.array(rows)
    total = np.zeros(3, dtype=np.uint64)
    for row in values:
        total += codec.encode(row)
    expected = np.clip(values, -50, 50).sum(axis=0)
    bound = len(values) * 2.0 ** -(fraction_bits + 1)
    assert np.all(np.abs(codec.decode(total) - expected) <= bound * (1 + 1e-12) + 1e-9)


def test_capacity_is_checked_against_the_signed_range():
    codec = FixedPoint(range=2.0**20, fraction_bits=32)  # one value: 2**52 units
    assert codec.max_summands == (2**63 - 1) // 2**52 == 2047
    codec.check_capacity(2047)
    with pytest.raises(InvalidOptionError, match=r"'range'.*at most 2047 children"):
        codec.check_capacity(3000)
