"""privacy/prefetch.py: the next release's noise drawn early is the noise drawn late."""

from __future__ import annotations

import numpy as np
import pytest

from datapredict.privacy import prefetch as noise
from datapredict.privacy.aggregator import PrivateMean
from datapredict.privacy.dp import release_seed


@pytest.fixture(autouse=True)
def _empty_queue():
    noise.wait_for_prefetched()
    noise._pending.clear()
    yield
    noise.wait_for_prefetched()
    noise._pending.clear()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prefetched_noise_is_the_noise_drawn_now(dtype):
    seed = np.random.SeedSequence(5, spawn_key=(3, 0))
    expected = np.random.default_rng(seed).standard_normal(1000, dtype=dtype)
    expected *= expected.dtype.type(0.3)
    noise.prefetch(1000, seed, dtype, 0.3)
    assert len(noise._pending) == 1
    np.testing.assert_array_equal(noise.gaussian(1000, seed, dtype, 0.3), expected)
    assert not noise._pending  # taken: the next request draws anew
    np.testing.assert_array_equal(noise.gaussian(1000, seed, dtype, 0.3), expected)


def test_a_draw_prefetched_with_another_std_is_not_taken():
    seed = np.random.SeedSequence(6)
    noise.prefetch(100, seed, np.float64, 2.0)
    drawn = noise.gaussian(100, seed, np.float64, 1.0)
    np.testing.assert_array_equal(drawn, np.random.default_rng(seed).standard_normal(100))
    assert len(noise._pending) == 1


def test_at_most_max_pending_draws_are_held():
    seeds = [np.random.SeedSequence(1, spawn_key=(r,)) for r in range(noise.MAX_PENDING + 2)]
    for seed in seeds:
        noise.prefetch(10, seed)
    assert len(noise._pending) == noise.MAX_PENDING
    for seed in seeds:  # the evicted ones are drawn again, the same values
        expected = np.random.default_rng(seed).standard_normal(10)
        np.testing.assert_array_equal(noise.gaussian(10, seed), expected)


def test_a_release_prefetches_the_next_ones_noise_and_the_result_is_unchanged(monkeypatch):
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((4, 50))
    private = PrivateMean(1.0, 1.1, 4, np.random.SeedSequence(9))
    first, state = private.aggregate(rows, private.init())
    next_key = noise._key(50, release_seed(private.seed, 1), np.float64, private.noise_std(1.0))
    assert list(noise._pending) == [next_key]
    second, _ = private.aggregate(rows, state)  # takes the prefetched draw

    monkeypatch.setattr("datapredict.privacy.aggregator.prefetch", lambda *args: None)
    noise._pending.clear()
    alone_first, state = private.aggregate(rows, private.init())
    alone_second, _ = private.aggregate(rows, state)
    np.testing.assert_array_equal(first, alone_first)
    np.testing.assert_array_equal(second, alone_second)
    assert not np.array_equal(first, second)  # another release, other noise
