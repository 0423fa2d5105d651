"""Bulyan (El Mhamdi, Guerraoui and Rouault, ICML 2018): by hand, against Flower's
``aggregate_bulyan``, under hostile children, and its checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datapredict.errors import InvalidDataError, InvalidOptionError
from datapredict.merge import MERGE_RULES, Average, Bulyan, distances, resolve_rule

# K = 7, f = 1: theta = K - 2f = 5 Krum picks, then beta = theta - 2f = 3 values per column.
POINTS = np.array(
    [[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [4.0, 5.0], [8.0, -2.0], [100.0, 0.0], [-60.0, 50.0]]
)
# Squared distances: d01 = 5, d02 = 10, d03 = 41, d04 = 68, d12 = 5, d13 = 18, d14 = 65,
# d23 = 17, d24 = 34, d34 = 65; rows 5 and 6 are over 6000 from every other row.
# Pick 1 (7 rows, 7 - 1 - 2 = 4 neighbours): s0 = 5+10+41+68 = 124, s1 = 5+5+18+65 = 93,
#   s2 = 5+10+17+34 = 66, s3 = 141, s4 = 232 -> row 2.
# Pick 2 (6 rows, 3 neighbours): s0 = 5+41+68 = 114, s1 = 5+18+65 = 88, s3 = 124 -> row 1.
# Pick 3 (5 rows, 2 neighbours): s0 = 41+68 = 109, s3 = 41+65 = 106, s4 = 133 -> row 3.
# Pick 4 (4 rows, max(1, 4 - 3) = 1): s0 = s4 = 68 (a tie: the lower index) -> row 0.
# Pick 5 (3 rows, max(1, 0) = 1): s4 = d46 = 7328 = s6, s5 = 8468 -> row 4 (the tie again).
# Selection rows 2, 1, 3, 0, 4. Column 0: 3, 1, 4, 0, 8, median 3, nearest 3: {3, 4, 1}
# -> 8/3. Column 1: 1, 2, 5, 0, -2, median 1, nearest 3: {1, 2, 0} -> 1.


def test_bulyan_by_hand():
    np.testing.assert_array_equal(Bulyan(1).selection(POINTS), [2, 1, 3, 0, 4])
    np.testing.assert_allclose(Bulyan(1)(POINTS), [8 / 3, 1.0], rtol=1e-15)


def test_flower_agrees_by_hand():
    np.testing.assert_allclose(flower_bulyan(POINTS, 1), [8 / 3, 1.0], rtol=1e-15)


def test_krum_selection_kernel_by_hand():
    # on past theta: rows 5 and 6 are left, each scoring d56 (a tie) -> 5, then 6
    dist = distances.sq_distances(distances.centred_gram(POINTS))
    np.testing.assert_array_equal(distances.krum_selection(dist, 1, 7), [2, 1, 3, 0, 4, 5, 6])


def test_no_malicious_children_is_the_mean():
    # f = 0: theta = beta = K, every row is kept
    stacked = np.random.default_rng(0).standard_normal((5, 9))
    np.testing.assert_allclose(Bulyan(0)(stacked), Average()(stacked), rtol=1e-14)


def test_row_order_matters_only_through_the_last_ties():
    # 1-D, K = 7, f = 1: the picks at 4 and 3 remaining rows score one neighbour, and the
    # closest pair ties; permuting the rows can change the pick, exactly as in Flower
    stacked = np.random.default_rng(0).standard_normal((7, 1))
    order = np.random.default_rng(0).permutation(7)
    ours, shuffled = Bulyan(1)(stacked), Bulyan(1)(stacked[order])
    assert ours != shuffled
    np.testing.assert_allclose(ours, flower_bulyan(stacked, 1), rtol=1e-15)
    np.testing.assert_allclose(shuffled, flower_bulyan(stacked[order], 1), rtol=1e-15)
    # the selected rows differ by one row, its nearest neighbour in the last pool
    first = set(stacked[Bulyan(1).selection(stacked), 0].tolist())
    second = set(stacked[order][Bulyan(1).selection(stacked[order]), 0].tolist())
    assert len(first ^ second) == 2
    # three rows, one neighbour each: rows 1 and 2 are the closest pair and tie -> row 1
    line = np.array([[0.0], [5.0], [6.0]])
    dist = distances.sq_distances(distances.centred_gram(line))
    assert distances.krum_selection(dist, 1, 1).tolist() == [1]
    assert distances.krum_selection(dist[::-1, ::-1], 1, 1).tolist() == [0]  # row 2 first


# ------------------------------------------------------------------- Flower's version
def to_flower(stacked: np.ndarray, counts) -> list:
    """Our (K, P) stack as Flower's ``[(layers, num_examples)]``: a (2, n) matrix and a rest."""
    n_cols = stacked.shape[1]
    head = 2 * (n_cols // 4)
    return [
        ([row[:head].reshape(2, -1).copy(), row[head:].copy()], int(count))
        for row, count in zip(stacked, counts, strict=True)
    ]


def flower_bulyan(stacked: np.ndarray, num_malicious: int, counts=None) -> np.ndarray:
    aggregate = pytest.importorskip("flwr.server.strategy.aggregate")
    counts = np.ones(len(stacked), dtype=int) if counts is None else counts
    layers = aggregate.aggregate_bulyan(
        to_flower(stacked, counts),  # a fresh list: Flower pops from it
        num_malicious=num_malicious,
        aggregation_rule=aggregate.aggregate_krum,
        to_keep=0,
    )
    return np.concatenate([np.ravel(layer) for layer in layers])


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    num_malicious=st.integers(0, 3),
    extra=st.integers(0, 6),
    n_cols=st.integers(1, 40),
)
def test_matches_flower(seed, num_malicious, extra, n_cols):
    rng = np.random.default_rng(seed)
    n_rows = 4 * num_malicious + 3 + extra
    stacked = rng.standard_normal((n_rows, n_cols)) * rng.uniform(0.1, 10.0, (n_rows, 1))
    counts = rng.integers(1, 100, n_rows)  # Flower ignores them; we take none
    expected = flower_bulyan(stacked, num_malicious, counts)
    np.testing.assert_allclose(Bulyan(num_malicious)(stacked), expected, rtol=1e-12, atol=1e-14)


def test_matches_flower_across_column_blocks():
    # more columns than one block of the trimmed mean
    rng = np.random.default_rng(1)
    stacked = rng.standard_normal((11, 3 * 2**16 + 17)) + rng.standard_normal((11, 1))
    np.testing.assert_allclose(Bulyan(2)(stacked), flower_bulyan(stacked, 2), rtol=1e-12)


# ---------------------------------------------------------------------- robustness
def hostile_rows(kind: str, n_rows: int, n_cols: int, dtype) -> np.ndarray:
    big = np.finfo(dtype).max
    signs = np.where(np.arange(n_cols) % 2 == 0, 1.0, -1.0)
    if kind == "max":
        return np.full((n_rows, n_cols), big, dtype)
    if kind == "-max":
        return np.full((n_rows, n_cols), -big, dtype)
    if kind == "mixed max":
        return np.tile(signs * big, (n_rows, 1)).astype(dtype)
    if kind == "spread":  # one huge row each, of alternating signs and sizes
        sizes = big / np.array([1.0, 2.0, 1e10, 4.0])[np.arange(n_rows) % 4]
        return (np.where(np.arange(n_rows) % 2 == 0, 1.0, -1.0) * sizes)[:, None] * np.ones(
            n_cols, dtype
        )
    raise AssertionError(kind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["max", "-max", "mixed max", "spread"])
@pytest.mark.parametrize("num_malicious", [1, 2, 3])
def test_f_hostile_children_cannot_move_it(dtype, kind, num_malicious):
    n_rows = 4 * num_malicious + 3
    rng = np.random.default_rng(num_malicious)
    honest = (5.0 + rng.standard_normal((n_rows - num_malicious, 300))).astype(dtype)
    hostile = hostile_rows(kind, num_malicious, 300, dtype).astype(dtype)
    stacked = np.vstack([honest, hostile])[rng.permutation(n_rows)]
    merged = Bulyan(num_malicious)(stacked)
    assert merged.dtype == dtype
    assert np.isfinite(merged).all()
    assert (merged >= honest.min(axis=0)).all() and (merged <= honest.max(axis=0)).all()
    median = np.median(honest.astype(np.float64), axis=0)
    # the honest values have standard deviation 1 per column: the result stays about a
    # third of it from their median on average (the spread of a mean of beta of them)
    assert np.abs(merged - median).mean() < 0.5
    # f >= 2 identical hostile rows are 0 apart: in the last picks, where Krum scores one
    # neighbour (its K > 2f + 2 no longer holds for the pool), they win and join the
    # selection; the trimmed mean around the median is what removes them
    hostile_positions = set(np.flatnonzero(np.abs(stacked).max(axis=1) > 1e3).tolist())
    picked = hostile_positions & set(Bulyan(num_malicious).selection(stacked).tolist())
    assert len(picked) <= num_malicious
    if kind == "spread" or num_malicious == 1:  # far from each other: never picked
        assert not picked


# -------------------------------------------------------------------------- checks
def test_needs_4f_plus_3_children():
    Bulyan(1).check_num_children(7)
    with pytest.raises(InvalidOptionError) as error:
        Bulyan(1).check_num_children(6, "DistributedGradients")
    assert str(error.value) == (
        "DistributedGradients: the merge rule Bulyan(num_malicious=1) needs K >= 4f + 3 = 7 "
        "children (f = num_malicious = 1); got K = 6"
    )
    with pytest.raises(InvalidOptionError, match=r"Bulyan\(num_malicious=2\) needs K >= 4f"):
        Bulyan(2)(np.ones((10, 3)))
    Bulyan(2)(np.ones((11, 3)))


@pytest.mark.parametrize("value", [-1, 1.0, "1", True, None])
def test_rejects_bad_num_malicious(value):
    with pytest.raises(InvalidOptionError, match="'num_malicious' option of Bulyan"):
        Bulyan(value)


def test_unweighted_like_krum():
    stacked = np.random.default_rng(2).standard_normal((7, 4))
    np.testing.assert_array_equal(Bulyan()(stacked, np.full(7, 3)), Bulyan()(stacked))
    with pytest.raises(InvalidDataError, match="Bulyan is unweighted"):
        Bulyan()(stacked, np.arange(1, 8))


def test_name_resolves():
    assert MERGE_RULES["bulyan"] is Bulyan
    assert resolve_rule("bulyan") == Bulyan(num_malicious=1)
    assert resolve_rule("Bulyan") == Bulyan()
    assert repr(Bulyan(2)) == "Bulyan(num_malicious=2)"
