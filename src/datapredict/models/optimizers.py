"""Client-side step rules: turn a flat gradient into the step a model applies.

Each rule is an optax-style pair of pure functions over flat vectors:
``init(size) -> state`` and ``step(gradient, state, learning_rate) -> (step, new_state)``.
The model subtracts ``step`` from its parameters, and saves it when gradients are saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["STEP_RULES", "StepRule", "adam", "momentum", "sgd"]


class StepRule(NamedTuple):
    """A client step rule: ``init(size)`` and ``step(gradient, state, learning_rate)``."""

    init: Callable[[int], tuple]
    step: Callable[[np.ndarray, tuple, float], tuple[np.ndarray, tuple]]


def sgd() -> StepRule:
    """Plain gradient step: ``step = learning_rate * gradient``."""

    def init(size: int) -> tuple:
        return ()

    def step(gradient: np.ndarray, state: tuple, learning_rate: float):
        return learning_rate * gradient, state

    return StepRule(init, step)


def momentum(beta: float = 0.9) -> StepRule:
    """Heavy-ball momentum: ``v = beta * v + g``; ``step = learning_rate * v``."""

    def init(size: int) -> tuple:
        return (np.zeros(size),)

    def step(gradient: np.ndarray, state: tuple, learning_rate: float):
        (velocity,) = state
        velocity = beta * velocity + gradient
        return learning_rate * velocity, (velocity,)

    return StepRule(init, step)


def adam(beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> StepRule:
    """Adam (Kingma & Ba, 2015) with bias correction."""

    def init(size: int) -> tuple:
        return (0, np.zeros(size), np.zeros(size))

    def step(gradient: np.ndarray, state: tuple, learning_rate: float):
        count, first, second = state
        count += 1
        first = beta1 * first + (1.0 - beta1) * gradient
        second = beta2 * second + (1.0 - beta2) * gradient * gradient
        first_hat = first / (1.0 - beta1**count)
        second_hat = second / (1.0 - beta2**count)
        return learning_rate * first_hat / (np.sqrt(second_hat) + epsilon), (count, first, second)

    return StepRule(init, step)


STEP_RULES: dict[str, Callable[[], StepRule]] = {"sgd": sgd, "momentum": momentum, "adam": adam}
