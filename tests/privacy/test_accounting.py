"""The accountant against dp-accounting's own computation, the calibration of the noise
multiplier, and the budget's stop at a target ε."""

from __future__ import annotations

import math

import pytest

dp_accounting = pytest.importorskip("dp_accounting")

from datapredict.privacy import PrivacyBudget, calibrate_noise_multiplier, epsilon  # noqa: E402
from datapredict.privacy.accounting import RDP_ORDERS  # noqa: E402


def _reference(z: float, n: int, m: int, rounds: int, delta: float) -> float:
    """ε from a fresh RdpAccountant composing the event built here, independently:
    m of n sampled without replacement, replace-one neighbours (sensitivity 2C, so the
    Gaussian's multiplier is z / 2), ``rounds`` times."""
    accountant = dp_accounting.rdp.RdpAccountant(
        list(RDP_ORDERS), neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE
    )
    gaussian = dp_accounting.GaussianDpEvent(z / 2)
    event = (
        gaussian
        if m == n
        else dp_accounting.SampledWithoutReplacementDpEvent(
            source_dataset_size=n, sample_size=m, event=gaussian
        )
    )
    accountant.compose(event, rounds)
    return accountant.get_epsilon(delta)


@pytest.mark.parametrize(
    ("z", "n", "m", "rounds", "delta"),
    [(1.5, 400, 40, 30, 1e-5), (3.0, 100, 10, 7, 1e-6), (2.0, 50, 50, 20, 1e-5)],
)
def test_epsilon_equals_dp_accounting(z, n, m, rounds, delta):
    assert epsilon(z, n, m, rounds, delta) == _reference(z, n, m, rounds, delta)


def test_full_participation_is_a_plain_gaussian_composed():
    # RDP of the Gaussian with multiplier s is α / (2 s²): check one value by hand too
    z, rounds, delta = 4.0, 10, 1e-5
    orders = [a for a in RDP_ORDERS if a > 1.01]
    s = z / 2
    by_hand = min(
        rounds * a / (2 * s**2) + math.log1p(-1 / a) - math.log(delta * a) / (a - 1) for a in orders
    )
    assert epsilon(z, 20, 20, rounds, delta) == pytest.approx(max(0.0, by_hand), rel=1e-12)


def test_calibration_meets_the_target_and_is_tight():
    target, delta, n, m, rounds = 8.0, 1e-5, 300, 30, 40
    z = calibrate_noise_multiplier(target, delta, n, m, rounds)
    assert epsilon(z, n, m, rounds, delta) <= target
    assert epsilon(z * (1 - 1e-3), n, m, rounds, delta) > target


def test_budget_stops_before_the_round_that_exceeds_the_target():
    budget = PrivacyBudget(2.0, 100, 10, 1e-5, target_epsilon=3.0)
    allowed = [r for r in range(200) if budget.epsilon(r + 1) <= 3.0]
    last = max(allowed)
    assert budget.allows(last)
    assert not budget.allows(last + 1)
    assert "target_epsilon 3" in budget.stopped
    assert budget.spent(last) == budget.epsilon(last + 1)
    report = budget.report()
    assert report.rounds == last + 1 and report.epsilon <= 3.0 and report.stopped
