"""Client-level differential privacy: DP-FedAvg with adaptive clipping and an accountant.

- :mod:`~datapredict.privacy.options`: :class:`DifferentialPrivacy`, :class:`AdaptiveClipping`;
- :mod:`~datapredict.privacy.dp`: the pure steps (clip, clipped mean over a fixed
  denominator, seeded Gaussian noise);
- :mod:`~datapredict.privacy.adaptive`: the clip norm's update and the noise's split;
- :mod:`~datapredict.privacy.aggregator`: :class:`PrivateMean`, the chain's private step;
- :mod:`~datapredict.privacy.accounting`: ε per round from ``dp-accounting`` (the
  ``privacy`` extra), calibration of the noise multiplier;
- :mod:`~datapredict.privacy.plan`: a job's privacy, planned before training.
"""

from datapredict.privacy.accounting import (
    PrivacyBudget,
    PrivacyReport,
    calibrate_noise_multiplier,
    dp_event,
    epsilon,
)
from datapredict.privacy.aggregator import PrivacyState, PrivateMean
from datapredict.privacy.dp import clip_vector, clipped_mean, gaussian_noise, release_seed
from datapredict.privacy.options import AdaptiveClipping, DifferentialPrivacy

__all__ = [
    "AdaptiveClipping",
    "DifferentialPrivacy",
    "PrivacyBudget",
    "PrivacyReport",
    "PrivacyState",
    "PrivateMean",
    "calibrate_noise_multiplier",
    "clip_vector",
    "clipped_mean",
    "dp_event",
    "epsilon",
    "gaussian_noise",
    "release_seed",
]
