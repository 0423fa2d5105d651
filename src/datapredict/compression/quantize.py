"""Stochastic uniform quantisation to 8 or 4 bits (QSGD-style; Alistarh et al., NeurIPS 2017).

With ``s = 2**(bits - 1) - 1`` (127 for 8 bits, 7 for 4 bits) and a vector's scale
``m`` (its largest magnitude), each value ``v`` becomes one of the ``2s + 1`` levels
``l * m / s``, ``l`` in ``[-s, s]``, sent as the code ``l + s`` in ``[0, 2s]``. With
``x = v * s / m + s``, the code is ``floor(x) + 1`` with probability ``x - floor(x)``
and ``floor(x)`` otherwise, so ``E[code] = x`` and ``E[decode(encode(v))] = v``: the
quantiser is unbiased. This is QSGD's ``sign * level`` code, one code per value; 4-bit
codes are packed two per byte (the first value in the low nibble).

**The scale is the largest magnitude, not QSGD's L2 norm.** With the norm, a value of a
typical vector is about ``||v|| / sqrt(P)``: at ``P = 1e5``, ``sqrt(P) = 316 > s = 127``,
so nearly every value would be rounded between the levels 0 and 1, with a variance of
about ``|v_i| * ||v|| / s`` each. With the largest magnitude the levels span the values
and each value's variance is at most ``(m / s)**2 / 4`` (QSGD's own experiments scale by
the max-norm of each bucket too). The multiplier ``s * 2**16 / m`` is rounded down
by two units in the last place, so that rounding can never push a code out of range.

**Cheap randomness, no float64 temporaries.** The rounding works on ``t = floor(x *
2**16)``, an integer below ``2**24`` (exact in float32): ``code = (t + u) >> 16`` for a
uniform 16-bit ``u`` carries into the next level with probability ``(t mod 2**16) /
2**16`` exactly, so ``E[code] = t / 2**16``: unbiased up to a truncation below
``2**-16`` of a level and a relative ``2**-21`` from the rounded-down multiplier
(float32's own rounding of ``x`` is 2**-16 of a level near the top of the 8-bit range).
``u`` is a 16-bit slice of SFC64's raw output (no float uniforms). The vector is
processed in blocks of ``2**16`` values so the temporaries stay in cache.

Limits: a vector whose largest magnitude is so small that the multiplier overflows
(below about 2.4e-32 in float32, 1e-301 in float64) is sent as zeros; a scale within
an ulp of the dtype's largest float may decode to infinity (which the coordinator
refuses, as it refuses any non-finite push).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from datapredict._validation import option_error
from datapredict.compression.base import Payload, check_vector

__all__ = ["QuantizedPayload", "StochasticQuantizer"]

_BLOCK = 1 << 16  # values per block: the block's temporaries stay in the L2 cache
_FRACTION = 1 << 16  # the rounding's resolution: 16 bits of the fractional part


def _levels(bits: int) -> int:
    """``s``: the codes are ``[0, 2s]``, the levels ``[-s, s]``."""
    return (1 << (bits - 1)) - 1


@dataclass(frozen=True, eq=False)
class QuantizedPayload(Payload):
    """A quantised vector: one code per value (4 bits: two per byte) and its scale.

    Attributes
    ----------
    codes : ndarray of uint8
        ``size`` codes in ``[0, 2s]`` (8 bits), or ``ceil(size / 2)`` bytes holding two
        4-bit codes each, the first in the low nibble.
    scale : ndarray of shape (1,)
        The vector's largest magnitude, in the vector's dtype (which the decoded
        vector has).
    bits : {8, 4}
        Bits per code.
    size : int
        Values in the vector.
    """

    codes: np.ndarray
    scale: np.ndarray
    bits: int
    size: int

    @property
    def nbytes(self) -> int:
        """Bytes of the codes and the scale."""
        return int(self.codes.nbytes + self.scale.nbytes)

    def decode(self) -> np.ndarray:
        """The vector of levels: ``(code - s) * (scale / s)`` for each value."""
        s = _levels(self.bits)
        step = self.scale[0] / self.scale.dtype.type(s)
        if not np.isfinite(step):  # the vector held NaN or infinity
            return np.full(self.size, np.nan, self.scale.dtype)
        out = np.empty(self.size, self.scale.dtype)
        level = np.empty(min(self.size, _BLOCK), np.int16)
        for start in range(0, self.size, _BLOCK):
            stop = min(start + _BLOCK, self.size)
            if self.bits == 8:
                codes = self.codes[start:stop]
            else:
                codes = _unpack(self.codes[start // 2 : (stop + 1) // 2])[: stop - start]
            np.subtract(codes, np.int16(s), out=level[: stop - start])
            np.multiply(level[: stop - start], step, out=out[start:stop])
        return out


@dataclass(frozen=True)
class StochasticQuantizer:
    """Unbiased stochastic quantisation to ``bits`` bits per value (see the module's note).

    Parameters
    ----------
    bits : {8, 4}, default=8
        8: one byte per value; 4: two values per byte.

    Examples
    --------
    >>> import numpy as np
    >>> quantizer = StochasticQuantizer(bits=8)
    >>> vector = np.linspace(-1, 1, 1000, dtype=np.float32)
    >>> payload, _ = quantizer.encode(vector, None, seed=0)
    >>> payload.nbytes, vector.nbytes
    (1004, 4000)
    >>> bool(np.abs(payload.decode() - vector).max() <= 1 / 127)
    True
    """

    bits: int = 8

    def __post_init__(self) -> None:
        integer = isinstance(self.bits, numbers.Integral) and not isinstance(self.bits, bool)
        if not integer or self.bits not in (4, 8):
            raise option_error("StochasticQuantizer", "bits", "8 or 4", self.bits)

    @property
    def name(self) -> str:
        """``"int8"`` or ``"int4"``."""
        return f"int{self.bits}"

    def encode(
        self, vector: np.ndarray, state: Any = None, seed: Any = None
    ) -> tuple[QuantizedPayload, None]:
        """Quantise ``vector``; the quantiser keeps no state.

        Parameters
        ----------
        vector : ndarray of shape (P,), float32 or float64
            Not modified.
        state : None
            The quantiser has no state between pushes.
        seed : SeedSequence, int or None
            Seeds the stochastic rounding (same seed, same codes).

        Returns
        -------
        (QuantizedPayload, None)
            A vector holding NaN or infinity gives a payload whose scale is not finite,
            so that it decodes to a non-finite vector (which the coordinator refuses).
        """
        owner = f"StochasticQuantizer(bits={self.bits}).encode"
        vector = check_vector(owner, vector)
        if state is not None:
            raise option_error(owner, "state", "None (the quantiser keeps no state)", state)
        s = _levels(self.bits)
        peak = _peak(vector)
        scale = np.array([peak], dtype=vector.dtype)
        size = vector.size
        codes = np.empty(size if self.bits == 8 else (size + 1) // 2, np.uint8)
        a, c = rounding_constants(peak, self.bits, vector.dtype)
        if a == 0:  # every code at level 0: zeros, or NaN when the scale is not finite
            codes.fill(s if self.bits == 8 else s | s << 4)
            return QuantizedPayload(codes, scale, self.bits, size), None
        bitgen = np.random.SFC64(seed)
        x = np.empty(min(size, _BLOCK), vector.dtype)
        t = np.empty(min(size, _BLOCK) + 1, "<i4")  # +1: a zero pads an odd last pair
        for start in range(0, size, _BLOCK):
            block = vector[start : start + _BLOCK]
            n = block.size
            noise = bitgen.random_raw(-(-n // 4)).view("<u2")[:n]
            levels = round_block(block, a, c, noise, x[:n], t[:n])
            if self.bits == 8:
                np.copyto(codes[start : start + n], levels, casting="unsafe")
            else:
                pairs = (n + 1) // 2
                t[n] = 0
                _pack(t[: 2 * pairs], codes[start // 2 : start // 2 + pairs])
        return QuantizedPayload(codes, scale, self.bits, size), None


def _peak(vector: np.ndarray) -> float:
    """The largest magnitude (NaN if any value is NaN), block by block: the block's
    ``min`` reads it from cache after its ``max`` read it from memory."""
    peaks = [
        max(float(block.max()), -float(block.min()))
        for block in (vector[start : start + _BLOCK] for start in range(0, vector.size, _BLOCK))
    ]
    return float(np.max(peaks))  # np.max keeps a NaN, Python's max may not


def rounding_constants(peak: float, bits: int, dtype: np.dtype) -> tuple[Any, Any]:
    """``(a, c)`` of :func:`round_block` for a vector of largest magnitude ``peak``.

    ``a`` is ``s * 2**16 / peak`` in ``dtype`` rounded down by two units in the last
    place (so ``|v| * a <= s * 2**16`` for every value despite rounding), or 0 when it
    overflows ``dtype`` or ``peak`` is 0 or not finite; ``c = s * 2**16``.
    """
    real = np.dtype(dtype).type
    s = _levels(bits)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        a = real(s * _FRACTION / peak) if peak > 0 else real(0)
    if not np.isfinite(a):
        return real(0), real(s * _FRACTION)
    a = np.nextafter(np.nextafter(a, real(0)), real(0))
    return a, real(s * _FRACTION)


def round_block(
    block: np.ndarray, a: Any, c: Any, noise: np.ndarray, x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """The codes of one block, written to ``t`` (int32) and returned.

    ``x = block * a + c`` is ``(v * s / m + s) * 2**16`` in ``[0, 2s * 2**16]``; its
    floor ``t`` holds the level above the fraction's 16 bits, and adding ``noise`` (one
    uniform 16-bit integer per value) carries into the next level with probability
    ``fraction / 2**16``. ``x`` is a scratch buffer of the block's dtype.
    """
    np.multiply(block, a, out=x)
    np.add(x, c, out=x)
    np.copyto(t, x, casting="unsafe")  # x >= 0: truncation is the floor
    np.add(t, noise, out=t)
    np.right_shift(t, 16, out=t)
    return t


def _pack(levels: np.ndarray, out: np.ndarray) -> None:
    """Two 4-bit codes per byte: ``levels`` (int32, even length) into ``out`` (uint8)."""
    pairs = levels.view("<i8")  # a pair is first + second * 2**32
    packed = np.right_shift(pairs, 28)  # second * 16 (first < 16 shifts out)
    np.bitwise_or(packed, pairs, out=packed)  # low byte: first + second * 16
    np.copyto(out, packed, casting="unsafe")  # keeps the low byte


def _unpack(packed: np.ndarray) -> np.ndarray:
    """The 4-bit codes of ``packed`` bytes, two per byte, as uint8 (first: low nibble)."""
    pairs = packed.astype("<u2")  # second * 16 + first
    np.bitwise_or(pairs, np.left_shift(pairs, 4), out=pairs)
    np.bitwise_and(pairs, 0x0F0F, out=pairs)  # first in the low byte, second in the high
    return pairs.view(np.uint8)
