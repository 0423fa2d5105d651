"""A child's side of a secure round: its secrets, its shares, its masked vector.

Bonawitz et al. 2017, with the graph of Bell et al. 2020. In round ``r``, child ``u``

1. holds two X25519 key pairs (``mask``: agrees pairwise masks; ``share``: encrypts
   shares) and a 32-byte self-mask seed ``b_u``, and advertises the public keys;
2. Shamir-shares its mask secret key and ``b_u`` among its holders (itself and its
   neighbours), each share encrypted for its recipient (the server only routes them);
3. sends ``y_u = encode(w_u x_u, w_u) + PRG(b_u) + sum_{v > u} PRG(s_uv) -
   sum_{v < u} PRG(s_uv)`` over its neighbours ``v`` (``s_uv`` agreed by X25519);
4. reveals, for each child whose shares it holds, the share the server asks for: of
   ``b_v`` if ``v`` survived, of ``v``'s mask key if it dropped out, never both.

Simulation: a child's secrets are derived from its seed and the round's index (the same
on every worker and in every resumed job); a real deployment draws them on the device
from a cryptographic source. Only public keys, encrypted shares, masked vectors and the
requested shares leave a :class:`SecAggClient`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from datapredict.errors import SecureAggregationError
from datapredict.secure import shamir
from datapredict.secure.keys import agree, decrypt, encrypt, key_pair, pair_label, prg
from datapredict.secure.protocol import RoundSetup

__all__ = ["SecAggClient", "mask_block"]

logger = logging.getLogger("datapredict")

_TAG = 0x5EC466  # the spawn-key branch of a child's seed used for secure aggregation
_SECRETS, _NOISE, _POLYNOMIALS = 0, 1, 2
_SHARE_BYTES = 66  # a field element of GF(2**521 - 1)


def _branch(seed: np.random.SeedSequence, round_index: int, purpose: int):
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, _TAG, round_index, purpose)
    )


class SecAggClient:
    """Child ``child``'s secrets and steps in round ``round_index``.

    Parameters
    ----------
    child : int
        The child's index.
    seed : numpy.random.SeedSequence
        The child's seed (its secrets for every round derive from it).
    round_index : int
        The round.
    """

    def __init__(self, child: int, seed: np.random.SeedSequence, round_index: int) -> None:
        self.child, self.seed, self.round = child, seed, round_index
        material = _branch(seed, round_index, _SECRETS).generate_state(24, np.uint32).tobytes()
        self._mask = key_pair(material[:32])
        self._share = key_pair(material[32:64])
        self._self_seed = material[64:96]
        self._revealed: dict[int, str] = {}

    def public_keys(self) -> tuple[bytes, bytes]:
        """Step 1: the (mask, share) public keys to advertise."""
        return self._mask.public, self._share.public

    def _share_key(self, setup: RoundSetup, other: int) -> tuple[bytes, bytes]:
        label = pair_label("share", self.round, self.child, other)
        return agree(self._share.secret, setup.share_keys[other], label), label

    def share_secrets(self, setup: RoundSetup) -> dict[int, bytes]:
        """Step 2: ``{holder: ciphertext}``, each holder's shares of the mask secret key
        and of ``b_u``, encrypted for it."""
        holders = setup.holders(self.child)
        rng = np.random.default_rng(_branch(self.seed, self.round, _POLYNOMIALS))
        points = [h + 1 for h in holders]
        key_shares = shamir.split(
            int.from_bytes(self._mask.secret, "little"), points, setup.threshold, rng
        )
        seed_shares = shamir.split(
            int.from_bytes(self._self_seed, "little"), points, setup.threshold, rng
        )
        messages = {}
        for holder, point in zip(holders, points, strict=True):
            plaintext = key_shares[point].to_bytes(_SHARE_BYTES, "little")
            plaintext += seed_shares[point].to_bytes(_SHARE_BYTES, "little")
            key, label = self._share_key(setup, holder)
            messages[holder] = encrypt(key, self.child, holder, plaintext, label)
        return messages

    def mask(self, update: np.ndarray, weight: float, setup: RoundSetup) -> np.ndarray:
        """Step 3: the masked encoding of ``weight * clip(update)`` and ``weight``.

        With distributed differential privacy (``setup.private``), ``update`` is already
        clipped to L2 norm C on the worker and the child's noise share, drawn from its
        seed and the round, is added before encoding.

        Parameters
        ----------
        update : ndarray of shape (P,)
            The child's update (a step, or ``params - main``).
        weight : float
            The child's weight in [0, 1].
        setup : RoundSetup
            The round's public setup.

        Returns
        -------
        ndarray of uint64, shape (P + 1,)
        """
        size = update.size + 1
        if setup.private is not None:  # distributed DP: ``update`` is clipped, weight 1
            scaled = np.asarray(update, dtype=np.float64) * weight
            scaled += setup.private.share(scaled.size, _branch(self.seed, self.round, _NOISE))
        else:
            scaled = np.clip(np.asarray(update, dtype=np.float64), -setup.clip, setup.clip)
            scaled *= weight
        if setup.noise_std:
            rng = np.random.default_rng(_branch(self.seed, self.round, _NOISE))
            share = setup.noise_std / np.sqrt(len(setup.participants))
            scaled += rng.normal(0.0, share, size=scaled.size)
        masked = np.empty(size, dtype=np.uint64)
        masked[:-1] = setup.codec.encode(scaled)
        masked[-1:] = setup.codec.encode(np.array([weight]))
        masked += prg(self._self_seed, size)
        for other in setup.graph[self.child]:
            label = pair_label("mask", self.round, self.child, other)
            stream = prg(agree(self._mask.secret, setup.mask_keys[other], label), size)
            if other > self.child:
                masked += stream
            else:
                masked -= stream
        return masked

    def reveal(
        self, request: dict[int, str], inbox: dict[int, bytes], setup: RoundSetup
    ) -> dict[int, int]:
        """Step 4: ``{owner: share}`` for ``request = {owner: "seed" | "key"}``.

        Raises
        ------
        SecureAggregationError
            If the server asks for both secrets of one child (over all its requests).
        """
        answer = {}
        for owner, kind in sorted(request.items()):
            if self._revealed.setdefault(owner, kind) != kind:
                raise SecureAggregationError(
                    f"child {self.child} refuses to reveal child {owner}'s {kind} share: "
                    f"it already revealed its {self._revealed[owner]} share (the server "
                    "would learn the child's unmasked vector)"
                )
            key, label = self._share_key(setup, owner)
            plaintext = decrypt(key, owner, self.child, inbox[owner], label)
            part = plaintext[:_SHARE_BYTES] if kind == "key" else plaintext[_SHARE_BYTES:]
            answer[owner] = int.from_bytes(part, "little")
        return answer


def mask_block(
    block: np.ndarray,
    results: list,
    main: np.ndarray,
    setup: RoundSetup,
    seeds: Sequence[np.random.SeedSequence],
) -> np.ndarray:
    """A worker's (k, P) block of pushes as the (k, P + 1) block of their masked encodings.

    Each successful result's payload becomes the masked block (failed children's rows are
    left zero); the unmasked block stays on the worker.
    """
    masked = np.zeros((block.shape[0], block.shape[1] + 1), dtype=np.uint64)
    for result in results:
        if result.error is not None:
            continue
        update = block[result.row] - main if setup.delta else block[result.row]
        if setup.private is not None:  # distributed DP: clipped to C before masking
            update = setup.private.clip(update)
        largest = float(np.abs(update).max(initial=0.0))
        if largest > setup.clip:
            logger.warning(
                "secure aggregation: child %d's update reaches %.3g, beyond range=%g; it is "
                "clipped (raise SecureAggregation(range=...))",
                result.child,
                largest,
                setup.clip,
            )
        client = SecAggClient(result.child, seeds[result.child], setup.round)
        masked[result.row] = client.mask(update, setup.weight(result.n_samples), setup)
        result.payload, result.nbytes = masked, masked[result.row].nbytes
    return masked
