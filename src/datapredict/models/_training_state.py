"""A model's training state apart from its parameters, so one instance can train many
children in turn (a worker of a pool) and each child keeps its own state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TrainingState", "TrainingStateMixin"]


@dataclass
class TrainingState:
    """What a model carries from one ``train`` call to the next besides its parameters:
    its random generator (batch order), its step rule's state (momentum, Adam moments)
    and its position in the current batch order."""

    rng: np.random.Generator
    step_state: Any
    order: np.ndarray | None
    cursor: int


class TrainingStateMixin:
    """``get_training_state`` / ``set_training_state`` for :class:`GradientModel`."""

    def get_training_state(self) -> TrainingState:
        """This model's training state (the objects themselves, not copies)."""
        return TrainingState(self._rng, self._step_state, self._order, self._cursor)

    def set_training_state(self, state: TrainingState | None, *, seed: Any = None) -> None:
        """Take ``state`` over; ``None`` starts afresh: a generator from ``seed`` (a
        ``SeedSequence``, an int or None) and an empty step-rule state.

        The parameters must exist already (their size sizes the step rule's state).
        """
        if state is None:
            self._rng = np.random.default_rng(seed)
            self._reset_training_state()
            return
        self._rng, self._step_state = state.rng, state.step_state
        self._order, self._cursor = state.order, state.cursor
