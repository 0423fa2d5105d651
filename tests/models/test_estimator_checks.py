"""scikit-learn's whole estimator check suite on the four model configurations.

The classifiers are checked with every option at its default. The checks fit the
regressors on unscaled data (features up to about 100), where their default learning
rate, chosen for standardized features, makes gradient descent on the squared error
diverge; with the default ``on_nonfinite="raise"`` such a fit rightly raises
``NonFiniteError`` (``test_divergence.py``), so the regressors are checked keeping the
diverged parameters with a warning (``on_nonfinite="warn"``), every other option at its
default.

Every check runs, none is expected to fail: complex X raises
:class:`~datapredict.errors.ComplexDataError`, a ``DataTypeError`` that is also the
``ValueError`` saying "Complex data not supported" the checks want, and with pandas (in
the ``test`` extra) the DataFrame checks (feature names, ``n_features_in_``) run too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from datapredict import LinearRegression, LogisticRegression, NeuralNetwork, errors

ESTIMATORS = [
    LinearRegression(on_nonfinite="warn"),
    LogisticRegression(),
    NeuralNetwork(),
    NeuralNetwork(task="regression", on_nonfinite="warn"),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the warned divergence (see above)
        check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_complex_features_raise_a_value_error_that_is_also_a_type_error(estimator):
    X = np.ones((4, 2)) + 1j
    with pytest.raises(errors.ComplexDataError, match="Complex data not supported") as info:
        estimator.fit(X, [0, 1, 0, 1])
    assert isinstance(info.value, ValueError) and isinstance(info.value, errors.DataTypeError)


def test_the_dataframe_checks_run():
    """pandas (the ``test`` extra) is importable, so scikit-learn's DataFrame checks are
    not skipped, and a DataFrame's column names become ``feature_names_in_``."""
    model = LogisticRegression(max_iterations=5).fit(
        pandas.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]}), [0, 1, 0, 1]
    )
    assert model.feature_names_in_.tolist() == ["a", "b"]
