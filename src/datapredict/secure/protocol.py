"""The public information of one secure round, as the server broadcasts it with the round.

A :class:`RoundSetup` holds only what every party may see: the round's participants,
their neighbour graph, their public keys, the threshold and the encoding. Workers mask
from it (with the child's own secrets); the runner checks from it alone whether a round's
survivors can still recover the sum (:meth:`RoundSetup.unrecoverable`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from datapredict.secure.fixed_point import FixedPoint

__all__ = ["RoundSetup"]


@dataclass(frozen=True)
class RoundSetup:
    """One round's public setup.

    Attributes
    ----------
    round : int
        The round's index (keys, labels and seeds are per round).
    participants : tuple of int
        The children asked to mask in this round, increasing.
    graph : dict
        ``{child: neighbours}`` (symmetric): pairs that agree masks.
    mask_keys, share_keys : dict
        ``{child: X25519 public key}`` for masks and for encrypting shares.
    threshold : int
        Shares needed to reconstruct one child's secret.
    codec : FixedPoint
        The encoding.
    clip : float
        Each coordinate of an update is clipped to ``[-clip, clip]``.
    delta : bool
        Children mask ``params - main`` (model parameters) rather than their push (steps).
    weight_scale : float or None
        A child weighs ``n_samples / weight_scale`` (a power of two: exact in fixed
        point); None: every child weighs 1.
    noise_std : float or None
        Standard deviation of the noise the round's masked sum carries (distributed DP).
    private : DistributedNoise or None
        Differential privacy done by the children
        (:mod:`~datapredict.secure.distributed_dp`): their clip norm, noise share and
        the fewest survivors a round needs.
    """

    round: int
    participants: tuple[int, ...]
    graph: dict[int, tuple[int, ...]]
    mask_keys: dict[int, bytes]
    share_keys: dict[int, bytes]
    threshold: int
    codec: FixedPoint
    clip: float
    delta: bool = False
    weight_scale: float | None = None
    noise_std: float | None = None
    private: Any = None

    def holders(self, child: int) -> tuple[int, ...]:
        """The children holding shares of ``child``'s secrets: itself and its neighbours."""
        return (child, *self.graph[child])

    def weight(self, n_samples: int) -> float:
        """A child's weight in the average."""
        return 1.0 if self.weight_scale is None else n_samples / self.weight_scale

    def unrecoverable(self, survivors: Iterable[int]) -> str | None:
        """Why the sum of ``survivors``' vectors cannot be unmasked, or None if it can.

        It can when every survivor's self-mask seed, and every dropped child's mask key
        (if it has surviving neighbours), has at least ``threshold`` surviving holders;
        with ``private``, also when enough children survived to carry the noise.
        """
        alive = set(survivors) & set(self.participants)
        if not alive:
            return "secure aggregation: no child of the round survived"
        short = None if self.private is None else self.private.short(len(alive))
        if short is not None:
            return f"round {self.round}: {short}; the round is not applied"
        short = []
        for child in self.participants:
            if child not in alive and not alive.intersection(self.graph[child]):
                continue  # dropped, and nobody masked with it: nothing to remove
            kept = len(alive.intersection(self.holders(child)))
            if kept < self.threshold:
                short.append(f"child {child} ({kept} of {len(self.holders(child))})")
        if not short:
            return None
        dropped = sorted(set(self.participants) - alive)
        return (
            f"secure aggregation of round {self.round}: {len(dropped)} of "
            f"{len(self.participants)} children dropped out ({dropped}); reconstructing a "
            f"secret needs {self.threshold} surviving share holders, and these children "
            f"have fewer: {', '.join(short)}; the round is not applied"
        )
