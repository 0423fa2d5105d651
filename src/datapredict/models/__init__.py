"""Child models: numpy models with the seed's train / get / set parameters interface."""

from datapredict.models.base import GradientModel
from datapredict.models.linear_regression import LinearRegression
from datapredict.models.logistic_regression import LogisticRegression
from datapredict.models.neural_network import NeuralNetwork
from datapredict.models.protocol import ChildModel, GradientChild, ReinforcementChild

__all__ = [
    "ChildModel",
    "GradientChild",
    "GradientModel",
    "LinearRegression",
    "LogisticRegression",
    "NeuralNetwork",
    "ReinforcementChild",
]
