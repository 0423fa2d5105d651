"""``SecureAggregation``: the option that hides each child's update from the server."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from datapredict._validation import check_float, check_int, option_error
from datapredict.secure.fixed_point import FixedPoint

__all__ = ["SecureAggregation"]

_OWNER = "SecureAggregation"


@dataclass(frozen=True)
class SecureAggregation:
    """Secure aggregation (SecAgg / SecAgg+) of a sync job's averaging merge.

    Each child masks a fixed-point encoding of its weighted update with pairwise masks
    agreed with its neighbours (X25519) and a self mask; the server sees only masked
    vectors, and learns only their sum. Each child's secrets are Shamir-shared among its
    neighbours, so the sum is recovered while enough of them survive (see
    ``docs/secure-aggregation.md``).

    Parameters
    ----------
    threshold : float or int, default=0.6
        Shares needed to reconstruct a child's secret: a fraction in (0.5, 1] of its
        share holders (itself and its neighbours), rounded up, or a count (capped at
        the holders). More than half, so that the server can never learn both secrets
        of one child from honest holders. A round recovers its sum while each child's
        holders keep at least this many survivors; otherwise it fails and the main
        parameters stay as they were.
    neighbours : "log", "all" or int, default="log"
        The mask graph: "log" is SecAgg+ (``2 ceil(log2 n)`` neighbours among ``n``
        children), "all" classic SecAgg (every pair), an int a fixed degree.
    range : float, default=1024
        Each coordinate of a child's update is clipped to ``[-range, range]``.
    fraction_bits : int, default=32
        Fixed-point resolution ``2**-fraction_bits``: the aggregate is exact to
        ``children * 2**-(fraction_bits + 1)`` before averaging.
    noise_std : float, optional
        Distributed differential privacy: each of the round's ``m`` children adds
        Gaussian noise of standard deviation ``noise_std / sqrt(m)`` to its weighted
        update before encoding, so the securely summed update carries noise of standard
        deviation ``noise_std``. No accountant: for DP-FedAvg's clipped, accounted
        noise pass ``privacy=DifferentialPrivacy(...)`` to ``train_distributed`` instead
        (:mod:`~datapredict.secure.distributed_dp`; the two are not combined).

    Examples
    --------
    >>> SecureAggregation(threshold=0.75, neighbours="all").shares_needed(4)
    3
    """

    threshold: float | int = 0.6
    neighbours: str | int = "log"
    range: float = 1024.0
    fraction_bits: int = 32
    noise_std: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.threshold, numbers.Integral) and not isinstance(self.threshold, bool):
            check_int(_OWNER, "threshold", self.threshold, minimum=1)
        else:
            check_float(_OWNER, "threshold", self.threshold, low=0.5, high=1, low_open=True)
        if not (self.neighbours in ("log", "all") or _is_int(self.neighbours)):
            raise option_error(
                _OWNER, "neighbours", "'log', 'all' or an integer >= 1", self.neighbours
            )
        if _is_int(self.neighbours):
            check_int(_OWNER, "neighbours", self.neighbours, minimum=1)
        check_float(_OWNER, "range", self.range, low=0, low_open=True)
        check_int(_OWNER, "fraction_bits", self.fraction_bits, minimum=0)
        if max(self.range, 1.0) * 2.0**self.fraction_bits > 2.0**53:
            raise option_error(
                _OWNER,
                "fraction_bits",
                f"at most {52 - math.ceil(math.log2(max(self.range, 1.0)))} at range="
                f"{self.range:g} (range * 2**fraction_bits <= 2**53, exact in float64)",
                self.fraction_bits,
            )
        if self.noise_std is not None:
            check_float(_OWNER, "noise_std", self.noise_std, low=0)

    @property
    def codec(self) -> FixedPoint:
        """The fixed-point encoding of the updates (weights are encoded in [0, 1])."""
        return FixedPoint(max(self.range, 1.0), self.fraction_bits)

    def shares_needed(self, holders: int) -> int:
        """Shares that reconstruct a secret held by ``holders`` children (more than half)."""
        if isinstance(self.threshold, numbers.Integral):
            needed = min(int(self.threshold), holders)
        else:
            needed = math.ceil(self.threshold * holders - 1e-9)
        return max(needed, holders // 2 + 1)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
