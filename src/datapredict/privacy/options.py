"""The options of client-level differential privacy: :class:`DifferentialPrivacy` and
:class:`AdaptiveClipping`, frozen dataclasses validated when they are made.

``train_distributed(..., privacy=DifferentialPrivacy(...))`` turns them into the
coordinator's private aggregation (:mod:`datapredict.privacy.aggregator`) and the
driver's accountant (:mod:`datapredict.privacy.accounting`); see
:mod:`datapredict.privacy.plan`.
"""

from __future__ import annotations

from dataclasses import dataclass

from datapredict._validation import check_float, option_error

__all__ = ["AdaptiveClipping", "DifferentialPrivacy"]


@dataclass(frozen=True)
class AdaptiveClipping:
    """Adaptive clipping (Andrew, Thakkar, McMahan and Ramaswamy, NeurIPS 2021).

    Each round every child also reports ``b_k = 1[|Δ_k| <= C]``; the server forms the
    noisy fraction ``b̄ = (Σ b_k + N(0, σ_b²)) / m`` and sets
    ``C ← C · exp(−learning_rate · (b̄ − target_quantile))``. The count's noise spends
    part of the privacy budget: the update's noise multiplier becomes
    ``z_Δ = (z⁻² − (2 σ_b)⁻²)^(−1/2)``, so the round as a whole stays at ``z``.

    Parameters
    ----------
    target_quantile : float in (0, 1), default=0.5
        γ: the fraction of children whose update should fit under the clip norm.
    learning_rate : float > 0, default=0.2
        η_C, the geometric step of the clip norm per round.
    count_noise : float > 0, optional
        σ_b, the standard deviation of the noise on the count Σ b_k. Default ``m / 20``
        (the paper's choice), with ``m`` the children per round.
    """

    target_quantile: float = 0.5
    learning_rate: float = 0.2
    count_noise: float | None = None

    def __post_init__(self) -> None:
        owner = "AdaptiveClipping"
        check_float(
            owner,
            "target_quantile",
            self.target_quantile,
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )
        check_float(owner, "learning_rate", self.learning_rate, low=0, low_open=True)
        if self.count_noise is not None:
            check_float(owner, "count_noise", self.count_noise, low=0, low_open=True)

    def count_std(self, per_round: int) -> float:
        """σ_b for ``per_round`` children per round (``count_noise``, or ``m / 20``)."""
        return per_round / 20.0 if self.count_noise is None else float(self.count_noise)


@dataclass(frozen=True)
class DifferentialPrivacy:
    """Client-level differential privacy (DP-FedAvg, McMahan et al., ICLR 2018).

    Each round, every child's update Δ_k (its step, or its parameters minus the main
    ones) is clipped to L2 norm ``clip_norm``; the clipped updates are summed and
    divided by the number of children per round ``m`` (fixed: not the number that
    arrived), and Gaussian noise of standard deviation ``z · C / m`` is added. An
    accountant (Google's ``dp-accounting``) gives ε for ``delta`` after every round.

    Parameters
    ----------
    clip_norm : float > 0, default=1.0
        C, the L2 bound on each child's update (the initial one with ``adaptive``).
    noise_multiplier : float > 0, optional
        z: the noise's standard deviation over the sum's per-child bound C. Given, it is
        used as it is. (The accountant's neighbours differ by one replaced child, who
        moves the sum by up to 2C: it sees a Gaussian of multiplier z / 2; see
        :mod:`datapredict.privacy.accounting`.)
    target_epsilon : float > 0, optional
        Without ``noise_multiplier``: z is calibrated before training so that ε after
        the last planned round is at most this. With it: training stops before a round
        would take ε over this.
    delta : float in (0, 1), default=1e-5
        The δ of the (ε, δ) guarantee.
    adaptive : AdaptiveClipping, optional
        Adapt the clip norm to a quantile of the updates' norms.

    Examples
    --------
    >>> DifferentialPrivacy(noise_multiplier=1.1).delta
    1e-05
    """

    clip_norm: float = 1.0
    noise_multiplier: float | None = None
    target_epsilon: float | None = None
    delta: float = 1e-5
    adaptive: AdaptiveClipping | None = None

    def __post_init__(self) -> None:
        owner = "DifferentialPrivacy"
        check_float(owner, "clip_norm", self.clip_norm, low=0, low_open=True)
        if self.noise_multiplier is not None:
            check_float(owner, "noise_multiplier", self.noise_multiplier, low=0, low_open=True)
        if self.target_epsilon is not None:
            check_float(owner, "target_epsilon", self.target_epsilon, low=0, low_open=True)
        check_float(owner, "delta", self.delta, low=0, high=1, low_open=True, high_open=True)
        if self.noise_multiplier is None and self.target_epsilon is None:
            raise option_error(
                owner,
                "noise_multiplier",
                "a float > 0 when target_epsilon is not given (one of the two sets the noise)",
                None,
            )
        if self.adaptive is not None and not isinstance(self.adaptive, AdaptiveClipping):
            raise option_error(owner, "adaptive", "None or an AdaptiveClipping", self.adaptive)
