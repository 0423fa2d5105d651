"""Merge rules: hand-computed cases, independent references, common properties, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from datapredict.errors import DataTypeError, InvalidDataError, InvalidOptionError, NonFiniteError
from datapredict.merge import (
    MERGE_RULES,
    Average,
    Bulyan,
    FedAvg,
    GeometricMedian,
    Krum,
    Median,
    MergeRule,
    MultiKrum,
    NormClip,
    TrimmedMean,
    check_weights,
    clipping,
    order_statistics,
    resolve_rule,
)

TIGHT_GM = GeometricMedian(max_iterations=10_000, tolerance=1e-15, nu=1e-12)

# Every registered rule (default options) plus configured variants; the properties below
# run over all of them, scikit-learn test_common style.
RULES = [cls() for cls in MERGE_RULES.values()] + [
    TrimmedMean(beta=0.3),
    Krum(num_malicious=2),
    MultiKrum(num_malicious=1, num_to_keep=2),
    NormClip(1.0),
    NormClip(1.0, rule=Median()),
    NormClip(1.0, rule=FedAvg()),
]
WEIGHTED = [rule for rule in RULES if rule.weighted]
UNWEIGHTED = [rule for rule in RULES if not rule.weighted]


def merge(rule, stacked, weights=None):
    """Call ``rule``, giving FedAvg-like rules unit weights when none are given."""
    if weights is None and rule.requires_weights:
        weights = np.ones(len(stacked))
    return rule(stacked, weights)


def random_stacked(seed, n_rows=7, n_cols=5, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((n_rows, n_cols)).astype(dtype)


seeds = st.integers(0, 2**32 - 1)
shapes = st.tuples(st.integers(7, 12), st.integers(1, 20))  # K >= 7 for Krum(2)


# ---------------------------------------------------------------- hand-computed cases
def test_average_by_hand():
    stacked = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0], [5.0, 6.0, 10.0]])
    # columns: (1+3+5)/3 = 3, (2+4+6)/3 = 4, (3+5+10)/3 = 6
    np.testing.assert_allclose(Average()(stacked), [3.0, 4.0, 6.0])
    # weights 1, 1, 2: (1+3+10)/4 = 3.5, (2+4+12)/4 = 4.5, (3+5+20)/4 = 7
    np.testing.assert_allclose(Average()(stacked, [1, 1, 2]), [3.5, 4.5, 7.0])


def test_fedavg_by_hand():
    stacked = np.array([[0.0, 4.0], [4.0, 0.0]])
    # counts 10 and 30: (0*10 + 4*30)/40 = 3, (4*10 + 0*30)/40 = 1
    np.testing.assert_allclose(FedAvg()(stacked, [10, 30]), [3.0, 1.0])


def test_median_by_hand():
    # odd K: sorted columns (1, 3, 5) and (-2, 4, 9)
    np.testing.assert_array_equal(Median()(np.array([[1.0, 9.0], [5.0, -2.0], [3.0, 4.0]])), [3, 4])
    # even K: sorted (1, 3, 7, 100): (3 + 7) / 2 = 5
    np.testing.assert_array_equal(Median()(np.array([[1.0], [7.0], [3.0], [100.0]])), [5.0])


def test_trimmed_mean_by_hand():
    five = np.array([[-50.0], [1.0], [2.0], [3.0], [1000.0]])
    # beta 0.2, K 5: cut floor(1.0) = 1 each end, mean(1, 2, 3) = 2
    np.testing.assert_allclose(TrimmedMean(0.2)(five), [2.0])
    # beta 0.19: cut floor(0.95) = 0, plain mean (-50 + 1 + 2 + 3 + 1000) / 5 = 191.2
    np.testing.assert_allclose(TrimmedMean(0.19)(five), [191.2])
    # beta 0.25, K 4: sorted (1, 3, 7, 100), cut 1, (3 + 7) / 2 = 5
    np.testing.assert_allclose(TrimmedMean(0.25)(np.array([[1.0], [7.0], [3.0], [100.0]])), [5])


KRUM_POINTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0], [-20.0, 5.0]])
# Squared distances: d01 = 1, d02 = 1, d12 = 2, d03 = 200, d13 = d23 = 181, d04 = 425,
# d14 = 466, d24 = 416, d34 = 925. f = 1, K = 5: K - f - 2 = 2 nearest neighbours.
# Scores: s0 = 1 + 1 = 2, s1 = 1 + 2 = 3, s2 = 1 + 2 = 3, s3 = 181 + 181 = 362,
# s4 = 416 + 425 = 841.


def test_krum_by_hand():
    np.testing.assert_allclose(Krum(1).scores(KRUM_POINTS), [2, 3, 3, 362, 841])
    np.testing.assert_array_equal(Krum(1)(KRUM_POINTS), [0.0, 0.0])


def test_multi_krum_by_hand():
    # keep 3: rows 0, 1, 2 -> (1/3, 1/3)
    np.testing.assert_allclose(MultiKrum(1, 3)(KRUM_POINTS), [1 / 3, 1 / 3])
    # default keep K - f = 4: rows 0..3 -> ((0+1+0+10)/4, (0+0+1+10)/4)
    np.testing.assert_allclose(MultiKrum(1)(KRUM_POINTS), [2.75, 2.75])
    # keep 2: rows 1 and 2 tie at 3; the lower index (1) wins -> ((0+1)/2, 0)
    np.testing.assert_allclose(MultiKrum(1, 2)(KRUM_POINTS), [0.5, 0.0])


def test_krum_ties_go_to_lowest_index():
    # f = 0, K = 3, one neighbour: points 0, 2, 4 all score 4 (exact tie)
    np.testing.assert_array_equal(Krum(0)(np.array([[0.0], [2.0], [4.0]])), [0.0])
    np.testing.assert_array_equal(Krum(0)(np.array([[4.0], [2.0], [0.0]])), [4.0])


def test_geometric_median_by_hand():
    # in one dimension the geometric median is the median
    np.testing.assert_allclose(TIGHT_GM(np.array([[0.0], [1.0], [10.0]])), [1.0], atol=1e-6)
    # weighted median: weight 5 > 1 + 1 pulls it onto the last point
    line = np.array([[0.0], [1.0], [10.0]])
    np.testing.assert_allclose(TIGHT_GM(line, [1, 1, 5]), [10.0], atol=1e-6)
    # corners of a square: the centre (the starting mean is already optimal)
    square = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    np.testing.assert_allclose(GeometricMedian()(square), [1.0, 1.0])
    # equilateral triangle: the Fermat point is the centroid (1, sqrt(3)/3)
    triangle = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, np.sqrt(3.0)]])
    np.testing.assert_allclose(TIGHT_GM(triangle), [1.0, np.sqrt(3.0) / 3.0], atol=1e-9)
    # K = 1 returns the row
    np.testing.assert_array_equal(GeometricMedian()(np.array([[3.0, -1.0]])), [3.0, -1.0])


def test_norm_clip_by_hand():
    stacked = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 1.0]])
    # norms 5, 0, 1; max_norm 1: row 0 scaled by 1/5 -> (0.6, 0.8); the zero row stays
    np.testing.assert_allclose(NormClip(1.0)(stacked), [0.2, 0.6])
    # weights 2, 1, 1: (2*(0.6, 0.8) + (0, 0) + (0, 1)) / 4 = (0.3, 0.65)
    np.testing.assert_allclose(NormClip(1.0)(stacked, [2, 1, 1]), [0.3, 0.65])
    # then a median: columns (0.6, 0, 0) -> 0 and (0.8, 0, 1) -> 0.8
    np.testing.assert_allclose(NormClip(1.0, rule=Median())(stacked), [0.0, 0.8])
    # nothing over the threshold: the rule itself
    np.testing.assert_array_equal(NormClip(10.0)(stacked), Average()(stacked))


# ------------------------------------------------------------- independent references
def slow_krum_scores(stacked, num_malicious):
    """Loop-based Krum scores in float64 (Blanchard et al. 2017)."""
    rows = stacked.astype(np.float64)
    n_rows = len(rows)
    scores = []
    for i in range(n_rows):
        dist = sorted(float(np.sum((rows[i] - rows[j]) ** 2)) for j in range(n_rows) if j != i)
        scores.append(sum(dist[: n_rows - num_malicious - 2]))
    return np.array(scores)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, shape=shapes, beta=st.floats(0.0, 0.49))
def test_trimmed_mean_matches_scipy(seed, shape, beta):
    stacked = random_stacked(seed, *shape)
    expected = scipy.stats.trim_mean(stacked, beta, axis=0)
    np.testing.assert_allclose(TrimmedMean(beta)(stacked), expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, shape=st.tuples(st.integers(1, 50), st.integers(1, 30)))
def test_median_matches_numpy(seed, shape):
    stacked = np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float64)  # ties
    np.testing.assert_array_equal(Median()(stacked), np.median(stacked, axis=0))


@settings(max_examples=40, deadline=None)
@given(seed=seeds, shape=shapes, num_malicious=st.integers(0, 4))
def test_krum_matches_slow_reference(seed, shape, num_malicious):
    stacked = random_stacked(seed, *shape)
    if len(stacked) < 2 * num_malicious + 3:
        num_malicious = (len(stacked) - 3) // 2
    expected = slow_krum_scores(stacked, num_malicious)
    np.testing.assert_allclose(Krum(num_malicious).scores(stacked), expected, rtol=1e-9)
    np.testing.assert_array_equal(Krum(num_malicious)(stacked), stacked[np.argmin(expected)])
    keep = np.argsort(expected, kind="stable")[:3]
    # a mean of values of size ~1 may cancel to ~1e-6: rounding is relative to the inputs
    np.testing.assert_allclose(
        MultiKrum(num_malicious, 3)(stacked),
        stacked[keep].mean(axis=0),
        rtol=1e-12,
        atol=1e-15 * np.abs(stacked).max(),
    )


@settings(max_examples=30, deadline=None)
@given(seed=seeds, shape=st.tuples(st.integers(3, 8), st.integers(2, 4)), weighted=st.booleans())
def test_geometric_median_matches_scipy_minimize(seed, shape, weighted):
    rng = np.random.default_rng(seed)
    stacked = rng.standard_normal(shape)
    weights = rng.integers(1, 5, shape[0]) if weighted else np.ones(shape[0])

    def objective(z):
        return weights @ np.linalg.norm(stacked - z, axis=1)

    found = TIGHT_GM(stacked, weights)
    reference = scipy.optimize.minimize(
        objective,
        stacked.mean(axis=0),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000},
    )
    assert objective(found) <= reference.fun * (1 + 1e-7) + 1e-12
    # the defaults (100 iterations) may stop short when the optimum sits on a child
    # (Weiszfeld converges slowly there), but never do worse than the starting mean
    default = GeometricMedian()(stacked, weights)
    assert objective(default) <= objective(np.average(stacked, axis=0, weights=weights)) + 1e-12


@pytest.mark.parametrize("n", range(1, 17))
def test_sorting_network_sorts_every_binary_input(n):
    # the 0-1 principle: a comparator network that sorts all 0/1 inputs sorts everything
    inputs = np.array(list(itertools.product((0.0, 1.0), repeat=n))).T
    if n > 12:
        inputs = inputs[:, np.random.default_rng(n).choice(inputs.shape[1], 4096)]
    result = order_statistics.order_statistic_mean(inputs, 0, 1, method="network")
    np.testing.assert_array_equal(result, inputs.min(axis=0))
    rows = [inputs[i].copy() for i in range(n)]
    for i, j in order_statistics.sorting_network(n):
        rows[i], rows[j] = np.minimum(rows[i], rows[j]), np.maximum(rows[i], rows[j])
    np.testing.assert_array_equal(np.array(rows), np.sort(inputs, axis=0))


@settings(max_examples=60, deadline=None)
@given(seed=seeds, n_rows=st.integers(1, 45), n_cols=st.integers(0, 40), data=st.data())
def test_network_and_sort_agree(seed, n_rows, n_cols, data):
    stacked = np.random.default_rng(seed).integers(-5, 6, (n_rows, n_cols)).astype(np.float32)
    lo = data.draw(st.integers(0, n_rows - 1))
    hi = data.draw(st.integers(lo + 1, n_rows))
    network = order_statistics.order_statistic_mean(stacked, lo, hi, method="network")
    reference = order_statistics.order_statistic_mean(stacked, lo, hi, method="sort")
    assert network.dtype == np.float32
    np.testing.assert_allclose(network, reference, rtol=1e-6)


def test_blocks_cover_every_column():
    stacked = random_stacked(0, 16, 3 * order_statistics.block_columns(16, 8) + 17)
    np.testing.assert_array_equal(Median()(stacked), np.median(stacked, axis=0))
    np.testing.assert_allclose(clipping.row_norms(stacked)[0], np.sqrt((stacked**2).sum(axis=1)))
    np.testing.assert_allclose(Krum(2).scores(stacked), slow_krum_scores(stacked, 2))


# ------------------------------------------------------------------ common properties
@pytest.mark.parametrize("rule", RULES, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_finite_and_input_untouched(rule, dtype):
    stacked = random_stacked(1, 7, 13, dtype)
    weights = np.arange(1, 8) if rule.weighted else None
    before, before_w = stacked.copy(), None if weights is None else weights.copy()
    merged = merge(rule, stacked, weights)
    assert merged.shape == (13,)
    assert merged.dtype == dtype
    assert np.isfinite(merged).all()
    assert not np.shares_memory(merged, stacked)
    np.testing.assert_array_equal(stacked, before)
    if weights is not None:
        np.testing.assert_array_equal(weights, before_w)


# Bulyan's last Krum picks score one neighbour, so the closest pair ties exactly and the
# lower index wins, as in Flower: row order matters there (tests/merge/test_bulyan.py)
@pytest.mark.parametrize("rule", [r for r in RULES if not isinstance(r, Bulyan)], ids=repr)
@settings(max_examples=20, deadline=None)
@given(seed=seeds, shape=shapes)
def test_row_order_does_not_matter(rule, seed, shape):
    stacked = random_stacked(seed, *shape)
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 10, shape[0]) if rule.weighted else None
    order = rng.permutation(shape[0])
    expected = merge(rule, stacked, weights)
    shuffled = merge(rule, stacked[order], None if weights is None else weights[order])
    np.testing.assert_allclose(shuffled, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_uniform_weights_equal_no_weights(rule):
    stacked = random_stacked(2)
    expected = rule(stacked, np.ones(7)) if rule.requires_weights else rule(stacked)
    for weights in (np.ones(7), np.full(7, 0.1), [3] * 7):
        np.testing.assert_array_equal(rule(stacked, weights), expected)


@pytest.mark.parametrize("rule", [Average(), FedAvg(), TIGHT_GM, NormClip(1.5)], ids=repr)
@settings(max_examples=25, deadline=None)
@given(seed=seeds, shape=shapes)
def test_integer_weights_equal_repeated_rows(rule, seed, shape):
    stacked = random_stacked(seed, *shape)
    counts = np.random.default_rng(seed).integers(0, 4, shape[0])
    counts[0] += 1  # a positive total
    repeated = np.repeat(stacked, counts, axis=0)
    expected = merge(rule, repeated)
    got = rule(stacked, counts)
    if isinstance(rule, GeometricMedian):
        # Found iteratively, and Weiszfeld's steps crawl when the median sits on a data
        # row (a heavy one here): compare what it minimises, the sum of distances, which
        # is flat at the minimum (points 1e-6 apart differ there by ~1e-12).
        def objective(point):
            return np.linalg.norm(repeated - point, axis=1).sum()

        assert objective(got) == pytest.approx(objective(expected), rel=1e-9, abs=1e-9)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("rule", [r for r in RULES if not isinstance(r, NormClip)], ids=repr)
@settings(max_examples=20, deadline=None)
@given(seed=seeds, shape=shapes)
def test_translation_equivariance(rule, seed, shape):
    stacked = random_stacked(seed, *shape)
    shift = 10.0 * np.random.default_rng(seed + 1).standard_normal(shape[1])
    np.testing.assert_allclose(
        merge(rule, stacked + shift), merge(rule, stacked) + shift, rtol=1e-7, atol=1e-7
    )


@pytest.mark.parametrize("num_malicious", [0, 2, 3])
def test_float32_krum_with_near_identical_children(num_malicious):
    # the realistic case that breaks the plain Gram trick in float32: c + 1e-3 * noise
    rng = np.random.default_rng(num_malicious)
    centre = rng.standard_normal(100_000)
    stacked = (centre + 1e-3 * rng.standard_normal((10, 100_000))).astype(np.float32)
    expected = int(np.argmin(slow_krum_scores(stacked, num_malicious)))
    np.testing.assert_array_equal(Krum(num_malicious)(stacked), stacked[expected])
    np.testing.assert_allclose(
        Krum(num_malicious).scores(stacked), slow_krum_scores(stacked, num_malicious), rtol=1e-4
    )


def test_float32_geometric_median_with_near_identical_children():
    rng = np.random.default_rng(5)
    stacked = (rng.standard_normal(50_000) + 1e-3 * rng.standard_normal((9, 50_000))).astype(
        np.float32
    )
    found = GeometricMedian()(stacked).astype(np.float64)
    reference = GeometricMedian()(stacked.astype(np.float64))
    # both within a tiny fraction of the children's spread (about 1e-3 per coordinate)
    assert np.abs(found - reference).max() < 1e-5


def test_custom_callable_and_names():
    assert set(MERGE_RULES) == {
        "average",
        "fedavg",
        "median",
        "trimmed_mean",
        "krum",
        "multi_krum",
        "bulyan",
        "geometric_median",
    }
    for name, cls in MERGE_RULES.items():
        assert cls.name == name
        assert resolve_rule(name.upper()) == cls()
    assert resolve_rule("trimmed_mean") == TrimmedMean(beta=0.1)
    assert resolve_rule("multi_krum") == MultiKrum(num_malicious=1, num_to_keep=None)

    def custom(stacked, weights=None):
        return stacked[0].copy()

    assert resolve_rule(custom) is custom
    rule = TrimmedMean(0.2)
    assert resolve_rule(rule) is rule
    assert NormClip(2.0, rule=custom).rule is custom
    np.testing.assert_allclose(NormClip(1.0, rule=custom)(np.array([[3.0, 4.0]])), [0.6, 0.8])


def test_reprs():
    assert repr(Average()) == "Average()"
    assert repr(TrimmedMean(0.2)) == "TrimmedMean(beta=0.2)"
    assert repr(MultiKrum(2, 5)) == "MultiKrum(num_malicious=2, num_to_keep=5)"
    assert repr(NormClip(1, rule="median")) == "NormClip(max_norm=1.0, rule=Median())"
    assert (
        repr(GeometricMedian()) == "GeometricMedian(max_iterations=100, tolerance=1e-06, nu=1e-06)"
    )
    assert isinstance(Krum(), MergeRule)
    assert Krum(1) != MultiKrum(1) and Krum(1) == Krum(1)


# ---------------------------------------------------------------------- bad options
@pytest.mark.parametrize("beta", [0.6, 0.5, -0.1, "0.2", True, float("nan")])
def test_trimmed_mean_rejects_bad_beta(beta):
    with pytest.raises(
        InvalidOptionError,
        match=r"The 'beta' option of TrimmedMean must be a float in \[0, 0.5\)\. Got",
    ):
        TrimmedMean(beta)


def test_trimmed_mean_message_template():
    with pytest.raises(InvalidOptionError) as error:
        TrimmedMean(0.6)
    assert str(error.value) == (
        "The 'beta' option of TrimmedMean must be a float in [0, 0.5). Got 0.6 instead."
    )


@pytest.mark.parametrize("rule", [Krum(3), MultiKrum(3)], ids=repr)
def test_krum_needs_enough_children(rule):
    with pytest.raises(
        InvalidOptionError,
        match=r"needs K > 2f \+ 2 = 8 children \(f = num_malicious = 3\); got K = 8",
    ):
        rule(random_stacked(0, 8, 4))
    rule(random_stacked(0, 9, 4))  # 9 = 2*3 + 3 is enough


def test_bad_krum_options():
    with pytest.raises(InvalidOptionError, match="'num_malicious' option of Krum"):
        Krum(-1)
    with pytest.raises(InvalidOptionError, match="'num_to_keep' option of MultiKrum"):
        MultiKrum(1, 0)
    with pytest.raises(
        InvalidOptionError, match=r"needs K >= num_to_keep \+ f = 7 children.*K = 5"
    ):
        MultiKrum(1, 6)(random_stacked(0, 5, 2))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: GeometricMedian(nu=0.0), "'nu' option of GeometricMedian"),
        (lambda: GeometricMedian(max_iterations=0), "'max_iterations' option of GeometricMedian"),
        (lambda: GeometricMedian(tolerance=-1.0), "'tolerance' option of GeometricMedian"),
        (lambda: NormClip(0.0), "'max_norm' option of NormClip"),
        (lambda: NormClip(1.0, rule="nope"), "'merge_type' option of NormClip"),
    ],
)
def test_bad_options(make, fragment):
    with pytest.raises(InvalidOptionError, match=fragment):
        make()


@pytest.mark.parametrize("rule", RULES, ids=repr)
@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ([1.0, -1.0, 1.0, 1.0, 1.0], "finite and non-negative; got"),
        ([1.0, np.nan, 1.0, 1.0, 1.0], "finite and non-negative"),
        ([0.0] * 5, "sum to a positive number"),
        (
            [1.0, 2.0, 3.0],
            r"weights must have shape \(5,\), one per row of stacked; got shape \(3,\)",
        ),
        ([[1.0]] * 5, r"got shape \(5, 1\)"),
    ],
)
def test_bad_weights(rule, weights, fragment):
    with pytest.raises(InvalidDataError, match=fragment):
        rule(random_stacked(0, 5, 3), weights)


def test_non_numeric_weights():
    with pytest.raises(DataTypeError, match="weights must be numbers"):
        check_weights(["a", "b"], 2)


@pytest.mark.parametrize("rule", UNWEIGHTED, ids=repr)
def test_unweighted_rules_reject_non_uniform_weights(rule):
    with pytest.raises(
        InvalidDataError, match=f"{type(getattr(rule, 'rule', rule)).__name__} is unweighted by"
    ):
        rule(random_stacked(0, 7, 3), [1, 2, 1, 1, 1, 1, 1])
    with pytest.raises(InvalidDataError, match="unweighted by definition"):
        NormClip(0.1, rule=rule)(random_stacked(0, 7, 3), [1, 2, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("rule", [FedAvg(), NormClip(0.1, rule=FedAvg())], ids=repr)
def test_fedavg_requires_weights(rule):
    with pytest.raises(InvalidDataError, match="FedAvg needs weights"):
        rule(random_stacked(0, 3, 2))


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_bad_stacked(rule):
    with pytest.raises(InvalidDataError, match=r"shape \(K, P\).*got shape \(4,\)"):
        rule(np.ones(4))
    with pytest.raises(InvalidDataError, match=r"got shape \(0, 4\)"):
        rule(np.ones((0, 4)))
    with pytest.raises(DataTypeError, match="float32 or float64; got dtype int64"):
        rule(np.ones((5, 4), dtype=np.int64))


def test_norm_clip_rejects_non_finite_rows():
    stacked = np.ones((3, 2))
    stacked[1, 0] = np.inf
    with pytest.raises(NonFiniteError, match=r"rows \[1\]"):
        NormClip(1.0)(stacked)


def test_resolve_rule_lists_the_names():
    with pytest.raises(
        InvalidOptionError, match=r"'average', 'fedavg', 'median'.*Got 'mean' instead"
    ):
        resolve_rule("mean")
    with pytest.raises(InvalidOptionError, match="Got <class"):
        resolve_rule(Median)
    with pytest.raises(InvalidOptionError, match="'merge_type' option of ModelParametersMerger"):
        resolve_rule(3, owner="ModelParametersMerger")
