"""Client sampling: counts, fractions, determinism per round, uniformity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from datapredict.errors import InvalidOptionError
from datapredict.sampling import ChildSampler

SEED = np.random.SeedSequence(7)


@pytest.mark.parametrize(
    ("n", "per_round", "expected"),
    [(10, None, 10), (10, 3, 3), (10, 10, 10), (10, 0.1, 1), (10, 0.25, 3), (10, 1.0, 10),
     (1000, 0.1, 100), (3, 0.01, 1)],
)  # fmt: skip
def test_counts_and_fractions(n, per_round, expected):
    assert ChildSampler(n, per_round, SEED).per_round == expected


@pytest.mark.parametrize("per_round", [0, 11, -1, 0.0, 1.5, -0.2, True, "half", float("nan")])
def test_bad_values_name_the_option(per_round):
    with pytest.raises(InvalidOptionError, match="children_per_round"):
        ChildSampler(10, per_round, SEED)


@given(
    n=st.integers(1, 200),
    fraction=st.floats(0.001, 1.0),
    round_index=st.integers(0, 10_000),
)
def test_a_round_is_a_sorted_set_of_distinct_children_drawn_again_identically(
    n, fraction, round_index
):
    sampler = ChildSampler(n, fraction, SEED)
    children = sampler.sample(round_index)
    assert children == sorted(set(children))
    assert len(children) == sampler.per_round
    assert all(0 <= c < n for c in children)
    assert ChildSampler(n, fraction, np.random.SeedSequence(7)).sample(round_index) == children


def test_rounds_differ_and_every_child_is_drawn_uniformly():
    sampler = ChildSampler(20, 5, SEED)
    rounds = [sampler.sample(r) for r in range(2000)]
    # of C(20, 5) = 15504 possible rounds, 2000 draws repeat ~129 (birthday): ~1871 distinct
    assert len({tuple(r) for r in rounds}) > 1800
    counts = np.bincount(np.concatenate(rounds), minlength=20)
    # chi-square against uniform (each child in 5/20 of the rounds); false alarm 1e-4
    assert stats.chisquare(counts).pvalue > 1e-4


def test_every_child_every_round_without_sampling():
    sampler = ChildSampler(4, None, SEED)
    assert not sampler.samples and sampler.sample(3) == [0, 1, 2, 3]
