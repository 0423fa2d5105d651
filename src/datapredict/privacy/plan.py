"""A job's differential privacy, planned before training starts.

:func:`check_job` refuses what DP-FedAvg cannot be combined with; :func:`plan_privacy`
turns a :class:`~datapredict.privacy.options.DifferentialPrivacy` and the job's shape
(N children, m per round, the planned rounds) into the coordinator's
:class:`~datapredict.privacy.aggregator.PrivateMean` and the driver's
:class:`~datapredict.privacy.accounting.PrivacyBudget`, calibrating the noise
multiplier for a target ε when none is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict._validation import option_error
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.merge.mean_rules import Average
from datapredict.merge.rules import resolve_rule
from datapredict.privacy.accounting import PrivacyBudget, calibrate_noise_multiplier
from datapredict.privacy.adaptive import update_noise_multiplier
from datapredict.privacy.aggregator import PrivateMean
from datapredict.privacy.options import DifferentialPrivacy

__all__ = ["check_job", "plan_privacy"]

_OWNER = "train_distributed"


def check_job(privacy: Any, mode: str, aggregation: Any) -> DifferentialPrivacy:
    """``privacy`` if the job can be trained with it; otherwise an error naming the option.

    DP-FedAvg needs sync rounds (a fixed denominator per round) and the plain average
    (a robust rule, sample-count weights or a custom merger change the sensitivity);
    its own clip norm replaces ``Aggregation(max_norm=...)``. Server optimizers compose
    (they post-process the private release).
    """
    if not isinstance(privacy, DifferentialPrivacy):
        raise option_error(_OWNER, "privacy", "None or a DifferentialPrivacy", privacy)
    if mode != "sync":
        raise option_error(
            _OWNER, "mode", "'sync' with privacy= (DP-FedAvg releases one update per round)", mode
        )
    merger = aggregation.merger
    plain = merger is None or (
        not isinstance(merger, ModelParametersMerger) and type(resolve_rule(merger)) is Average
    )
    if not plain:
        raise option_error(
            _OWNER,
            "merger",
            "None or 'average' with privacy= (DP-FedAvg is an unweighted mean; robust, "
            "weighted or custom merges change its sensitivity)",
            merger,
        )
    if aggregation.max_norm is not None:
        raise option_error(
            _OWNER,
            "aggregation",
            "an Aggregation without max_norm with privacy= (set "
            "DifferentialPrivacy(clip_norm=...) instead)",
            aggregation,
        )
    return privacy


def plan_privacy(
    privacy: DifferentialPrivacy,
    *,
    n_children: int,
    per_round: int,
    rounds: int,
    seed: np.random.SeedSequence,
) -> tuple[PrivateMean, PrivacyBudget]:
    """The coordinator's private aggregation and the driver's accountant for one job.

    Parameters
    ----------
    privacy : DifferentialPrivacy
    n_children, per_round : int
        N and m (the sampling rate is m / N).
    rounds : int
        The planned rounds (what a target ε is calibrated for).
    seed : numpy.random.SeedSequence
        The noise's seed (from the job's ``random_state``).

    Returns
    -------
    aggregator : PrivateMean
    budget : PrivacyBudget
    """
    z = privacy.noise_multiplier
    if z is None:
        z = calibrate_noise_multiplier(
            privacy.target_epsilon, privacy.delta, n_children, per_round, rounds
        )
    update_z, count_std = z, 0.0
    if privacy.adaptive is not None:
        count_std = privacy.adaptive.count_std(per_round)
        update_z = update_noise_multiplier(z, count_std)
    aggregator = PrivateMean(
        clip_norm=privacy.clip_norm,
        noise_multiplier=update_z,
        per_round=per_round,
        seed=seed,
        adaptive=privacy.adaptive,
        count_std=count_std,
    )
    budget = PrivacyBudget(z, n_children, per_round, privacy.delta, privacy.target_epsilon)
    budget.epsilon(1)  # the accountant's import and one round's RDP, before any work
    return aggregator, budget
