"""Client sampling: which children take part in each round.

A round's children are drawn uniformly without replacement from a generator seeded by
the job's ``random_state`` and the round's index alone, so a resumed job samples the
same children as an uninterrupted one, on every backend.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from datapredict._validation import option_error

__all__ = ["ChildSampler"]


class ChildSampler:
    """Draws each round's children.

    Parameters
    ----------
    n_children : int
        Children in the job.
    per_round : int, float or None
        A count in [1, n_children], a fraction in (0, 1] (rounded to the nearest count,
        at least 1), or None for every child every round.
    seed : numpy.random.SeedSequence
        The job's seed; round ``r`` uses its child ``spawn_key + (r,)``.

    Examples
    --------
    >>> sampler = ChildSampler(10, 0.3, np.random.SeedSequence(0))
    >>> sampler.per_round, sampler.sample(4) == sampler.sample(4)
    (3, True)
    """

    def __init__(self, n_children: int, per_round: Any, seed: np.random.SeedSequence) -> None:
        self.n_children = n_children
        self.per_round = self._count(n_children, per_round)
        self.seed = seed

    @staticmethod
    def _count(n_children: int, per_round: Any) -> int:
        if per_round is None:
            return n_children
        expected = f"None, an int in [1, {n_children}] or a float in (0, 1]"
        if isinstance(per_round, bool):
            raise option_error("train_distributed", "children_per_round", expected, per_round)
        if isinstance(per_round, numbers.Integral):
            if not 1 <= per_round <= n_children:
                raise option_error("train_distributed", "children_per_round", expected, per_round)
            return int(per_round)
        if isinstance(per_round, numbers.Real) and 0 < per_round <= 1:
            return max(1, min(n_children, math.floor(per_round * n_children + 0.5)))
        raise option_error("train_distributed", "children_per_round", expected, per_round)

    @property
    def samples(self) -> bool:
        """Whether rounds take fewer than every child."""
        return self.per_round < self.n_children

    def sample(self, round_index: int) -> list[int]:
        """Round ``round_index``'s children, in increasing order."""
        if not self.samples:
            return list(range(self.n_children))
        seed = np.random.SeedSequence(
            self.seed.entropy, spawn_key=(*self.seed.spawn_key, round_index)
        )
        chosen = np.random.default_rng(seed).choice(self.n_children, self.per_round, replace=False)
        return sorted(chosen.tolist())
