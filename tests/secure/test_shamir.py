"""Shamir secret sharing: any t of n shares reconstruct; t - 1 shares say nothing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from datapredict.errors import InvalidOptionError, SecureAggregationError
from datapredict.secure.shamir import PRIME, reconstruct, split


def test_a_line_by_hand():
    # threshold 2: f(x) = s + a x; two points determine the line, hence s
    shares = {1: 7 + 3, 2: 7 + 6}
    assert reconstruct(shares, 2) == 7
    assert reconstruct({2: 13, 5: 7 + 15}, 2) == 7


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**256 - 1),
    st.integers(1, 7),
    st.data(),
)
def test_any_threshold_shares_reconstruct(secret, n, data):
    threshold = data.draw(st.integers(1, n))
    holders = data.draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n, unique=True))
    shares = split(secret, holders, threshold, np.random.default_rng(data.draw(st.integers(0, 99))))
    for subset in itertools.combinations(holders, threshold):
        assert reconstruct({x: shares[x] for x in subset}, threshold) == secret


def test_fewer_shares_than_the_threshold_fail_cleanly():
    shares = split(42, [1, 2, 3, 4], 3, np.random.default_rng(0))
    with pytest.raises(SecureAggregationError, match="needs 3 shares; got 2"):
        reconstruct({1: shares[1], 2: shares[2]}, 3)


def test_threshold_minus_one_shares_do_not_determine_the_secret():
    """With t = 3, two shares of secret 0 and two of secret 2**255 have the same
    distribution (uniform over the field): a chi-square test of homogeneity on 16 bins of
    each share's value / PRIME, 4000 splits per secret, at alpha = 1e-4 (fixed seed, so
    deterministic; a correct implementation fails it with probability 1e-4 over seeds).
    Interpolating the two shares as if t were 2 gives back neither secret."""
    rng = np.random.default_rng(1)
    counts = []
    for secret in (0, 2**255):
        bins = np.zeros((2, 16), dtype=int)
        for _ in range(4000):
            shares = split(secret, [1, 2, 3], 3, rng)
            for i, x in enumerate((1, 2)):
                bins[i, shares[x] * 16 // PRIME] += 1
        counts.append(bins.ravel())
        assert reconstruct({1: shares[1], 2: shares[2]}, 2) != secret
    _, p_value, _, _ = stats.chi2_contingency(np.array(counts))
    assert p_value > 1e-4
    # ... while each share on its own is uniform (so with a zero coefficient it would not be)
    assert stats.chisquare(counts[0][:16]).pvalue > 1e-4


@pytest.mark.parametrize(
    ("secret", "holders", "threshold", "match"),
    [
        (-1, [1, 2], 1, "secret"),
        (PRIME, [1, 2], 1, "secret"),
        (1, [1, 1], 1, "distinct"),
        (1, [0, 1], 1, ">= 1"),
        (1, [1, 2], 3, "threshold"),
        (1, [1, 2], 0, "threshold"),
    ],
)
def test_bad_arguments(secret, holders, threshold, match):
    with pytest.raises(InvalidOptionError, match=match):
        split(secret, holders, threshold, np.random.default_rng(0))
