"""The privacy accountant: ε after every round, from Google's ``dp-accounting``.

Mechanism. Each round, :class:`~datapredict.sampling.ChildSampler` draws exactly m of
the N children without replacement, and the server releases the clipped sum over m plus
Gaussian noise of standard deviation ``z C / m``. That is dp-accounting's
``SampledWithoutReplacementDpEvent(N, m, GaussianDpEvent(·))`` (every round:
``GaussianDpEvent``, when m = N), composed once per round.

Neighbouring relation. Fixed-size sampling without replacement is analysed by
dp-accounting's RDP accountant under ``REPLACE_ONE`` only (Wang, Balle and
Kasiviswanathan, AISTATS 2019): neighbouring jobs differ in one child's data, N is
public. Replacing one child's update moves the clipped sum by up to ``2C``, so the
event's noise multiplier (noise over sensitivity) is ``z / 2``. ``z`` itself keeps
McMahan et al.'s meaning (noise over the per-child bound C), so a z from papers using
Poisson sampling and add-or-remove neighbours is worth less here: the accountant says
how much.

Orders. RDP is evaluated at the orders :data:`RDP_ORDERS` (the conversion to (ε, δ) is
valid at any order; the sampled-without-replacement bound costs O(α²) per order in
Python, so the orders stop at 64). The RDP of one round is computed once per noise
multiplier and scaled by the round count, as ``RdpAccountant.compose(event, count)``
does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from datapredict._validation import option_error
from datapredict.errors import MissingDependencyError

__all__ = [
    "RDP_ORDERS",
    "PrivacyBudget",
    "PrivacyReport",
    "calibrate_noise_multiplier",
    "dp_event",
    "epsilon",
    "make_accountant",
]

RDP_ORDERS: tuple[float, ...] = (1.5, 1.75, *range(2, 33), 40, 48, 56, 64)
_CALIBRATION_RTOL = 1e-5  # the calibrated noise multiplier's relative precision


def _dp_accounting() -> Any:
    """The ``dp_accounting`` package, or an error naming the extra that installs it."""
    try:
        import dp_accounting
    except ImportError:
        raise MissingDependencyError(
            "differential privacy's accountant needs dp-accounting, which is not "
            'installed: pip install "datapredict[privacy]"'
        ) from None
    return dp_accounting


def dp_event(noise_multiplier: float, n_children: int, per_round: int) -> Any:
    """One round's mechanism as a dp-accounting ``DpEvent`` (see the module docstring).

    Parameters
    ----------
    noise_multiplier : float
        z: the noise's standard deviation on the sum over the per-child bound C.
    n_children, per_round : int
        N and m: m children drawn without replacement from N each round.
    """
    dpa = _dp_accounting()
    gaussian = dpa.GaussianDpEvent(noise_multiplier / 2.0)  # replace-one: sensitivity 2C
    if per_round == n_children:
        return gaussian
    return dpa.SampledWithoutReplacementDpEvent(n_children, per_round, gaussian)


def make_accountant() -> Any:
    """A fresh RDP accountant at :data:`RDP_ORDERS`, under the replace-one relation."""
    dpa = _dp_accounting()
    return dpa.rdp.RdpAccountant(
        list(RDP_ORDERS), neighboring_relation=dpa.NeighboringRelation.REPLACE_ONE
    )


@functools.lru_cache(maxsize=256)
def _round_rdp(noise_multiplier: float, n_children: int, per_round: int) -> np.ndarray:
    """The RDP of one round at :data:`RDP_ORDERS` (the costly part, computed once)."""
    accountant = make_accountant()
    accountant.compose(dp_event(noise_multiplier, n_children, per_round))
    return accountant.rdp


def epsilon(
    noise_multiplier: float, n_children: int, per_round: int, rounds: int, delta: float
) -> float:
    """ε after ``rounds`` rounds, for ``delta``: what ``make_accountant()`` gives after
    ``compose(dp_event(...), rounds)`` (0 for no round)."""
    if rounds == 0:
        return 0.0
    rdp = rounds * _round_rdp(float(noise_multiplier), n_children, per_round)
    value, _ = _dp_accounting().rdp.rdp_privacy_accountant.compute_epsilon(
        list(RDP_ORDERS), rdp, delta
    )
    return float(value)


def calibrate_noise_multiplier(
    target_epsilon: float, delta: float, n_children: int, per_round: int, rounds: int
) -> float:
    """The smallest z (to a relative ``1e-5``) whose ε after ``rounds`` rounds is at most
    ``target_epsilon``.

    ε falls as z grows: a bracket is found by doubling, Brent's method (scipy, a
    dependency of dp-accounting) finds the root, and z is nudged up until ε is within
    the target (each evaluation of the sampled-without-replacement RDP costs ~0.1 s).

    Raises
    ------
    InvalidOptionError
        If no z up to 1e6 reaches the target (e.g. a vanishing target).
    """
    from scipy.optimize import brentq

    def gap(z: float) -> float:
        return epsilon(z, n_children, per_round, rounds, delta) - target_epsilon

    low, high = 0.5, 1.0
    while gap(high) > 0:
        low, high = high, 2.0 * high
        if high > 1e6:
            raise option_error(
                "DifferentialPrivacy",
                "target_epsilon",
                f"reachable with a noise multiplier up to 1e6 (delta={delta:g}, "
                f"{rounds} rounds of {per_round} of {n_children} children)",
                target_epsilon,
            )
    if gap(low) <= 0:  # already within the target at the lower end: search below it
        low = 1e-3
        if gap(low) <= 0:
            return low
    z = brentq(gap, low, high, xtol=_CALIBRATION_RTOL * low)
    while gap(z) > 0:
        z *= 1.0 + _CALIBRATION_RTOL
    return float(z)


@dataclass(frozen=True)
class PrivacyReport:
    """The privacy a job spent (``TrainingResult.privacy``).

    Attributes
    ----------
    epsilon, delta : float
        The (ε, δ) guarantee after the rounds run (client level, central DP).
    noise_multiplier : float
        z, given or calibrated.
    rounds : int
        Rounds run (each one release of the mechanism).
    stopped : str or None
        Why training stopped before the planned rounds (the ε target), if it did.
    """

    epsilon: float
    delta: float
    noise_multiplier: float
    rounds: int
    stopped: str | None = None


class PrivacyBudget:
    """The driver's accountant for one job: ε per round, and the stop at a target.

    Parameters
    ----------
    noise_multiplier : float
        z (the total one, with adaptive clipping).
    n_children, per_round : int
        N and m.
    delta : float
    target_epsilon : float, optional
        Rounds that would take ε over it are not run.
    """

    def __init__(
        self,
        noise_multiplier: float,
        n_children: int,
        per_round: int,
        delta: float,
        target_epsilon: float | None = None,
    ) -> None:
        self.noise_multiplier = noise_multiplier
        self.n_children, self.per_round = n_children, per_round
        self.delta, self.target_epsilon = delta, target_epsilon
        self.rounds = 0
        self.stopped: str | None = None

    def epsilon(self, rounds: int) -> float:
        """ε after ``rounds`` rounds."""
        return epsilon(self.noise_multiplier, self.n_children, self.per_round, rounds, self.delta)

    def allows(self, round_index: int) -> bool:
        """Whether round ``round_index`` (0-based) keeps ε within the target; if not,
        :attr:`stopped` says why."""
        if self.target_epsilon is None:
            return True
        after = self.epsilon(round_index + 1)
        if after <= self.target_epsilon:
            return True
        self.stopped = (
            f"round {round_index} would take epsilon to {after:.4g} > target_epsilon "
            f"{self.target_epsilon:g} (delta={self.delta:g})"
        )
        return False

    def start_at(self, round_index: int) -> None:
        """A resumed job: rounds before ``round_index`` ran (and count) already."""
        self.rounds = max(self.rounds, round_index)

    def spent(self, round_index: int) -> float:
        """Record that round ``round_index`` ran; return ε after it."""
        self.rounds = max(self.rounds, round_index + 1)
        return self.epsilon(round_index + 1)

    def report(self) -> PrivacyReport:
        """What the job spent so far."""
        return PrivacyReport(
            epsilon=self.epsilon(self.rounds),
            delta=self.delta,
            noise_multiplier=self.noise_multiplier,
            rounds=self.rounds,
            stopped=self.stopped,
        )
