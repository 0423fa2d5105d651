"""Distributed differential privacy: DP-FedAvg's noise added by the children, under
secure aggregation.

With ``train_distributed(privacy=DifferentialPrivacy(...), secure_aggregation=...)`` the
server never sees a child's update, so it cannot clip or noise one: each sampled child
does it on its worker, before masking (Kairouz, Liu and Steinke, ICML 2021, *The
Distributed Discrete Gaussian Mechanism*, use the same split of the noise):

1. its update Δ_k (a step, or its parameters minus the main ones) is clipped to L2 norm
   C, and weighs 1 (DP-FedAvg's mean is unweighted);
2. it adds its share ``N(0, σ² / (m − t) · I)`` of the noise, ``σ = z C``, drawn from
   its own seed and the round's index;
3. it masks and sends the fixed-point encoding.

The server unmasks ``Σ_k clip(Δ_k) + Σ_k noise_k`` over the survivors and divides it by
the FIXED denominator m (the children sampled per round), as
:class:`~datapredict.privacy.aggregator.PrivateMean` does.

**Dropouts.** ``t`` is the number of children a round may lose: the secure option's
threshold applied to the round's m children, ``m − t = shares_needed(m)``
(``ceil(threshold · m)`` for a fraction; with ``neighbours="all"`` exactly the
survivors SecAgg needs). A round is applied only if at least ``m − t`` children
survive (:meth:`RoundSetup.unrecoverable <datapredict.secure.protocol.RoundSetup.unrecoverable>`
says so, and the server refuses to unmask otherwise), so every applied round carries at
least ``(m − t) · σ² / (m − t) = σ²`` of noise on the sum: the accountant's z holds
(conservatively, when fewer than t children drop out). The price: with every child
present the noise's variance is ``m / (m − t)`` times the central one (1/0.6 ≈ 1.67,
standard deviation ×1.29, at the default threshold 0.6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from datapredict._validation import option_error
from datapredict.privacy.aggregator import PrivateMean
from datapredict.privacy.dp import clip_vector, gaussian_noise
from datapredict.privacy.options import DifferentialPrivacy
from datapredict.secure.options import SecureAggregation
from datapredict.secure.rounds import SecureJob

__all__ = ["DistributedNoise", "check_distributed", "distributed_noise", "with_distributed_noise"]

_OWNER = "train_distributed"
_TAIL = 10.0  # noise values beyond 10 std (probability 1.5e-23 each) may hit the range


@dataclass(frozen=True)
class DistributedNoise:
    """DP-FedAvg's clipping and noise, done by each child of a secure round.

    Attributes
    ----------
    clip_norm : float
        C: each child's update is clipped to this L2 norm on its worker.
    share_std : float
        The standard deviation of each child's noise share, ``σ / sqrt(m − t)`` with
        ``σ = z C``.
    per_round : int
        m, the fixed denominator of the mean.
    min_survivors : int
        ``m − t``: a round with fewer survivors is not applied (its noise would be
        short of σ²).

    Examples
    --------
    >>> noise = DistributedNoise(clip_norm=1.0, share_std=0.5, per_round=5, min_survivors=4)
    >>> noise.tolerated, noise.sum_std(4)
    (1, 1.0)
    """

    clip_norm: float
    share_std: float
    per_round: int
    min_survivors: int

    @property
    def tolerated(self) -> int:
        """t, the dropouts a round may have and still be applied."""
        return self.per_round - self.min_survivors

    def sum_std(self, survivors: int) -> float:
        """The standard deviation of the noise on the sum of ``survivors`` children."""
        return self.share_std * math.sqrt(survivors)

    def clip(self, update: np.ndarray) -> np.ndarray:
        """``update`` clipped to L2 norm C (a new array; the child's step 1)."""
        return clip_vector(update, self.clip_norm)

    def share(self, size: int, seed: np.random.SeedSequence) -> np.ndarray:
        """A child's noise share: ``size`` float64 values N(0, share_std²) from ``seed``
        (the child's seed and the round, :class:`~datapredict.secure.client.SecAggClient`)."""
        return gaussian_noise(size, self.share_std, seed, np.float64)

    def short(self, survivors: int) -> str | None:
        """Why a round with ``survivors`` children cannot be applied, or None."""
        if survivors >= self.min_survivors:
            return None
        return (
            f"distributed differential privacy: {survivors} of {self.per_round} children "
            f"survived; the noise needs at least {self.min_survivors} shares (each child "
            f"adds 1/{self.min_survivors} of the variance)"
        )


def check_distributed(privacy: DifferentialPrivacy, option: SecureAggregation) -> None:
    """Raise unless ``privacy`` can be done by the children of ``option``'s secure rounds.

    Raises
    ------
    InvalidOptionError
        For adaptive clipping (its clipped-count bits would need their own masked
        channel) and for ``SecureAggregation(noise_std=...)`` (the noise comes from
        ``privacy``).
    """
    if privacy.adaptive is not None:
        raise option_error(
            "DifferentialPrivacy",
            "adaptive",
            "None with secure_aggregation (adaptive clipping's count of clipped updates "
            "would need its own masked channel)",
            privacy.adaptive,
        )
    if option.noise_std is not None:
        raise option_error(
            "SecureAggregation",
            "noise_std",
            "None with privacy= (the children's noise is set by DifferentialPrivacy)",
            option.noise_std,
        )


def distributed_noise(
    option: SecureAggregation,
    *,
    clip_norm: float,
    noise_multiplier: float,
    per_round: int,
    min_children: int,
) -> DistributedNoise:
    """The children's clipping and noise shares for a job (see the module).

    Parameters
    ----------
    option : SecureAggregation
        Its threshold sets ``m − t = option.shares_needed(m)``.
    clip_norm, noise_multiplier : float
        C and z (the accountant's).
    per_round : int
        m.
    min_children : int
        The quorum's ``min_children`` (m without one): it must not close a round below
        ``m − t``.

    Raises
    ------
    InvalidOptionError
        If the quorum may close a round with fewer than ``m − t`` children, or if the
        fixed-point ``range`` cannot hold a clipped update plus its noise.
    """
    survivors = option.shares_needed(per_round)
    if min_children < survivors:
        raise option_error(
            "Quorum",
            "min_children",
            f"at least {survivors} with privacy= and secure_aggregation (the noise needs "
            f"that many of the {per_round} children per round)",
            min_children,
        )
    share_std = noise_multiplier * clip_norm / math.sqrt(survivors)
    needed = clip_norm + _TAIL * share_std
    if option.codec.range < needed:
        raise option_error(
            "SecureAggregation",
            "range",
            f"at least clip_norm + {_TAIL:g} noise std = {needed:.4g} with privacy= (a "
            "clipped update plus its noise share must fit the fixed-point range)",
            option.range,
        )
    return DistributedNoise(clip_norm, share_std, per_round, survivors)


def with_distributed_noise(job: SecureJob, plan: PrivateMean, min_children: int) -> SecureJob:
    """``job`` with its children clipping and noising as ``plan`` (the central private
    mean the job would have used: its C, z and m), unweighted.

    Raises
    ------
    InvalidOptionError
        As :func:`distributed_noise`.
    """
    noise = distributed_noise(
        job.option,
        clip_norm=plan.clip_norm,
        noise_multiplier=plan.noise_multiplier,
        per_round=plan.per_round,
        min_children=min_children,
    )
    return replace(job, weight_scale=None, private=noise)
