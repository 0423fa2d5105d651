"""The seed's coordinators: a parameter server and a merging coordinator."""

from datapredict.distributed.gradients import DistributedGradients, PushStats
from datapredict.distributed.merger import ModelParametersMerger
from datapredict.distributed.model_parameters import DistributedModelParameters

__all__ = [
    "DistributedGradients",
    "DistributedModelParameters",
    "ModelParametersMerger",
    "PushStats",
]
