"""datapredict: distributed training of numpy models.

Child models train apart on their own data; a coordinator turns what they learn into
one main model, by applying their steps as they arrive (:class:`DistributedGradients`,
a parameter server) or by merging their parameters (:class:`DistributedModelParameters`
with a :class:`ModelParametersMerger`, federated averaging).
"""

from datapredict import errors
from datapredict.coordinators import (
    DistributedGradients,
    DistributedModelParameters,
    ModelParametersMerger,
)
from datapredict.models import LinearRegression, LogisticRegression, NeuralNetwork
from datapredict.options import Aggregation, AsyncPolicy, Checkpointing, Quorum
from datapredict.parameters import Layout, ModelParameters
from datapredict.privacy import AdaptiveClipping, DifferentialPrivacy
from datapredict.results import History, RoundRecord, TrainingResult
from datapredict.secure.options import SecureAggregation
from datapredict.training import train_distributed

__all__ = [
    "AdaptiveClipping",
    "Aggregation",
    "AsyncPolicy",
    "Checkpointing",
    "DifferentialPrivacy",
    "DistributedGradients",
    "DistributedModelParameters",
    "History",
    "Layout",
    "LinearRegression",
    "LogisticRegression",
    "ModelParameters",
    "ModelParametersMerger",
    "NeuralNetwork",
    "Quorum",
    "RoundRecord",
    "SecureAggregation",
    "TrainingResult",
    "errors",
    "train_distributed",
]

__version__ = "0.1.0"
