"""How K children become one: merge rules, clipping, server optimizers and staleness weights.

- :mod:`datapredict.merge.rules`: ``rule(stacked, weights=None) -> merged`` over a
  stacked (K, P) matrix (average, fedavg, median, trimmed mean, Krum, Multi-Krum,
  Bulyan, geometric median, norm clipping), each but NormClip also reachable by name; the rules
  live by family in :mod:`~datapredict.merge.mean_rules`,
  :mod:`~datapredict.merge.order_rules` and :mod:`~datapredict.merge.distance_rules`,
  their numerical kernels in :mod:`~datapredict.merge.order_statistics` and
  :mod:`~datapredict.merge.distances`.
- :mod:`datapredict.merge.clipping`: :func:`clip_rows`, the pure norm-clipping step.
- :mod:`datapredict.merge.server_optimizers`: ``init`` / ``update`` pairs applied to the
  merged vector (replace, FedAvgM, FedAdagrad, FedAdam, FedYogi).
- :mod:`datapredict.merge.staleness`: weights for asynchronous pushes.
- :mod:`datapredict.merge.registry`: the one helper that resolves names and instances
  for the three kinds above.
"""

from datapredict.merge.clipping import clip_rows
from datapredict.merge.registry import Registry
from datapredict.merge.rules import (
    MERGE_RULES,
    Average,
    Bulyan,
    FedAvg,
    GeometricMedian,
    Krum,
    Median,
    MergeRule,
    MultiKrum,
    NormClip,
    TrimmedMean,
    check_stacked,
    check_weights,
    resolve_rule,
)
from datapredict.merge.server_optimizers import (
    SERVER_OPTIMIZERS,
    FedAdagrad,
    FedAdam,
    FedAvgM,
    FedYogi,
    Replace,
    ServerOptimizer,
    resolve_server_optimizer,
)
from datapredict.merge.staleness import (
    STALENESS_WEIGHTS,
    Constant,
    Hinge,
    Polynomial,
    StalenessWeight,
    resolve_staleness,
)

__all__ = [
    "MERGE_RULES",
    "SERVER_OPTIMIZERS",
    "STALENESS_WEIGHTS",
    "Average",
    "Bulyan",
    "Constant",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedAvgM",
    "FedYogi",
    "GeometricMedian",
    "Hinge",
    "Krum",
    "Median",
    "MergeRule",
    "MultiKrum",
    "NormClip",
    "Polynomial",
    "Registry",
    "Replace",
    "ServerOptimizer",
    "StalenessWeight",
    "TrimmedMean",
    "check_stacked",
    "check_weights",
    "clip_rows",
    "resolve_rule",
    "resolve_server_optimizer",
    "resolve_staleness",
]
