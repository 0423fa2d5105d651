"""The server's side of a secure round: what it holds, and how it unmasks the sum.

:class:`SecAggServer` only ever stores what the server of Bonawitz et al. 2017 sees:
the participants' public keys, the encrypted shares it routes (it cannot read them),
the running modular sum of the masked vectors received and, after unmasking, the sum.
The secrets it reconstructs (the survivors' self-mask seeds, the dropped children's mask
keys) live only inside :meth:`SecAggServer.unmask`, which removes their masks:

- for each survivor ``u``: ``- PRG(b_u)``;
- for each dropped ``u`` and each surviving neighbour ``v``: the mask ``v`` added for
  the pair, ``+PRG(s_uv)`` if ``u > v`` else ``-PRG(s_uv)``, is taken away.

Cost: O(survivors + dropped x neighbours) mask expansions of P + 1 values, plus the sum
of the survivors' vectors, each one in-place ``np.add`` at memory speed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from datapredict.errors import SecureAggregationError
from datapredict.secure import shamir
from datapredict.secure.fixed_point import FixedPoint
from datapredict.secure.graph import neighbour_graph
from datapredict.secure.keys import agree, pair_label, prg
from datapredict.secure.protocol import RoundSetup

__all__ = ["SecAggServer"]


class SecAggServer:
    """One round of secure aggregation, seen from the server.

    Parameters
    ----------
    round_index : int
        The round.
    participants : iterable of int
        The children asked to take part.
    degree : int
        Neighbours per child (:func:`~datapredict.secure.graph.degree`).
    threshold : int
        Shares needed to reconstruct a child's secret.
    graph_seed : numpy.random.SeedSequence
        The round's public seed for the neighbour graph.
    codec : FixedPoint
        The encoding.
    **public
        The rest of :class:`RoundSetup` (``clip``, ``delta``, ``weight_scale``,
        ``noise_std``).
    """

    def __init__(
        self,
        round_index: int,
        participants: Iterable[int],
        degree: int,
        threshold: int,
        graph_seed: np.random.SeedSequence,
        codec: FixedPoint,
        **public,
    ) -> None:
        self.round = round_index
        self.participants = tuple(sorted(participants))
        self.graph = neighbour_graph(self.participants, degree, graph_seed)
        self.threshold, self.codec = threshold, codec
        self.public = public
        self.mask_keys: dict[int, bytes] = {}
        self.share_keys: dict[int, bytes] = {}
        self.mailbox: dict[int, dict[int, bytes]] = {c: {} for c in self.participants}
        self.total: np.ndarray | None = None  # shaped by the first masked vector
        self.received: list[int] = []
        self.result: np.ndarray | None = None

    def advertise(self, child: int, mask_key: bytes, share_key: bytes) -> None:
        """Step 1: a participant's public keys."""
        self.mask_keys[child], self.share_keys[child] = mask_key, share_key

    def setup(self) -> RoundSetup:
        """The public setup, once every participant advertised its keys."""
        missing = sorted(set(self.participants) - set(self.mask_keys))
        if missing:
            raise SecureAggregationError(f"children {missing} advertised no public keys")
        return RoundSetup(
            round=self.round,
            participants=self.participants,
            graph=self.graph,
            mask_keys=dict(self.mask_keys),
            share_keys=dict(self.share_keys),
            threshold=self.threshold,
            codec=self.codec,
            **self.public,
        )

    def route(self, sender: int, messages: dict[int, bytes]) -> None:
        """Step 2: keep ``sender``'s encrypted shares for their recipients."""
        for recipient, ciphertext in messages.items():
            self.mailbox[recipient][sender] = ciphertext

    def inbox(self, recipient: int) -> dict[int, bytes]:
        """The encrypted shares addressed to ``recipient``, by sender."""
        return dict(self.mailbox[recipient])

    def receive(self, child: int, masked: np.ndarray) -> None:
        """Step 3: add one masked vector to the running sum (modulo 2**64)."""
        if child not in self.mailbox or child in self.received:
            raise SecureAggregationError(
                f"round {self.round}: a masked vector from child {child}, which is not a "
                "participant or already sent one"
            )
        shape = masked.shape if self.total is None else self.total.shape
        if masked.dtype != np.uint64 or masked.ndim != 1 or masked.shape != shape:
            raise SecureAggregationError(
                f"round {self.round}: child {child}'s masked vector has dtype {masked.dtype} "
                f"and shape {masked.shape}; expected uint64 of shape {shape}"
            )
        if self.total is None:
            self.total = masked.copy()
        else:
            self.total += masked
        self.received.append(child)

    def requests(self) -> dict[int, dict[int, str]]:
        """Step 4: what each survivor is asked to reveal, ``{survivor: {owner: kind}}``:
        "seed" (the self-mask seed) of surviving owners, "key" (the mask secret key) of
        dropped ones.

        Raises
        ------
        SecureAggregationError
            If too few share holders survived (:meth:`RoundSetup.unrecoverable`).
        """
        problem = self.setup().unrecoverable(self.received)
        if problem is not None:
            raise SecureAggregationError(problem)
        alive = set(self.received)
        return {
            v: {u: "seed" if u in alive else "key" for u in (v, *self.graph[v])}
            for v in self.received
        }

    def unmask(self, responses: dict[int, dict[int, int]]) -> np.ndarray:
        """The decoded sum (float64, P + 1 values) from the survivors' revealed shares."""
        alive = set(self.received)
        shares: dict[int, dict[int, int]] = {}
        for holder, answer in responses.items():
            for owner, share in answer.items():
                shares.setdefault(owner, {})[holder + 1] = share
        total = self.total.copy()
        size = total.size
        for u in self.participants:
            if u in alive:
                seed = self._secret(shares, u)
                total -= prg(seed, size)
                continue
            survivors = [v for v in self.graph[u] if v in alive]
            if not survivors:
                continue
            secret = self._secret(shares, u)
            for v in survivors:
                stream = prg(
                    agree(secret, self.mask_keys[v], pair_label("mask", self.round, u, v)), size
                )
                if u > v:
                    total -= stream
                else:
                    total += stream
        self.result = self.codec.decode(total)
        return self.result

    def _secret(self, shares: dict[int, dict[int, int]], owner: int) -> bytes:
        """Reconstruct ``owner``'s requested secret as 32 bytes."""
        got = shares.get(owner, {})
        if len(got) < self.threshold:
            raise SecureAggregationError(
                f"round {self.round}: child {owner}'s secret needs {self.threshold} shares; "
                f"{len(got)} were revealed"
            )
        value = shamir.reconstruct(got, self.threshold)
        if value >= 2**256:
            raise SecureAggregationError(
                f"round {self.round}: child {owner}'s shares are inconsistent"
            )
        return value.to_bytes(32, "little")
