"""The models as scikit-learn estimators: clone, fit, set_params, cross-validation."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import DataConversionWarning, FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression as ScikitLogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from datapredict import LinearRegression, LogisticRegression, NeuralNetwork, errors

MAKERS = {
    "linear": lambda: LinearRegression(max_iterations=20, learning_rate=0.1, random_state=3),
    "logistic": lambda: LogisticRegression(max_iterations=20, classes=[0, 1, 2], random_state=3),
    "network": lambda: NeuralNetwork(hidden_layer_sizes=(4,), max_iterations=20, random_state=3),
}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    return X, np.arange(60) % 3


def _flat(params) -> np.ndarray:
    arrays = params if isinstance(params, list) else [params]
    return np.concatenate([a.ravel() for a in arrays])


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_clone_gives_an_unfitted_model_with_the_same_options(name, data):
    model = MAKERS[name]()
    model.fit(*data)
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model
    assert copy.get_params() == model.get_params()
    assert not copy.is_initialized


def test_get_params_gives_the_options_as_given():
    classes = [0, 1, 2]
    model = LogisticRegression(classes=classes)
    assert model.get_params()["classes"] is classes
    assert model.get_params(deep=False) == model.get_params()


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_fit_starts_over_where_train_continues(name, data):
    model = MAKERS[name]()
    assert model.fit(*data) is model
    first = _flat(model.get_model_parameters())
    model.train(*data)
    continued = _flat(model.get_model_parameters())
    model.fit(*data)
    np.testing.assert_array_equal(_flat(model.get_model_parameters()), first)
    assert not np.array_equal(continued, first)


def test_fit_learns_the_classes_again():
    X = np.random.default_rng(1).standard_normal((20, 2))
    model = LogisticRegression(max_iterations=2).fit(X, np.arange(20) % 2)
    model.fit(X, np.where(np.arange(20) % 2, "yes", "no"))
    assert model.classes_.tolist() == ["no", "yes"]


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_fit_on_bad_input_changes_nothing(name, data):
    X, y = data
    model = MAKERS[name]().fit(X, y)
    before = _flat(model.get_model_parameters())
    spoiled = X.copy()
    spoiled[4, 1] = np.nan
    with pytest.raises(errors.NonFiniteError):
        model.fit(spoiled, y)
    np.testing.assert_array_equal(_flat(model.get_model_parameters()), before)
    np.testing.assert_array_equal(model.predict(X), MAKERS[name]().fit(X, y).predict(X))


def test_set_params_stores_options_that_fit_validates(data):
    model = LogisticRegression(max_iterations=5, random_state=0)
    assert model.set_params(learning_rate=0.5) is model
    assert model.get_params()["learning_rate"] == 0.5
    model.fit(*data)
    before = _flat(model.get_model_parameters())
    assert model.set_params(learning_rate=-1.0) is model  # scikit-learn's rule: no error yet
    assert model.get_params()["learning_rate"] == -1.0
    with pytest.raises(errors.InvalidOptionError, match="'learning_rate' option") as info:
        model.fit(*data)
    assert "-1.0" in str(info.value)
    np.testing.assert_array_equal(_flat(model.get_model_parameters()), before)
    with pytest.raises(errors.InvalidOptionError, match="no option 'step_size'"):
        model.set_params(step_size=0.1)  # an unknown name is refused at once


def test_grid_search_scores_a_bad_option_as_nan_and_goes_on(data):
    X, _ = data
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    grid = {"learning_rate": [-1.0, 0.3]}
    search = GridSearchCV(LinearRegression(max_iterations=50, random_state=0), grid, cv=3)
    with pytest.warns(FitFailedWarning), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "One or more of the test scores are non-finite")
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][0])
    assert search.best_params_ == {"learning_rate": 0.3}


def test_estimator_types():
    assert is_classifier(LogisticRegression()) and is_classifier(NeuralNetwork())
    assert is_regressor(LinearRegression()) and is_regressor(NeuralNetwork(task="regression"))


def test_cross_validation_in_a_pipeline_matches_scikit_learn():
    X, y = load_breast_cancer(return_X_y=True)
    ours = make_pipeline(StandardScaler(), LogisticRegression(max_iterations=300, random_state=0))
    reference = make_pipeline(StandardScaler(), ScikitLogisticRegression())
    scores = cross_val_score(ours, X, y, cv=3)
    expected = cross_val_score(reference, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() == pytest.approx(expected.mean(), abs=0.02)


def test_grid_search_sets_options_through_set_params(data):
    X, _ = data
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    search = GridSearchCV(
        LinearRegression(max_iterations=50, random_state=0),
        {"learning_rate": [1e-4, 0.3]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"learning_rate": 0.3}
    assert search.best_estimator_.get_params()["learning_rate"] == 0.3


# ------------------------------------------------------------- scikit-learn's rules


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_using_an_unfitted_model_raises_scikit_learns_not_fitted_error(name, data):
    model = MAKERS[name]()
    methods = ["predict", "score", *(["predict_proba"] if name != "linear" else [])]
    for method in methods:
        args = data if method == "score" else data[:1]
        with pytest.raises(NotFittedError, match="call fit") as info:
            getattr(model, method)(*args)
        assert isinstance(info.value, errors.NotInitializedError)
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    check_is_fitted(model.fit(*data))


def _run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    return result.stdout.strip()


def test_importing_datapredict_does_not_import_scikit_learn():
    assert _run_python("import sys, datapredict; print('sklearn' in sys.modules)") == "False"


def test_without_scikit_learn_the_errors_are_still_value_and_attribute_errors():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"  # makes `import sklearn` fail
        "from datapredict import LinearRegression, errors\n"
        "try:\n"
        "    LinearRegression().predict([[1.0]])\n"
        "except errors.NotFittedError as e:\n"
        "    print(isinstance(e, ValueError), isinstance(e, AttributeError),\n"
        "          [c.__module__ for c in type(e).__mro__ if 'sklearn' in c.__module__],\n"
        "          issubclass(errors.DataConversionWarning, UserWarning))"
    )
    assert _run_python(code) == "True True [] True"


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_n_features_in_exists_once_there_are_parameters(name, data):
    model = MAKERS[name]()
    assert not hasattr(model, "n_features_in_")
    assert model.fit(*data).n_features_in_ == 3
    copy = MAKERS[name]()
    copy.set_model_parameters(model.get_model_parameters())
    assert copy.n_features_in_ == 3


class Frame:
    """What a pandas DataFrame offers here: column names and conversion to an array."""

    def __init__(self, values, columns):
        self.values = np.asarray(values)
        self.columns = columns
        self.shape = self.values.shape

    def __len__(self):
        return len(self.values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_feature_names_in_comes_from_string_column_names(name, data):
    X, y = data
    model = MAKERS[name]().fit(Frame(X, ["a", "b", "c"]), y)
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(model.predict(Frame(X, ["a", "b", "c"])), model.predict(X))
    with pytest.raises(errors.InvalidDataError, match=r"\['a', 'c', 'b'\].*\['a', 'b', 'c'\]"):
        model.predict(Frame(X, ["a", "c", "b"]))
    assert not hasattr(MAKERS[name]().fit(Frame(X, [0, 1, 2]), y), "feature_names_in_")
    assert not hasattr(MAKERS[name]().fit(X, y), "feature_names_in_")


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_an_object_array_of_numbers_trains_as_its_floats(name, data):
    X, y = data
    with_bools = X.astype(object)
    with_bools[:, 1] = X[:, 1] > 0  # a DataFrame with a bool column gives such an array
    as_floats = X.copy()
    as_floats[:, 1] = X[:, 1] > 0
    ours, reference = MAKERS[name]().fit(with_bools, y), MAKERS[name]().fit(as_floats, y)
    np.testing.assert_array_equal(
        _flat(ours.get_model_parameters()), _flat(reference.get_model_parameters())
    )


def test_predict_proba_exists_only_for_classification(data):
    model = NeuralNetwork(hidden_layer_sizes=(4,), max_iterations=5, random_state=0)
    assert hasattr(model, "predict_proba")
    model.set_params(task="regression")
    assert not hasattr(model, "predict_proba")
    assert not hasattr(LinearRegression(), "predict_proba")
    X, _ = data
    proba = model.set_params(task="classification").fit(*data).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_a_classifier_fit_on_a_column_vector_warns_as_scikit_learn_does(data):
    X, y = data
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        column = MAKERS["logistic"]().fit(X, y.reshape(-1, 1))
    np.testing.assert_array_equal(column.predict(X), MAKERS["logistic"]().fit(X, y).predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MAKERS["logistic"]().train(X, y.reshape(-1, 1))  # the seed's label vector: no warning
        MAKERS["linear"]().fit(X, y.reshape(-1, 1).astype(float))  # one output, no warning


def test_a_classifier_refuses_continuous_targets_suggesting_a_regressor(data):
    X, _ = data
    y = X @ np.array([1.0, 2.0, 3.0])
    model = LogisticRegression(max_iterations=5)
    with pytest.raises(errors.InvalidDataError, match=r"continuous values.*Use a regressor"):
        model.fit(X, y)
    assert not model.is_initialized


@pytest.mark.parametrize("name", ["linear", "logistic"])
def test_a_structural_option_set_by_set_params_needs_fit_to_start_over(name, data):
    model = MAKERS[name]().fit(*data)
    rows = model.get_model_parameters().shape[0]
    model.set_params(fit_intercept=False)  # stored; the parameters still have an intercept row
    with pytest.raises(errors.InvalidOptionError, match=r"'fit_intercept' option .* cannot change"):
        model.train(*data)
    assert model.get_model_parameters().shape[0] == rows
    assert model.fit(*data).get_model_parameters().shape[0] == rows - 1
