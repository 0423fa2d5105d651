"""The coordinator of a training job, built from the job's options."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from datapredict._validation import option_error
from datapredict.coordinators.gradients import DistributedGradients
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.coordinators.model_parameters import DistributedModelParameters
from datapredict.options import Aggregation, AsyncPolicy

__all__ = ["CoordinatorFactory"]


@dataclass(frozen=True)
class CoordinatorFactory:
    """Builds a job's coordinator: a zero-argument callable that pickles, so a Ray actor
    can build the same coordinator in its own process.

    Parameters
    ----------
    strategy : {"gradients", "model_parameters"}
        :class:`DistributedGradients` or :class:`DistributedModelParameters`.
    mode : {"sync", "async"}
        Sync: one update per round of ``n_children`` pushes. Async: each push applied
        as it arrives (gradients) or every ``n_children`` pushes (model parameters).
    n_children : int
        Children in the job.
    aggregation, asynchrony : Aggregation, AsyncPolicy
        The job's options.
    secure : SecureJob, optional
        Secure aggregation of the job's rounds (:mod:`datapredict.secure`), run by the
        coordinator's host.
    privacy : PrivateMean, optional
        Differential privacy: the chain's private aggregation (sync mode, average only;
        :func:`datapredict.privacy.plan.check_job` checks the combination).
    """

    strategy: str
    mode: str
    n_children: int
    aggregation: Aggregation = field(default_factory=Aggregation)
    asynchrony: AsyncPolicy = field(default_factory=AsyncPolicy)
    secure: Any = None
    privacy: Any = None

    def __call__(self) -> DistributedGradients | DistributedModelParameters:
        """A new coordinator (raises the coordinator's own error on a bad combination)."""
        coordinator = self._coordinator()
        if self.privacy is not None:
            core = coordinator.core
            core.configure(chain=replace(core.chain, privacy=self.privacy))
        return coordinator

    def _coordinator(self) -> DistributedGradients | DistributedModelParameters:
        merger = self.aggregation.merger
        optimizer = self.aggregation.server_optimizer
        if self.strategy == "model_parameters":
            if not isinstance(merger, ModelParametersMerger):
                merger = ModelParametersMerger(merge_type="average" if merger is None else merger)
            return DistributedModelParameters(self.n_children, merger, server_optimizer=optimizer)
        if isinstance(merger, ModelParametersMerger):
            raise option_error(
                "train_distributed",
                "merger",
                "a merge rule or its name for strategy='gradients'",
                merger,
            )
        common = {"max_norm": self.aggregation.max_norm, "server_optimizer": optimizer}
        if self.mode == "sync":
            return DistributedGradients(
                aggregation="sync",
                num_children=self.n_children,
                merge_type="average" if merger is None else merger,
                **common,
            )
        return DistributedGradients(
            aggregation="async",
            staleness=self.asynchrony.staleness,
            max_staleness=self.asynchrony.max_staleness,
            buffer_size=self.asynchrony.buffer_size,
            **common,
        )
