"""Undoing a ``train`` call that diverged: the model's state before it, and the message.

A call whose costs or parameters end NaN or infinite is refused as a whole (with
``on_nonfinite="raise"``): :class:`Snapshot` holds what the call may change, taken
before it, and puts it back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Snapshot", "divergence_message"]


class Snapshot(NamedTuple):
    """A model's state before a ``train`` call (see :meth:`take`)."""

    attributes: dict[str, Any]
    flat: np.ndarray | None
    rng_state: dict[str, Any] | None

    @classmethod
    def take(cls, model: Any, *, draws: bool) -> Snapshot:
        """The attributes of ``model`` (training replaces them and never changes them in
        place, but for the parameters and the random generator), a copy of its parameters
        (in a reused scratch buffer, so no new memory per call) and, if the call ``draws``
        from the model's generator, the generator's state."""
        flat = None
        if model._flat is not None:
            flat = model._scratch("parameters before train", model._flat.shape)
            np.copyto(flat, model._flat)
        rng_state = model._rng.bit_generator.state if draws else None
        return cls(dict(model.__dict__), flat, rng_state)

    def restore(self, model: Any) -> None:
        """Put ``model`` back as it was when the snapshot was taken."""
        model.__dict__.clear()
        model.__dict__.update(self.attributes)
        if self.flat is not None:
            np.copyto(model._flat, self.flat)  # the same array: the ``_params`` views stay valid
        if self.rng_state is not None:
            model._rng.bit_generator.state = self.rng_state


def divergence_message(owner: str, costs: np.ndarray, learning_rate: float) -> str:
    """Say where a run of ``costs`` (one per iteration) diverged and what to try."""
    finite = np.isfinite(costs)
    if finite.all():
        where = "the parameters are NaN or infinite after the last step"
    else:
        first = int(np.argmin(finite))
        where = f"the cost is {costs[first]} at iteration {first} of {costs.size}"
    return (
        f"{owner}.train diverged: {where} (learning_rate={learning_rate}). Lower the "
        "learning rate or standardize the features"
    )
