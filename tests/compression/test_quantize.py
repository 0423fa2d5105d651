"""Stochastic quantisation: unbiased (exactly, over every noise value, and by a sampled
Hoeffding bound), codes in range, 4-bit packing, sizes, special vectors, bad input."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datapredict.compression import QuantizedPayload, StochasticQuantizer
from datapredict.compression.quantize import _pack, _unpack, round_block, rounding_constants
from datapredict.errors import DataTypeError, InvalidOptionError, ParameterStructureError

BITS = [8, 4]


def _levels(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def _codes(payload: QuantizedPayload) -> np.ndarray:
    if payload.bits == 8:
        return payload.codes
    return _unpack(payload.codes)[: payload.size]


def _test_vector(dtype) -> np.ndarray:
    """Random values plus the extremes: +-peak, zero, a tiny value, a value on a level."""
    vector = np.random.default_rng(0).standard_normal(40).astype(dtype)
    peak = np.abs(vector).max()
    vector[:5] = [peak, -peak, 0.0, peak * 1e-9, peak * 3 / 7]
    return vector


# ---------------------------------------------------------------------- unbiasedness
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bits", BITS)
def test_the_expected_decoded_value_is_the_value_over_every_noise_value(dtype, bits):
    """Exact expectation: the rounding of each value, run with each of the 2**16 noise
    values (all equally likely), averages to the value up to 2**-13 of a level plus a
    relative 2**-20 (the module's stated truncation and rounding). A deterministic
    rounding, or noise of 8 bits, misses it by up to a whole level or 2**-8 of one."""
    vector = _test_vector(dtype)
    payload, _ = StochasticQuantizer(bits).encode(vector, None, seed=0)
    peak = float(payload.scale[0])
    assert peak == np.abs(vector).max()  # the scale is the largest magnitude
    a, c = rounding_constants(peak, bits, dtype)
    noise = np.arange(2**16, dtype=np.uint16)
    x, t = np.empty(2**16, dtype), np.empty(2**16, "<i4")
    step = peak / _levels(bits)
    for value in vector:
        codes = round_block(np.full(2**16, value, dtype), a, c, noise, x, t)
        mean_code = codes.sum(dtype=np.int64) / 2**16  # exact: the sum is below 2**53
        expected = (mean_code - _levels(bits)) * step
        assert abs(expected - float(value)) <= step * 2**-13 + abs(float(value)) * 2**-20
        assert np.ptp(codes) <= 1  # only the two neighbouring levels


@pytest.mark.parametrize("bits", BITS)
def test_the_mean_of_many_independent_roundings_is_the_value_by_hoeffding(bits):
    """Sampled test, false-alarm rate 1e-6: 64 values each rounded n = 4000 times
    (one encode of the values tiled n times: independent noise per position). Each
    decoded copy lies in an interval of one level's length, so by Hoeffding's
    inequality and a Bonferroni bound over the 64 values, every mean lies within
    eps = step * sqrt(ln(2 * 64 / 1e-6) / (2n)) (5 % of a level) of its expectation,
    except with probability 1e-6. The seed is fixed: the test is deterministic."""
    n, values = 4000, np.random.default_rng(1).uniform(-1, 1, 64).astype(np.float32)
    values[0] = 1.0
    payload, _ = StochasticQuantizer(bits).encode(np.tile(values, n), None, seed=12345)
    means = payload.decode().reshape(n, values.size).astype(np.float64).mean(axis=0)
    step = 1.0 / _levels(bits)
    eps = step * math.sqrt(math.log(2 * values.size / 1e-6) / (2 * n))
    bias = step * 2**-13 + np.abs(values) * 2**-20  # the exact test's bound
    assert np.all(np.abs(means - values) <= eps + bias)


# ------------------------------------------------------------------ codes and sizes
_floats = st.floats(-(2.0**100), 2.0**100, width=32, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(
    vector=hnp.arrays(np.float32, st.integers(1, 300), elements=_floats),
    bits=st.sampled_from(BITS),
    seed=st.integers(0, 2**32),
)
def test_codes_are_in_range_and_decode_to_a_neighbouring_level(vector, bits, seed):
    peak = float(np.abs(vector).max())
    assume(peak == 0 or peak > 1e-30)  # below ~2.4e-32 the vector is sent as zeros
    payload, state = StochasticQuantizer(bits).encode(vector, None, seed=seed)
    assert state is None
    codes = _codes(payload)
    assert codes.dtype == np.uint8 and codes.max() <= 2 * _levels(bits)
    step = np.float64(peak) / _levels(bits)
    decoded = payload.decode()
    assert decoded.dtype == np.float32 and decoded.shape == vector.shape
    error = np.abs(decoded.astype(np.float64) - vector)
    assert np.all(error <= step * (1 + 1e-5))
    levels = codes.astype(np.int16) - _levels(bits)
    np.testing.assert_array_equal(decoded, levels * (payload.scale[0] / np.float32(_levels(bits))))


@settings(max_examples=60, deadline=None)
@given(
    levels=hnp.arrays(
        np.uint32, st.integers(1, 100).map(lambda n: 2 * n), elements=st.integers(0, 14)
    )
)
def test_four_bit_packing_round_trips(levels):
    packed = np.empty(levels.size // 2, np.uint8)
    _pack(levels.astype("<i4"), packed)
    np.testing.assert_array_equal(packed, levels[0::2] + 16 * levels[1::2])  # first: low nibble
    np.testing.assert_array_equal(_unpack(packed), levels)


@pytest.mark.parametrize(("bits", "size"), [(8, 10), (8, 200_001), (4, 10), (4, 200_001)])
def test_codes_round_trip_across_blocks_and_odd_sizes(bits, size):
    """Each decoded value is its code's level, across blocks of 2**16 and an odd last
    4-bit pair."""
    vector = np.random.default_rng(2).standard_normal(size).astype(np.float32)
    payload, _ = StochasticQuantizer(bits).encode(vector, None, seed=3)
    codes = _codes(payload)
    assert codes.size == size and codes.max() <= 2 * _levels(bits)
    step = payload.scale[0] / np.float32(_levels(bits))
    levels = codes.astype(np.int16) - _levels(bits)
    np.testing.assert_array_equal(payload.decode(), levels * step)
    assert np.all(np.abs(payload.decode() - vector) <= step * (1 + 1e-6))


@pytest.mark.parametrize(
    ("bits", "dtype", "size", "expected"),
    [
        (8, np.float32, 100_000, 100_000 + 4),
        (8, np.float64, 650, 650 + 8),
        (4, np.float32, 100_000, 50_000 + 4),
        (4, np.float32, 7, 4 + 4),
    ],
)
def test_bytes_per_push(bits, dtype, size, expected):
    payload, _ = StochasticQuantizer(bits).encode(np.ones(size, dtype), None, seed=0)
    assert payload.nbytes == expected
    assert len(pickle.dumps(payload)) < expected + 400  # what travels: the arrays, a header


def test_same_seed_same_codes_other_seed_other_codes():
    vector = np.random.default_rng(4).standard_normal(1000).astype(np.float32)
    kept = vector.copy()
    quantizer = StochasticQuantizer(8)
    seed = np.random.SeedSequence(9, spawn_key=(1, 2))
    first, _ = quantizer.encode(vector, None, seed)
    again, _ = quantizer.encode(vector, None, np.random.SeedSequence(9, spawn_key=(1, 2)))
    other, _ = quantizer.encode(vector, None, 10)
    np.testing.assert_array_equal(first.codes, again.codes)
    assert np.count_nonzero(first.codes != other.codes) > 100
    np.testing.assert_array_equal(vector, kept)  # not modified


@pytest.mark.parametrize("bits", BITS)
def test_zero_and_tiny_vectors_decode_to_zeros_and_non_finite_to_nan(bits):
    quantizer = StochasticQuantizer(bits)
    for vector in (np.zeros(5, np.float32), np.array([1e-40, 0.0], np.float32)):
        payload, _ = quantizer.encode(vector, None, 0)
        np.testing.assert_array_equal(payload.decode(), 0.0)
    for bad in (np.nan, np.inf, -np.inf):
        payload, _ = quantizer.encode(np.array([1.0, bad, 2.0]), None, 0)
        decoded = payload.decode()
        assert decoded.dtype == np.float64 and np.isnan(decoded).all()


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bits", [3, 16, True, 8.0, "8"])
def test_bad_bits_are_refused_naming_the_option(bits):
    with pytest.raises(InvalidOptionError, match="'bits' option of StochasticQuantizer"):
        StochasticQuantizer(bits)


@pytest.mark.parametrize(
    ("vector", "error", "fragment"),
    [
        ([1.0, 2.0], DataTypeError, "float32 or float64 ndarray; got list"),
        (np.arange(3), DataTypeError, "got int64"),
        (np.ones((2, 2)), ParameterStructureError, "got shape (2, 2)"),
        (np.ones(0), ParameterStructureError, "got shape (0,)"),
    ],
)
def test_bad_vectors_are_refused(vector, error, fragment):
    with pytest.raises(error, match="vector must be") as info:
        StochasticQuantizer(8).encode(vector)
    assert fragment in str(info.value)


def test_a_state_is_refused_the_quantiser_keeps_none():
    with pytest.raises(InvalidOptionError, match="'state' option"):
        StochasticQuantizer(4).encode(np.ones(3), np.ones(3))
