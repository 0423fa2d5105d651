"""Shamir secret sharing over the prime field GF(2**521 - 1).

Shamir, "How to Share a Secret", CACM 1979: a secret ``s`` is the constant term of a
random polynomial ``f`` of degree ``t - 1``; holder ``x`` (an integer >= 1) receives
``f(x)``. Any ``t`` shares determine ``f`` and so ``s = f(0)`` (Lagrange interpolation
at 0); any ``t - 1`` shares are consistent with every secret, each equally likely.

The field is the Mersenne prime ``2**521 - 1``, larger than any 32-byte secret (keys,
seeds), so a secret is one field element. Secure aggregation shares two secrets per
child among its neighbours: O(children x neighbours) small numbers, so Python integers
are fast enough here (the vectors never go through this module).

>>> import numpy as np
>>> shares = split(123456789, holders=[1, 2, 3, 4], threshold=3, rng=np.random.default_rng(0))
>>> reconstruct({x: shares[x] for x in (1, 3, 4)}, threshold=3)
123456789
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from datapredict.errors import InvalidOptionError, SecureAggregationError

__all__ = ["PRIME", "reconstruct", "split"]

PRIME = 2**521 - 1
"""The field's modulus: a Mersenne prime above every 32-byte secret."""

_WORDS = 17  # 17 x 32 random bits > 521 bits: a coefficient is uniform up to 2**-23


def _random_element(rng: np.random.Generator) -> int:
    """A (nearly) uniform field element from ``rng``."""
    words = rng.integers(0, 2**32, size=_WORDS, dtype=np.uint64).tolist()
    return sum(w << (32 * i) for i, w in enumerate(words)) % PRIME


def split(
    secret: int, holders: Sequence[int], threshold: int, rng: np.random.Generator
) -> dict[int, int]:
    """Share ``secret`` among ``holders`` so that any ``threshold`` of them recover it.

    Parameters
    ----------
    secret : int
        In ``[0, PRIME)``.
    holders : sequence of int
        Distinct evaluation points, each >= 1 (a child ``c`` holds the share at ``c + 1``).
    threshold : int
        Shares needed to reconstruct, in ``[1, len(holders)]``.
    rng : numpy.random.Generator
        Draws the polynomial's coefficients (a real client uses a cryptographic source).

    Returns
    -------
    dict
        ``{holder: share}``.
    """
    if not 0 <= secret < PRIME:
        raise InvalidOptionError(f"split: secret must be in [0, 2**521 - 1); got {secret!r}")
    if len(set(holders)) != len(holders) or min(holders, default=1) < 1:
        raise InvalidOptionError(f"split: holders must be distinct integers >= 1; got {holders!r}")
    if not 1 <= threshold <= len(holders):
        raise InvalidOptionError(
            f"split: threshold must be in [1, {len(holders)}] (the holders); got {threshold!r}"
        )
    coefficients = [secret] + [_random_element(rng) for _ in range(threshold - 1)]
    shares = {}
    for x in holders:
        value = 0
        for coefficient in reversed(coefficients):  # Horner
            value = (value * x + coefficient) % PRIME
        shares[x] = value
    return shares


def reconstruct(shares: Mapping[int, int], threshold: int) -> int:
    """The secret from at least ``threshold`` shares ``{holder: share}`` (the first
    ``threshold`` holders in increasing order are used).

    Raises
    ------
    SecureAggregationError
        With fewer than ``threshold`` shares.
    """
    if len(shares) < threshold:
        raise SecureAggregationError(
            f"Shamir reconstruction needs {threshold} shares; got {len(shares)}"
        )
    points = sorted(shares)[:threshold]
    secret = 0
    for i in points:
        numerator = denominator = 1
        for j in points:
            if j != i:
                numerator = numerator * j % PRIME
                denominator = denominator * (j - i) % PRIME
        secret = (secret + shares[i] * numerator * pow(denominator, -1, PRIME)) % PRIME
    return secret
