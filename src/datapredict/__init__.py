"""datapredict: distributed training of numpy models.

Child models train apart on their own data; a coordinator turns what they learn into
one main model, by applying their steps as they arrive (:class:`DistributedGradients`,
a parameter server) or by merging their parameters (:class:`DistributedModelParameters`
with a :class:`ModelParametersMerger`, federated averaging).
"""

from datapredict import errors
from datapredict.models import LinearRegression, LogisticRegression, NeuralNetwork
from datapredict.parameters import Layout, ModelParameters

__all__ = [
    "Layout",
    "LinearRegression",
    "LogisticRegression",
    "ModelParameters",
    "NeuralNetwork",
    "errors",
]

__version__ = "0.1.0"
