"""The coordinators: the seed's classes over one flat-vector core and one aggregation chain.

- :class:`DistributedGradients` (a parameter server) and
  :class:`DistributedModelParameters` with its :class:`ModelParametersMerger`
  (federated averaging): the seed's interface, thin wrappers over
- :class:`~datapredict.coordinators.core.CoordinatorCore`: the lock, the main vector and
  its version, the background worker, checkpoints' state, and ``push`` returning a
  :class:`PushOutcome`;
- :class:`~datapredict.coordinators.chain.AggregationChain`: clip → staleness weights →
  merge rule → server optimizer;
- :mod:`~datapredict.coordinators.host`: the coordinator as the runner sees it, in this
  process (a Ray actor hosts the same object); :mod:`~datapredict.coordinators.checkpoint`.
"""

from datapredict.coordinators.chain import AggregationChain
from datapredict.coordinators.core import CoordinatorCore
from datapredict.coordinators.gradients import DistributedGradients
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.coordinators.model_parameters import DistributedModelParameters
from datapredict.coordinators.outcome import PushOutcome, PushStats, PushStatus

__all__ = [
    "AggregationChain",
    "CoordinatorCore",
    "DistributedGradients",
    "DistributedModelParameters",
    "ModelParametersMerger",
    "PushOutcome",
    "PushStats",
    "PushStatus",
]
