"""The seed's coordinators: a parameter server and a merging coordinator."""

from datapredict.coordinators.gradients import DistributedGradients, PushStats
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.coordinators.model_parameters import DistributedModelParameters

__all__ = [
    "DistributedGradients",
    "DistributedModelParameters",
    "ModelParametersMerger",
    "PushStats",
]
