"""ModelParametersMerger: the seed's merge types and the newer merge rules."""

from __future__ import annotations

import numpy as np
import pytest

from datapredict import errors
from datapredict.coordinators import ModelParametersMerger
from datapredict.merge.rules import Median, TrimmedMean
from datapredict.models import LinearRegression, LogisticRegression
from datapredict.parameters import Layout

# Regression scoring data: y = x, intercept row first in the parameters.
X_REG = np.array([[1.0], [2.0]])
Y_REG = np.array([1.0, 2.0])
P_EXACT = np.array([[0.0], [1.0]])  # predicts [1, 2]: e = 0
P_SHIFTED = np.array([[1.0], [1.0]])  # predicts [2, 3]: e = 2
P_ZERO = np.array([[0.0], [0.0]])  # predicts [0, 0]: e = 3

# Classification scoring data: label 1 when x > 0.
X_CLS = np.array([[-1.0], [1.0], [2.0], [3.0]])
Y_CLS = np.array([0, 1, 1, 1])
C_RIGHT = np.array([[0.0], [1.0]])  # accuracy 1
C_ALL_ZERO = np.array([[-10.0], [0.0]])  # predicts 0 everywhere: accuracy 0.25
C_WRONG = np.array([[0.0], [-1.0]])  # accuracy 0


def regression_merger(merge_type="weighted_average", **options):
    model = LinearRegression()
    model.set_model_parameters(np.array([[5.0], [5.0]]))
    merger = ModelParametersMerger(model=model, merge_type=merge_type, **options)
    merger.set_data(X_REG, Y_REG)
    return merger, model


def classification_merger(merge_type="weighted_average"):
    model = LogisticRegression()
    model.set_model_parameters(np.array([[3.0], [-3.0]]))
    merger = ModelParametersMerger(model=model, model_type="classification", merge_type=merge_type)
    merger.set_data(X_CLS, Y_CLS)
    return merger, model


# ------------------------------------------------------------------------ structure


def test_merge_returns_the_structure_of_the_first_argument():
    merger = ModelParametersMerger()
    a = np.arange(6.0).reshape(3, 2)
    out = merger.merge(a, a + 2.0)
    assert isinstance(out, np.ndarray) and out.shape == (3, 2)
    np.testing.assert_array_equal(out, a + 1.0)
    assert not np.shares_memory(out, a)

    layers = [np.zeros((2, 3)), np.ones(4)]
    out = merger.merge(layers, [np.full((2, 3), 4.0), np.full(4, 3.0)])
    assert type(out) is list and [x.shape for x in out] == [(2, 3), (4,)]
    np.testing.assert_array_equal(out[0], np.full((2, 3), 2.0))
    np.testing.assert_array_equal(out[1], np.full(4, 2.0))

    out = merger.merge(
        {"w": np.zeros(2), "b": np.ones(1)}, {"b": np.full(1, 3.0), "w": np.full(2, 2.0)}
    )
    assert type(out) is dict and list(out) == ["w", "b"]
    np.testing.assert_array_equal(out["w"], [1.0, 1.0])
    np.testing.assert_array_equal(out["b"], [2.0])


def test_merged_layers_share_no_memory_with_each_other_or_the_inputs():
    merger = ModelParametersMerger()
    layers = [np.ones(3), np.ones(2)]
    out = merger.merge(layers, layers)
    out[0] += 1.0
    np.testing.assert_array_equal(out[1], [1.0, 1.0])
    np.testing.assert_array_equal(layers[0], [1.0, 1.0, 1.0])


def test_float32_candidates_stay_float32():
    merger = ModelParametersMerger()
    out = merger.merge(np.zeros(3, dtype=np.float32), np.ones(3, dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full(3, 0.5, dtype=np.float32))


# --------------------------------------------------------------------- merge types


def test_average_hand_computed():
    merger = ModelParametersMerger()  # merge_type="average" by default
    out = merger.merge(np.array([1.0, 2.0]), np.array([3.0, 2.0]), np.array([8.0, -1.0]))
    np.testing.assert_array_equal(out, [4.0, 1.0])
    assert merger.merge_type == "average"


def test_average_of_one_candidate_is_that_candidate():
    out = ModelParametersMerger().merge(np.array([1.5, -2.0]))
    np.testing.assert_array_equal(out, [1.5, -2.0])


def test_regression_weighted_average_hand_computed():
    # e = [0, 2, 3], s_i = 1 - e_i / 5 = [1, 0.6, 0.4], weights = s / 2 = [0.5, 0.3, 0.2]
    merger, _ = regression_merger()
    out = merger.merge(P_EXACT, P_SHIFTED, P_ZERO)
    np.testing.assert_allclose(out, [[0.3], [0.8]], rtol=0, atol=1e-15)


def test_regression_scores_follow_the_reference_formula():
    merger, _ = regression_merger()
    stacked = np.stack([P_EXACT.ravel(), P_SHIFTED.ravel(), P_ZERO.ravel()])
    scores = merger.score_candidates(stacked, Layout.from_template(P_EXACT))
    np.testing.assert_allclose(scores, [1.0, 0.6, 0.4], rtol=0, atol=1e-15)


@pytest.mark.parametrize("candidate", [P_EXACT, P_SHIFTED, P_ZERO])
def test_regression_weighted_average_of_one_model_returns_it(candidate):
    merger, _ = regression_merger()
    np.testing.assert_array_equal(merger.merge(candidate), candidate)


def test_classification_weighted_average_uses_accuracy():
    # accuracies [1, 0.25, 0] -> weights [0.8, 0.2, 0]
    merger, _ = classification_merger()
    out = merger.merge(C_RIGHT, C_ALL_ZERO, C_WRONG)
    np.testing.assert_allclose(out, [[-2.0], [0.8]], rtol=0, atol=1e-15)


def test_all_zero_scores_fall_back_to_the_plain_average():
    merger, _ = classification_merger()
    out = merger.merge(C_WRONG, C_WRONG * 2.0)
    np.testing.assert_allclose(out, C_WRONG * 1.5, rtol=0, atol=1e-15)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_best_picks_the_best_candidate_every_time(position):
    merger, _ = regression_merger("best")
    candidates = [P_SHIFTED, P_ZERO]
    candidates.insert(position, P_EXACT)
    for _ in range(20):
        np.testing.assert_array_equal(merger.merge(*candidates), P_EXACT)


def test_best_for_classification_is_the_most_accurate():
    merger, _ = classification_merger("best")
    for _ in range(10):
        np.testing.assert_array_equal(merger.merge(C_WRONG, C_ALL_ZERO, C_RIGHT), C_RIGHT)


def test_best_ties_go_to_the_first_candidate():
    merger, _ = regression_merger("best")
    twin = P_EXACT.copy()
    twin_merged = merger.merge(P_ZERO, P_EXACT, twin)
    np.testing.assert_array_equal(twin_merged, P_EXACT)


@pytest.mark.parametrize("merge_type", ["weighted_average", "best"])
@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_scoring_never_changes_the_users_model(merge_type, kind):
    if kind == "regression":
        merger, model = regression_merger(merge_type)
        candidates = (P_EXACT, P_SHIFTED, P_ZERO)
        X = X_REG
    else:
        merger, model = classification_merger(merge_type)
        candidates = (C_RIGHT, C_ALL_ZERO, C_WRONG)
        X = X_CLS
    before = model.get_model_parameters()
    predictions = model.predict(X)
    merger.merge(*candidates)
    np.testing.assert_array_equal(model.get_model_parameters(), before)
    np.testing.assert_array_equal(model.predict(X), predictions)


def test_custom_weights_are_normalised():
    merger = ModelParametersMerger(merge_type="custom")
    merger.set_custom_split_percentage_array([3, 1])
    np.testing.assert_array_equal(
        merger.merge(np.array([0.0, 4.0]), np.array([4.0, 0.0])), [1.0, 3.0]
    )
    merger.set_custom_split_percentage_array([0.6, 0.2])  # same ratio, not summing to 1
    np.testing.assert_allclose(
        merger.merge(np.array([0.0, 4.0]), np.array([4.0, 0.0])), [1.0, 3.0], rtol=0, atol=1e-15
    )


def test_custom_needs_one_weight_per_candidate():
    merger = ModelParametersMerger(merge_type="custom")
    with pytest.raises(errors.NotInitializedError):
        merger.merge(np.zeros(1), np.ones(1))
    merger.set_custom_split_percentage_array([1, 1, 1])
    with pytest.raises(errors.InvalidDataError) as info:
        merger.merge(np.zeros(1), np.ones(1))
    assert "3" in str(info.value) and "2" in str(info.value)


@pytest.mark.parametrize("weights", [[1, -1], [0, 0], [1, float("nan")], [], [[1, 2]]])
def test_bad_custom_weights_are_rejected(weights):
    merger = ModelParametersMerger(merge_type="custom")
    with pytest.raises(ValueError) as info:
        merger.set_custom_split_percentage_array(weights)
    assert isinstance(info.value, errors.DataPredictError)


# ----------------------------------------------------------------- regression mean


def _shards_and_exact_fits(intercept: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    features = [rng.standard_normal((n, 3)) for n in (20, 35, 50)]
    w = rng.standard_normal((4 if intercept else 3, 2))
    design = [np.c_[np.ones(len(X)), X] if intercept else X for X in features]
    targets = [D @ w + 0.3 * rng.standard_normal((len(D), 2)) for D in design]
    fits = [np.linalg.lstsq(D, y, rcond=None)[0] for D, y in zip(design, targets, strict=True)]
    union = np.linalg.lstsq(np.vstack(design), np.vstack(targets), rcond=None)[0]
    return features, fits, union


@pytest.mark.parametrize("intercept", [True, False], ids=["intercept", "no-intercept"])
def test_regression_mean_reproduces_least_squares_on_the_union(intercept):
    features, fits, union = _shards_and_exact_fits(intercept)
    merger = ModelParametersMerger(merge_type="regression_mean")
    merger.set_feature_matrix_array(features)
    out = merger.merge(*fits)
    assert out.shape == union.shape
    np.testing.assert_allclose(out, union, rtol=0, atol=1e-8)


def test_regression_mean_differs_from_the_plain_average_for_unequal_shards():
    _, fits, union = _shards_and_exact_fits(True, seed=3)
    average = ModelParametersMerger().merge(*fits)
    assert np.abs(average - union).max() > 1e-6


def test_regression_mean_with_linear_regression_children():
    rng = np.random.default_rng(5)
    features = [rng.standard_normal((n, 2)) for n in (30, 60)]
    targets = [X @ [1.5, -2.0] + 0.7 + 0.1 * rng.standard_normal(len(X)) for X in features]
    fits = []
    for X, y in zip(features, targets, strict=True):
        design = np.c_[np.ones(len(X)), X]
        exact = np.linalg.lstsq(design, y, rcond=None)[0].reshape(-1, 1)
        child = LinearRegression()
        child.set_model_parameters(exact)
        fits.append(child.get_model_parameters())
    merger = ModelParametersMerger(merge_type="regression_mean")
    merger.set_feature_matrix_array(features)
    union = np.linalg.lstsq(
        np.c_[np.ones(90), np.vstack(features)], np.concatenate(targets), rcond=None
    )[0]
    np.testing.assert_allclose(merger.merge(*fits).ravel(), union, rtol=0, atol=1e-8)


def _regression_job(merger_of_shards, diverging=None, **options):
    """train_distributed on 10 well-conditioned children of 20 rows; each child's
    500 full-batch steps reach its own least squares (to ~1e-12), but child
    ``diverging``, whose features are 10x larger (curvature ~100: the step 0.3 is
    far above 2 / 100)."""
    import datapredict as dp

    rng = np.random.default_rng(11)
    shards = []
    for child in range(10):
        X = rng.standard_normal((20, 3)) * (10.0 if child == diverging else 1.0)
        shards.append((X, X @ [1.0, -2.0, 0.5] + 0.3 + 0.5 * rng.standard_normal(20)))
    result = dp.train_distributed(
        lambda: LinearRegression(learning_rate=0.3),
        shards,
        strategy="model_parameters",
        merger=merger_of_shards(shards),
        local_iterations=500,
        random_state=0,
        progress=False,
        **options,
    )
    return shards, result


def _regression_mean_of(shards):
    merger = ModelParametersMerger(merge_type="regression_mean")
    merger.set_feature_matrix_array([X for X, _ in shards])
    return merger


def test_regression_mean_merges_the_children_a_round_sampled():
    """4 of 10 children a round: each candidate is merged with its own child's feature
    matrix (by child index), so the round's result is the least squares on the union
    of the sampled children's rows (it used to refuse: 10 matrices, 4 candidates)."""
    shards, result = _regression_job(_regression_mean_of, rounds=1, children_per_round=4)
    sampled = result.history[0].children
    assert len(sampled) == 4 and sampled != [0, 1, 2, 3]
    X = np.vstack([shards[c][0] for c in sampled])
    y = np.concatenate([shards[c][1] for c in sampled])
    union = np.linalg.lstsq(np.c_[np.ones(len(X)), X], y, rcond=None)[0]
    np.testing.assert_allclose(result.main_parameters.ravel(), union, rtol=0, atol=1e-8)


def test_regression_mean_merges_the_children_left_after_one_fails():
    """Child 3 diverges, fails and leaves the job; the round merges the other nine with
    their own feature matrices (it used to refuse: 10 matrices, 9 candidates)."""
    shards, result = _regression_job(_regression_mean_of, diverging=3, rounds=1)
    assert result.history[0].failures and "child 3" in result.history[0].failures[0]
    X = np.vstack([shards[c][0] for c in range(10) if c != 3])
    y = np.concatenate([shards[c][1] for c in range(10) if c != 3])
    union = np.linalg.lstsq(np.c_[np.ones(len(X)), X], y, rcond=None)[0]
    np.testing.assert_allclose(result.main_parameters.ravel(), union, rtol=0, atol=1e-8)


def test_custom_weights_follow_the_children_a_round_sampled():
    """ "custom" weights each candidate by its child's index: child c weighs c + 1. The
    children fit their own least squares exactly, so the last round's merge is the
    weighted mean of the sampled children's fits."""

    def custom(shards):
        merger = ModelParametersMerger(merge_type="custom")
        merger.set_custom_split_percentage_array(np.arange(1.0, 11.0))
        return merger

    shards, result = _regression_job(custom, rounds=2, children_per_round=5)
    sampled = result.history[-1].children
    fits = [np.linalg.lstsq(np.c_[np.ones(20), shards[c][0]], shards[c][1])[0] for c in sampled]
    expected = np.average(fits, axis=0, weights=np.add(sampled, 1.0))
    np.testing.assert_allclose(result.main_parameters.ravel(), expected, rtol=0, atol=1e-8)


def test_regression_mean_input_checks():
    merger = ModelParametersMerger(merge_type="regression_mean")
    with pytest.raises(errors.NotInitializedError):
        merger.merge(np.zeros((4, 1)), np.zeros((4, 1)))
    merger.set_feature_matrix_array([np.ones((5, 3))])
    with pytest.raises(errors.InvalidDataError) as info:  # one matrix, two candidates
        merger.merge(np.zeros((4, 1)), np.zeros((4, 1)))
    assert "1" in str(info.value) and "2" in str(info.value)
    merger.set_feature_matrix_array([np.ones((5, 3)), np.ones((5, 3))])
    with pytest.raises(errors.ParameterStructureError) as info:  # 6 rows for 3 features
        merger.merge(np.zeros((6, 1)), np.zeros((6, 1)))
    assert "6" in str(info.value) and "3" in str(info.value)
    with pytest.raises(errors.ParameterStructureError):
        merger.merge([np.zeros((4, 1))], [np.zeros((4, 1))])


# ------------------------------------------------------------------------ rounding


@pytest.mark.parametrize(
    ("mode", "expected"), [(None, [0.7, -0.3]), ("floor", [0.0, -1.0]), ("ceil", [1.0, 0.0])]
)
def test_rounding_mode(mode, expected):
    merger = ModelParametersMerger(rounding_mode=mode)
    out = merger.merge(np.array([0.4, -0.2]), np.array([1.0, -0.4]))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)


def test_rounding_applies_after_any_merge_type():
    merger = ModelParametersMerger(merge_type="median", rounding_mode="floor")
    out = merger.merge(np.array([0.5]), np.array([1.7]), np.array([9.9]))
    np.testing.assert_array_equal(out, [1.0])


# -------------------------------------------------------------- rules and weights


def test_rule_objects_and_names_are_accepted():
    candidates = [np.array([v]) for v in (1.0, 2.0, 3.0, 100.0, -100.0)]
    trimmed = ModelParametersMerger(merge_type=TrimmedMean(beta=0.2)).merge(*candidates)
    np.testing.assert_array_equal(trimmed, [2.0])
    median = ModelParametersMerger(merge_type="median").merge(*candidates)
    np.testing.assert_array_equal(median, [2.0])
    median = ModelParametersMerger(merge_type=Median()).merge(*candidates)
    np.testing.assert_array_equal(median, [2.0])
    merger = ModelParametersMerger(merge_type="Median")  # names are case-insensitive
    assert merger.merge_type == "median"


def test_a_plain_callable_is_a_merge_rule():
    merger = ModelParametersMerger(merge_type=lambda stacked, weights=None: stacked.max(axis=0))
    np.testing.assert_array_equal(
        merger.merge(np.array([1.0, 5.0]), np.array([3.0, 2.0])), [3.0, 5.0]
    )


def test_fedavg_weights_by_the_given_sample_counts():
    merger = ModelParametersMerger(merge_type="fedavg")
    assert merger.uses_sample_counts
    out = merger.merge(np.array([0.0, 4.0]), np.array([4.0, 0.0]), weights=[1, 3])
    np.testing.assert_array_equal(out, [3.0, 1.0])
    with pytest.raises(ValueError):
        merger.merge(np.zeros(1), np.ones(1))  # fedavg needs the counts


def test_average_with_weights_is_a_weighted_mean():
    merger = ModelParametersMerger()
    assert not merger.uses_sample_counts
    out = merger.merge(np.array([0.0]), np.array([4.0]), weights=[3, 1])
    np.testing.assert_array_equal(out, [1.0])


@pytest.mark.parametrize("weights", [[1], [1, -1], [0, 0], [1, float("inf")]])
def test_bad_weights_are_rejected(weights):
    merger = ModelParametersMerger(merge_type="fedavg")
    with pytest.raises(ValueError) as info:
        merger.merge(np.zeros(1), np.ones(1), weights=weights)
    assert isinstance(info.value, errors.DataPredictError)


def test_set_parameters_changes_options_and_none_keeps_them():
    merger = ModelParametersMerger()
    merger.set_parameters(merge_type="median")
    assert merger.merge_type == "median"
    merger.set_parameters(rounding_mode="ceil")
    assert merger.merge_type == "median"
    np.testing.assert_array_equal(
        merger.merge(np.array([0.2]), np.array([0.4]), np.array([5.0])), [1.0]
    )
    with pytest.raises(errors.InvalidOptionError):
        merger.set_parameters(merge_type="mode", rounding_mode="floor")
    assert merger.merge_type == "median"  # nothing changed by the failed call
    np.testing.assert_array_equal(
        merger.merge(np.array([0.2]), np.array([0.4]), np.array([5.0])), [1.0]
    )


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        ({"merge_type": "mode"}, ("merge_type", "mode", "'average'")),
        ({"merge_type": 3}, ("merge_type", "3")),
        ({"merge_type": TrimmedMean}, ("merge_type", "TrimmedMean")),
        ({"model_type": "clustering"}, ("model_type", "clustering", "'regression'")),
        ({"rounding_mode": "round"}, ("rounding_mode", "round", "'floor'")),
    ],
)
def test_bad_options_raise_invalid_option_error(options, needles):
    with pytest.raises(errors.InvalidOptionError) as info:
        ModelParametersMerger(**options)
    assert isinstance(info.value, ValueError)
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} not in {info.value}"


def test_merge_without_candidates_raises():
    with pytest.raises(errors.InvalidDataError) as info:
        ModelParametersMerger().merge()
    assert isinstance(info.value, ValueError)
    assert "none" in str(info.value)


@pytest.mark.parametrize(
    ("second", "error", "builtin", "needles"),
    [
        (np.zeros(3), errors.ParameterStructureError, ValueError, ("(3,)", "(2,)", "params[1]")),
        ([np.zeros(2)], errors.ParameterStructureError, ValueError, ("params[1]", "list")),
        (np.zeros(2, dtype=int), errors.DataTypeError, TypeError, ("params[1]", "int")),
        (np.zeros(2, dtype=complex), errors.DataTypeError, TypeError, ("complex",)),
        (np.array([np.nan, 0.0]), errors.NonFiniteError, ValueError, ("params[1]", "finite")),
    ],
)
def test_candidates_that_differ_are_rejected(second, error, builtin, needles):
    with pytest.raises(error) as info:
        ModelParametersMerger().merge(np.zeros(2), second)
    assert isinstance(info.value, builtin)
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} not in {info.value}"


def test_scoring_merges_need_a_model_and_data():
    merger = ModelParametersMerger(merge_type="weighted_average")
    with pytest.raises(errors.NotInitializedError) as info:
        merger.merge(P_EXACT, P_ZERO)
    assert "model" in str(info.value)
    merger = ModelParametersMerger(model=LinearRegression(), merge_type="best")
    with pytest.raises(errors.NotInitializedError) as info:
        merger.merge(P_EXACT, P_ZERO)
    assert "set_data" in str(info.value)


def test_set_data_checks_rows():
    merger = ModelParametersMerger(model=LinearRegression(), merge_type="best")
    with pytest.raises(errors.InvalidDataError) as info:
        merger.set_data(np.zeros((3, 1)), np.zeros(2))
    assert "3" in str(info.value) and "2" in str(info.value)


def test_merge_stacked_matches_merge():
    merger = ModelParametersMerger()
    stacked = np.arange(12.0).reshape(3, 4)
    layout = Layout.from_template(np.zeros(4))
    np.testing.assert_array_equal(merger.merge_stacked(stacked, layout), stacked.mean(axis=0))


def test_repr_names_the_merge_type():
    assert "median" in repr(ModelParametersMerger(merge_type="median"))
