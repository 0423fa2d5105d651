"""check_child names what a child lacks; the child of docs/child_protocol.md trains."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import datapredict as dp
from datapredict.adapters import check_child
from datapredict.errors import DataTypeError, InvalidOptionError


class Minimal:
    """Parameters and the three model-parameters methods, nothing for gradients."""

    def __init__(self):
        self.w = np.zeros(3)

    def set_parameters(self, max_iterations=None):
        pass

    def train(self, X, y):
        return np.zeros(1)

    def get_model_parameters(self):
        return self.w.copy()

    def set_model_parameters(self, params):
        self.w = np.array(params)


@pytest.mark.parametrize(
    "model", [dp.LinearRegression(), dp.LogisticRegression(), dp.NeuralNetwork()], ids=repr
)
@pytest.mark.parametrize("strategy", ["model_parameters", "gradients"])
def test_datapredicts_own_models_conform(model, strategy):
    check_child(model, strategy)


def test_a_missing_method_is_named():
    check_child(Minimal(), "model_parameters")
    with pytest.raises(DataTypeError, match=r"set_are_gradients_saved\(True\); Minimal has none"):
        check_child(Minimal(), "gradients")
    with pytest.raises(TypeError, match=r"train\(X, y\); object has none"):
        check_child(object())


def test_the_runners_calls_must_bind():
    class NoIterations(Minimal):
        def set_parameters(self, iterations):
            pass

    class Seeded(Minimal):
        def get_params(self):
            return {"random_state": None}

    class NoLabels(Minimal):
        def initialize(self):
            pass

    class Empty(Minimal):
        def get_model_parameters(self):
            return None

    with pytest.raises(DataTypeError, match="set_parameters must accept the keywords max_iter"):
        check_child(NoIterations())
    with pytest.raises(DataTypeError, match="max_iterations, random_state"):
        check_child(Seeded())
    with pytest.raises(DataTypeError, match=r"initialize must be a method taking \(n_features"):
        check_child(NoLabels())
    with pytest.raises(DataTypeError, match="holds no parameters"):
        check_child(Empty())
    with pytest.raises(InvalidOptionError, match="'strategy' option of check_child"):
        check_child(Minimal(), "federated")


def test_the_documented_child_trains_under_train_distributed():
    """Runs the page's code blocks as they are; R² within 0.01 of least squares."""
    page = Path(__file__).resolve().parents[2] / "docs" / "child_protocol.md"
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
        exec(block, namespace)
    data = namespace["data"]
    X1 = np.column_stack([np.ones(len(data.X)), data.X])
    residual = data.y - X1 @ np.linalg.lstsq(X1, data.y, rcond=None)[0]
    best = 1 - residual @ residual / np.sum((data.y - data.y.mean()) ** 2)
    assert namespace["result"].history["metric"][-1] == pytest.approx(best, abs=0.01)
    check_child(namespace["LeastSquaresChild"](), "gradients")
