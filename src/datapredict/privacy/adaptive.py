"""Adaptive clipping (Andrew, Thakkar, McMahan and Ramaswamy, NeurIPS 2021), as pure steps.

The clip norm follows a quantile γ of the children's update norms: each child reports
``b_k = 1[|Δ_k| <= C]``, the server adds N(0, σ_b²) to the count and moves C
geometrically, ``C ← C · exp(−η (b̄ − γ))`` with ``b̄ = (Σ b_k + noise) / m``. The count's
noise is part of the privacy budget: for a total noise multiplier z the update keeps
``z_Δ = (z⁻² − (2 σ_b)⁻²)^(−1/2)``.

>>> update_noise_multiplier(1.0, 10.0) > 1.0
True
"""

from __future__ import annotations

import math

import numpy as np

from datapredict._validation import option_error

__all__ = ["next_clip_norm", "update_noise_multiplier"]


def update_noise_multiplier(noise_multiplier: float, count_std: float) -> float:
    """z_Δ, the update's noise multiplier when the count takes its share of z.

    Raises
    ------
    InvalidOptionError
        Unless ``2 σ_b > z`` (otherwise the count alone would spend the whole budget).
    """
    remaining = noise_multiplier**-2 - (2.0 * count_std) ** -2
    if remaining <= 0:
        raise option_error(
            "AdaptiveClipping",
            "count_noise",
            f"greater than noise_multiplier / 2 = {noise_multiplier / 2:g} (the count's "
            "noise takes part of the budget; a larger count_noise leaves more to the update)",
            count_std,
        )
    return remaining**-0.5


def next_clip_norm(
    clip_norm: float,
    norms: np.ndarray,
    per_round: int,
    target_quantile: float,
    learning_rate: float,
    count_std: float,
    seed: np.random.SeedSequence,
) -> float:
    """The next round's clip norm: ``C · exp(−η (b̄ − γ))``.

    Parameters
    ----------
    clip_norm : float
        C, this round's clip norm.
    norms : ndarray of shape (K,)
        The children's update norms this round.
    per_round : int
        m, the fixed denominator of the fraction.
    target_quantile, learning_rate : float
        γ and η_C.
    count_std : float
        σ_b, the noise on the count.
    seed : numpy.random.SeedSequence
        Seeds the count's noise (one standard normal).
    """
    under = int(np.count_nonzero(norms <= clip_norm))
    noise = count_std * np.random.default_rng(seed).standard_normal()
    fraction = (under + noise) / per_round
    return clip_norm * math.exp(-learning_rate * (fraction - target_quantile))
