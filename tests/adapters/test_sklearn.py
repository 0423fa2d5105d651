"""SklearnChild: scikit-learn's own partial_fit is the reference for every number."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.linear_model import (
    PassiveAggressiveClassifier,
    PassiveAggressiveRegressor,
    Perceptron,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor

import datapredict as dp
from datapredict.adapters import SklearnChild, check_child
from datapredict.errors import (
    InvalidOptionError,
    MissingDependencyError,
    NotInitializedError,
    ParameterStructureError,
)

with warnings.catch_warnings():  # PassiveAggressive* are deprecated since scikit-learn 1.8
    warnings.simplefilter("ignore", FutureWarning)
    CLASSIFIERS = [
        SGDClassifier(loss="log_loss"),
        Perceptron(),
        PassiveAggressiveClassifier(),
        MLPClassifier(hidden_layer_sizes=(8,)),
    ]
    REGRESSORS = [
        SGDRegressor(),
        PassiveAggressiveRegressor(),
        MLPRegressor(hidden_layer_sizes=(4,)),
    ]

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _name(estimator) -> str:
    return type(estimator).__name__


def _raw_arrays(estimator) -> list[np.ndarray]:
    if hasattr(estimator, "coefs_"):
        pairs = zip(estimator.coefs_, estimator.intercepts_, strict=True)
        return [array for pair in pairs for array in pair]
    return [estimator.coef_, estimator.intercept_]


def _assert_same(got, expected, **tolerance) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        if tolerance:
            np.testing.assert_allclose(a, b, **tolerance)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimator", CLASSIFIERS, ids=_name)
def test_a_classifier_knows_every_class_of_the_job_even_when_its_shard_lacks_some(
    estimator, digits
):
    X, y = digits
    child = SklearnChild(estimator, random_state=0)
    assert child.get_model_parameters() is None
    child.initialize(X.shape[1], y)
    before = child.get_model_parameters()  # exist before any training
    check_child(child, "gradients")
    without_nines = y != 9
    child.train(X[without_nines][:300], y[without_nines][:300])
    np.testing.assert_array_equal(child.estimator_.classes_, np.arange(10))
    after = child.get_model_parameters()
    assert [a.shape for a in after] == [b.shape for b in before]
    assert child.estimator_.predict(X[:50]).shape == (50,)
    assert not hasattr(estimator, "classes_")  # the user's estimator was cloned, not fitted


@pytest.mark.parametrize("estimator", REGRESSORS, ids=_name)
def test_a_regressor_trains_from_initialised_parameters(estimator, diabetes):
    X, y = diabetes
    child = SklearnChild(estimator, max_iterations=5, random_state=0)
    child.initialize(X.shape[1], y)
    y = y / y.std()
    at_start = np.mean((child.predict(X) - y) ** 2)
    costs = child.train(X, y)
    assert costs.shape == (5,) and costs[-1] < costs[0]
    assert costs[0] == pytest.approx(at_start, rel=1e-12)
    assert not hasattr(estimator, "coef_") and not hasattr(estimator, "coefs_")


@pytest.mark.parametrize(
    "estimator",
    [
        SGDClassifier(shuffle=False),
        Perceptron(shuffle=False),
        SGDRegressor(shuffle=False, learning_rate="optimal"),
    ],
    ids=_name,
)
def test_epochs_are_exactly_scikit_learns_partial_fit_from_its_own_start(
    estimator, digits, diabetes
):
    if is_classifier(estimator):
        (X, y), first_fit = digits, {"classes": np.arange(10)}
    else:
        (X, y), first_fit = diabetes, {}
        y = y / y.std()
    child = SklearnChild(estimator, max_iterations=3, random_state=0)
    child.initialize(X.shape[1], y)
    child.train(X, y)
    reference = clone(estimator)
    for _ in range(3):
        reference.partial_fit(X, y, **first_fit)
        first_fit = {}
    _assert_same(child.get_model_parameters(), _raw_arrays(reference))


def test_mlp_parameters_go_in_and_out_in_layer_order(digits):
    """Give the child a scikit-learn MLP's parameters; one more epoch on each agrees."""
    X, y = digits
    mlp = MLPClassifier(
        hidden_layer_sizes=(8, 6), solver="sgd", momentum=0.0, shuffle=False, random_state=1
    )
    reference = clone(mlp).partial_fit(X, y, classes=np.arange(10))
    child = SklearnChild(mlp, random_state=0)
    child.initialize(X.shape[1], y)
    assert [p.shape for p in child.get_model_parameters()] == [
        (64, 8), (8,), (8, 6), (6,), (6, 10), (10,)
    ]  # fmt: skip
    child.set_model_parameters([a.copy() for a in _raw_arrays(reference)])
    _assert_same(child.get_model_parameters(), _raw_arrays(reference))
    child.train(X, y)
    reference.partial_fit(X, y)
    _assert_same(child.get_model_parameters(), _raw_arrays(reference))


def test_the_same_seed_gives_the_same_parameters_and_another_seed_others(digits):
    X, y = digits

    def trained(seed):
        child = SklearnChild(MLPClassifier(hidden_layer_sizes=(8,)), max_iterations=2)
        child.set_parameters(random_state=np.random.default_rng(seed))
        child.train(X[:400], y[:400])
        return child.get_model_parameters()

    _assert_same(trained(0), trained(0))
    assert not np.array_equal(trained(0)[0], trained(1)[0])


def test_one_child_gradients_job_tracks_the_local_model(digits):
    """The pushed step is ``before - after``: main -= step lands on scikit-learn's own
    partial_fit, epoch after epoch (a wrong sign walks the other way)."""
    X, y = digits
    X, y = X[:500], y[:500]
    estimator = SGDClassifier(loss="log_loss", shuffle=False)
    rounds = 4
    result = dp.train_distributed(
        lambda: SklearnChild(estimator), [(X, y)], strategy="gradients", rounds=rounds
    )
    reference = clone(estimator)
    reference.partial_fit(X, y, classes=np.arange(10))
    for _ in range(rounds - 1):
        reference.partial_fit(X, y)
    _assert_same(result.main_parameters, _raw_arrays(reference), rtol=1e-10, atol=1e-12)
    assert not np.allclose(result.main_parameters[0], 0)


@pytest.mark.parametrize("strategy", ["model_parameters", "gradients"])
@pytest.mark.parametrize(
    "estimator",
    [
        SGDClassifier(loss="log_loss", alpha=1e-3),
        MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, batch_size=32),
    ],
    ids=_name,
)
def test_sync_jobs_give_the_same_parameters_inline_and_on_threads(estimator, strategy, digits):
    X, y = digits
    shards = dp.datasets.split(X[:600], y[:600], 4, how="dirichlet", alpha=0.5, random_state=0)
    runs = [
        dp.train_distributed(
            lambda: SklearnChild(estimator),
            shards,
            strategy=strategy,
            rounds=3,
            backend=backend,
            random_state=0,
            local_iterations=2,
            eval_data=(X[600:], y[600:]),
        )
        for backend in ("inline", "threads")
    ]
    _assert_same(runs[0].main_parameters, runs[1].main_parameters)
    assert runs[0].history["metric"][-1] > 0.25  # learning (chance: 0.1)


def test_federated_averaging_of_one_epoch_is_the_mean_of_the_childrens_epochs(digits):
    X, y = digits
    shards = [(X[:300], y[:300]), (X[300:600], y[300:600])]
    estimator = SGDClassifier(shuffle=False)
    result = dp.train_distributed(
        lambda: SklearnChild(estimator), shards, strategy="model_parameters", rounds=1,
        local_iterations=1,
    )  # fmt: skip
    trained = []
    for X_i, y_i in shards:
        reference = clone(estimator).partial_fit(X_i, y_i, classes=np.arange(10))
        trained.append(_raw_arrays(reference))
    expected = [(a + b) / 2 for a, b in zip(*trained, strict=True)]
    _assert_same(result.main_parameters, expected, rtol=1e-12, atol=1e-15)


def test_bad_estimators_and_options_are_named():
    with pytest.raises(InvalidOptionError, match="'estimator' option of SklearnChild"):
        SklearnChild(SGDClassifier(average=True))
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(InvalidOptionError, match="partial_fit"):
        SklearnChild(LogisticRegression())
    with pytest.raises(InvalidOptionError, match="'classes' option"):
        SklearnChild(SGDRegressor(), classes=[0, 1])
    child = SklearnChild(SGDClassifier())
    with pytest.raises(InvalidOptionError, match="no option 'learning_rate'"):
        child.set_parameters(learning_rate=0.1)
    with pytest.raises(InvalidOptionError, match="'max_iterations'"):
        child.set_parameters(0)
    with pytest.raises(NotInitializedError, match="initialize"):
        child.set_model_parameters([np.zeros((3, 4)), np.zeros(3)])
    with pytest.raises(NotInitializedError, match="set_are_gradients_saved"):
        child.get_gradients()
    child.initialize(4, [0, 1, 2])
    with pytest.raises(ParameterStructureError, match=r"params\[0\] has shape \(4, 3\)"):
        child.set_model_parameters([np.zeros((4, 3)), np.zeros(3)])


def test_without_scikit_learn_the_import_names_the_extra(monkeypatch):
    for name in ("sklearn", "sklearn.base"):  # importing them now fails
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "datapredict.adapters.sklearn")
    with pytest.raises(MissingDependencyError, match=r"pip install 'datapredict\[demo\]'"):
        from datapredict.adapters import SklearnChild  # noqa: F401
