"""One secure round, client and server sides: the sum, dropouts, what the server holds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from datapredict.errors import SecureAggregationError
from datapredict.secure import SecAggClient, SecureAggregation, SecureJob, SecureRounds
from datapredict.secure.keys import prg


def _rounds(option: SecureAggregation, n: int, seed: int = 0) -> tuple[SecureRounds, list]:
    seeds = np.random.SeedSequence(seed).spawn(n)
    job = SecureJob(option, tuple(seeds), np.random.SeedSequence(seed + 1), False, None)
    return SecureRounds(job), seeds


def _play(option, X, weights, dropped=(), round_index=0):
    """A whole round over the rows of X; returns (average, weight, rounds, masked)."""
    rounds, seeds = _rounds(option, len(X))
    setup = rounds.begin(round_index, range(len(X)))
    masked = {
        c: SecAggClient(c, seeds[c], round_index).mask(X[c], weights[c], setup)
        for c in range(len(X))
    }
    results = [
        SimpleNamespace(child=c, vector=lambda m=m: m)
        for c, m in masked.items()
        if c not in dropped
    ]
    average, weight = rounds.finish(results)
    return average, weight, rounds, masked


def _bound(option, n_summed, weight):
    """|decoded average - exact average| <= n * 2**-(f + 1) / W (the rounding of each
    summed value), plus float64 rounding."""
    return n_summed * 2.0 ** -(option.fraction_bits + 1) / weight + 1e-12


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 7), st.integers(1, 4), st.data())
def test_the_sum_is_recovered_with_dropouts_up_to_the_threshold(n, size, data):
    option = SecureAggregation(neighbours="all", fraction_bits=24)
    values = st.floats(-10, 10, allow_nan=False)
    X = np.array(
        data.draw(st.lists(st.lists(values, min_size=size, max_size=size), min_size=n, max_size=n))
    )
    weights = np.array(data.draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))) / 8
    allowed = n - option.shares_needed(n)  # holders = every child
    dropped = data.draw(st.sets(st.integers(0, n - 1), max_size=allowed))
    alive = [c for c in range(n) if c not in dropped]
    average, weight, _, _ = _play(option, X, weights, dropped)
    assert weight == weights[alive].sum()  # dyadic weights: exact
    expected = weights[alive] @ X[alive] / weights[alive].sum()
    assert np.all(np.abs(average - expected) <= _bound(option, len(alive), weight))


def test_secagg_plus_survives_dropouts_inside_each_neighbourhood():
    option = SecureAggregation(neighbours="log", threshold=0.6)
    X = np.random.default_rng(0).normal(size=(24, 50))
    dropped = {1, 5, 9, 13}  # holders: 11 each (10 neighbours), 7 needed
    average, weight, rounds, _ = _play(option, X, np.ones(24), dropped)
    assert rounds.setup.threshold == 7 and all(len(v) == 10 for v in rounds.setup.graph.values())
    alive = [c for c in range(24) if c not in dropped]
    assert weight == 20
    assert np.all(np.abs(average - X[alive].mean(axis=0)) <= _bound(option, 20, 20))


def test_recovery_fails_cleanly_beyond_the_threshold():
    option = SecureAggregation(neighbours="all")  # 5 holders, 3 needed
    X = np.ones((5, 3))
    rounds, seeds = _rounds(option, 5)
    setup = rounds.begin(0, range(5))
    results = [
        SimpleNamespace(
            child=c, vector=lambda c=c: SecAggClient(c, seeds[c], 0).mask(X[c], 1, setup)
        )
        for c in (0, 4)
    ]
    assert "needs 3 surviving share holders" in setup.unrecoverable([0, 4])
    assert setup.unrecoverable([0, 2, 4]) is None
    with pytest.raises(
        SecureAggregationError, match=r"3 of 5 children dropped out \(\[1, 2, 3\]\)"
    ):
        rounds.finish(results)
    assert rounds.server.result is None


def test_pairwise_masks_cancel_in_the_sum():
    option = SecureAggregation(neighbours="log")
    X = np.random.default_rng(1).normal(size=(12, 40))
    _, _, rounds, masked = _play(option, X, np.ones(12))
    total = np.zeros(41, dtype=np.uint64)
    for c, vector in masked.items():
        total += vector
        total -= prg(rounds.clients[c]._self_seed, 41)  # remove the self masks only
        total -= option.codec.encode(np.append(X[c], 1.0))
    assert not total.any()


def test_a_masked_vector_is_indistinguishable_from_uniform():
    """Chi-square goodness of fit of the top byte of 2**16 masked values of an all-zero
    update to 256 equally likely bins, at alpha = 1e-4 (fixed seed: deterministic; a
    uniform vector fails it with probability 1e-4). The unmasked encoding fails it."""
    option = SecureAggregation(neighbours="all")
    X = np.zeros((3, 2**16))
    _, _, _, masked = _play(option, X, np.ones(3))

    def p_value(vector):
        counts = np.bincount((vector >> np.uint64(56)).astype(np.intp), minlength=256)
        return stats.chisquare(counts).pvalue

    assert p_value(masked[0]) > 1e-4
    assert p_value(option.codec.encode(X[0])) < 1e-4


def _stored(value, seen=None):
    """Every array and byte string reachable from ``value``'s attributes."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray | bytes):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _stored(key, seen)
            yield from _stored(item, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _stored(item, seen)
    elif hasattr(value, "__dict__"):
        yield from _stored(vars(value), seen)


def test_the_server_never_holds_an_unmasked_vector_or_a_secret():
    option = SecureAggregation(neighbours="log")
    X = np.random.default_rng(2).normal(size=(10, 30))
    average, _, rounds, _ = _play(option, X, np.ones(10), dropped={3})
    encoded = [option.codec.encode(np.append(x, 1.0)) for x in X]
    secrets = [
        s
        for client in rounds.clients.values()
        for s in (client._mask.secret, client._share.secret, client._self_seed)
    ]
    held = list(_stored(rounds.server))
    arrays = [a for a in held if isinstance(a, np.ndarray)]
    assert any(np.array_equal(a, rounds.server.total) for a in arrays)  # the walk sees it
    for array in arrays:
        for c in range(10):
            assert not np.array_equal(array, encoded[c])
            assert not np.array_equal(array, X[c])
            assert array.shape != X[c].shape or not np.allclose(array, X[c], atol=1e-6)
    assert not set(secrets) & {b for b in held if isinstance(b, bytes)}
    assert np.allclose(average, np.delete(X, 3, axis=0).mean(axis=0))


def test_a_client_never_reveals_both_secrets_of_one_child():
    rounds, _ = _rounds(SecureAggregation(neighbours="all"), 3)
    setup = rounds.begin(0, range(3))
    client = rounds.clients[1]
    inbox = rounds.server.inbox(1)
    assert set(client.reveal({0: "seed"}, inbox, setup)) == {0}
    with pytest.raises(SecureAggregationError, match="refuses to reveal child 0's key"):
        client.reveal({0: "key"}, inbox, setup)


def test_each_round_has_fresh_keys_and_masks():
    rounds, seeds = _rounds(SecureAggregation(neighbours="all"), 3)
    first = rounds.begin(0, range(3))
    second = rounds.begin(1, range(3))
    assert first.mask_keys[0] != second.mask_keys[0]
    x = np.zeros(8)
    assert not np.array_equal(
        SecAggClient(0, seeds[0], 0).mask(x, 1, first),
        SecAggClient(0, seeds[0], 1).mask(x, 1, second),
    )


def test_distributed_noise_gives_the_sum_the_stated_standard_deviation():
    """Ten children add N(0, sigma**2 / 10) each: the unmasked sum of 20000 coordinates
    must look N(0, sigma**2). Two-sided chi-square test of the variance,
    (n - 1) s**2 / sigma**2 ~ chi2(n - 1), at alpha = 1e-4 (fixed seeds), and a z-test of
    the mean at the same level."""
    sigma, n = 0.5, 20000
    option = SecureAggregation(neighbours="log", noise_std=sigma)
    X = np.zeros((10, n))
    average, weight, _, _ = _play(option, X, np.ones(10))
    noise = average * weight  # the sum
    statistic = (n - 1) * noise.var(ddof=1) / sigma**2
    assert stats.chi2.ppf(0.5e-4, n - 1) < statistic < stats.chi2.isf(0.5e-4, n - 1)
    assert abs(noise.mean()) < stats.norm.isf(0.5e-4) * sigma / np.sqrt(n)
    half, _, _, _ = _play(SecureAggregation(neighbours="log", noise_std=sigma / 2), X, np.ones(10))
    statistic = (n - 1) * (half * weight).var(ddof=1) / sigma**2  # a quarter of the variance
    assert statistic < stats.chi2.ppf(0.5e-4, n - 1)  # the test tells them apart
