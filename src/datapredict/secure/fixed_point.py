"""Fixed-point encoding of float vectors into integers modulo R = 2**64.

Secure aggregation adds masked integers modulo R (Bonawitz et al. 2017, section 3): a
float ``x`` becomes ``round(clip(x, -range, range) * 2**fraction_bits)`` as a signed
64-bit integer, stored as its two's complement in a ``uint64``. numpy's ``uint64``
arithmetic wraps, which is exactly arithmetic modulo 2**64, so masking and summing are
plain ``np.add``. The sum of K encodings, read back as a signed integer, is the exact
sum of the rounded values as long as ``K * round(range * 2**fraction_bits) < 2**63``
(:meth:`FixedPoint.check_capacity`); each value carries a rounding error of at most
``2**-(fraction_bits + 1)``, so the decoded sum of K values is within
``K * 2**-(fraction_bits + 1)`` of the sum of the clipped values.

>>> import numpy as np
>>> codec = FixedPoint(range=8.0, fraction_bits=16)
>>> total = codec.encode(np.array([1.5, -2.25])) + codec.encode(np.array([-0.5, 0.75]))
>>> codec.decode(total).tolist()
[1.0, -1.5]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datapredict._validation import option_error

__all__ = ["FixedPoint"]


@dataclass(frozen=True)
class FixedPoint:
    """The encoding of one job: values clipped to ``[-range, range]``, ``2**-fraction_bits`` apart.

    Parameters
    ----------
    range : float
        Values are clipped to ``[-range, range]`` before encoding.
    fraction_bits : int
        The resolution is ``2**-fraction_bits``.
    """

    range: float
    fraction_bits: int

    @property
    def scale(self) -> float:
        """``2**fraction_bits``: one unit of the encoding is ``1 / scale``."""
        return float(2**self.fraction_bits)

    @property
    def max_summands(self) -> int:
        """How many encodings can be summed without overflowing the signed range."""
        largest = max(1, int(np.rint(self.range * self.scale)))  # |an encoded value|
        return (2**63 - 1) // largest

    def check_capacity(self, summands: int, owner: str = "SecureAggregation") -> None:
        """Raise unless ``summands`` encodings sum without overflow."""
        if summands > self.max_summands:
            raise option_error(
                owner,
                "range",
                f"small enough that {summands} children's values sum below 2**63 at "
                f"fraction_bits={self.fraction_bits} (range * 2**fraction_bits * children "
                f"< 2**63: at most {self.max_summands} children at these values)",
                self.range,
            )

    def encode(self, values: np.ndarray) -> np.ndarray:
        """``values`` (floats, any shape) as uint64 fixed-point numbers modulo 2**64."""
        scaled = np.clip(np.asarray(values, dtype=np.float64), -self.range, self.range)
        scaled *= self.scale
        np.rint(scaled, out=scaled)
        return scaled.astype(np.int64).view(np.uint64)

    def decode(self, total: np.ndarray) -> np.ndarray:
        """A sum of encodings (uint64, modulo 2**64) back to float64."""
        return np.asarray(total, dtype=np.uint64).view(np.int64) / self.scale
