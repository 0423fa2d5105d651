"""The private aggregation step of the coordinator's chain: DP-FedAvg, with its state.

:class:`PrivateMean` replaces the merge rule when a job is trained with
:class:`~datapredict.privacy.options.DifferentialPrivacy`: clip → sum over the fixed
denominator → Gaussian noise (→ adaptive clip norm). Its state, :class:`PrivacyState`
(the releases so far and the clip norm), is returned, never hidden: the coordinator's
core keeps it and checkpoints it with the server optimizer's, so a resumed job draws
the same noise and uses the same clip norm as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from datapredict.errors import NotInitializedError
from datapredict.privacy.adaptive import next_clip_norm
from datapredict.privacy.dp import (
    clipped_mean,
    clipped_mean_around,
    release_seed,
    update_norms,
)
from datapredict.privacy.options import AdaptiveClipping
from datapredict.privacy.prefetch import gaussian, prefetch

__all__ = ["PrivacyState", "PrivateMean"]


class PrivacyState(NamedTuple):
    """The private aggregation's state: ``releases`` (noisy updates so far: the next
    one's noise index) and ``clip_norm`` (C, a 0-d float64 array)."""

    releases: int
    clip_norm: np.ndarray


@dataclass(frozen=True)
class PrivateMean:
    """DP-FedAvg's aggregation, one pure step: ``(rows, state) -> (merged, state)``.

    Parameters
    ----------
    clip_norm : float
        The initial clip norm C.
    noise_multiplier : float
        The update's noise multiplier (z, or z_Δ with adaptive clipping): the noise's
        standard deviation is ``noise_multiplier · C / per_round``.
    per_round : int
        m, the fixed denominator (the children sampled per round).
    seed : numpy.random.SeedSequence
        Release ``r`` draws its noise from ``release_seed(seed, r)``; the next
        release's is drawn in the background meanwhile (:mod:`~datapredict.privacy.prefetch`).
    adaptive : AdaptiveClipping, optional
        Adapt C after each release.
    count_std : float, default=0
        σ_b, with ``adaptive``.
    """

    clip_norm: float
    noise_multiplier: float
    per_round: int
    seed: np.random.SeedSequence
    adaptive: AdaptiveClipping | None = None
    count_std: float = 0.0

    def init(self) -> PrivacyState:
        """The state before the first release."""
        return PrivacyState(0, np.array(self.clip_norm, dtype=np.float64))

    def noise_std(self, clip_norm: float) -> float:
        """The standard deviation of the noise on the mean: ``z · C / m``."""
        return self.noise_multiplier * clip_norm / self.per_round

    @staticmethod
    def update_norms(rows: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
        """Each row's update norm (see :func:`~datapredict.privacy.dp.update_norms`): a
        coordinator takes each push's as it arrives and passes them to :meth:`aggregate`."""
        return update_norms(rows, center)

    def aggregate(
        self,
        rows: np.ndarray,
        state: PrivacyState,
        center: np.ndarray | None = None,
        norms: np.ndarray | None = None,
    ) -> tuple[np.ndarray, PrivacyState]:
        """One private release from the (K, P) pushes.

        Parameters
        ----------
        rows : ndarray of shape (K, P)
            The pushes (K <= m). Not modified.
        state : PrivacyState
        center : ndarray of shape (P,), optional
            The main parameters, when the pushes are parameters: the updates are
            ``rows - center`` and the result is ``center`` plus the noisy mean update.
        norms : ndarray of shape (K,), optional
            The updates' norms, if already known (:meth:`update_norms`).

        Returns
        -------
        merged : ndarray of shape (P,)
            ``center +`` (or, without a center, just) ``Σ clip(Δ_k) / m + N(0, σ² I)``.
        state : PrivacyState
            One release more; the next clip norm.
        """
        clip_norm = float(state.clip_norm)
        size, dtype = rows.shape[1], rows.dtype
        std = self.noise_std(clip_norm)
        noise = gaussian(size, release_seed(self.seed, state.releases), dtype, std)
        if center is None:
            merged, norms = clipped_mean(rows, clip_norm, self.per_round, None, norms)
            merged += noise
        else:  # the noise's buffer is then reused: no temporary of P values
            merged, norms = clipped_mean_around(
                rows, clip_norm, self.per_round, center, norms, plus=noise
            )
        if self.adaptive is not None:
            policy = self.adaptive
            clip_norm = next_clip_norm(
                clip_norm,
                norms,
                self.per_round,
                policy.target_quantile,
                policy.learning_rate,
                self.count_std,
                release_seed(self.seed, state.releases, 1),
            )
        # The next release's noise, drawn while the next round trains (started last: the
        # draw would compete for the cores with this release's own work).
        next_std = self.noise_std(clip_norm)  # with the clip norm the next release uses
        prefetch(size, release_seed(self.seed, state.releases + 1), dtype, next_std)
        return merged, PrivacyState(state.releases + 1, np.array(clip_norm, dtype=np.float64))

    def aggregate_into(
        self,
        rows: np.ndarray,
        state: PrivacyState,
        main: np.ndarray | None,
        relative: bool,
        norms: np.ndarray | None = None,
    ) -> tuple[np.ndarray, PrivacyState]:
        """:meth:`aggregate` for a coordinator: ``relative`` pushes are parameters
        (centred on ``main``), the others steps."""
        if relative and main is None:
            raise NotInitializedError(
                "differential privacy: the pushes are parameters and there are no main "
                "parameters to take their updates from; set the main parameters first"
            )
        return self.aggregate(rows, state, main if relative else None, norms)
