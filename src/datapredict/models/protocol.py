"""What a coordinator needs of a child: ``typing.Protocol`` definitions.

Any object with these methods can be a child (a scikit-learn adapter, a PyTorch
wrapper, ...); the coordinators never check for datapredict's own classes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from datapredict.parameters import ModelParameters

__all__ = ["ChildModel", "GradientChild", "ReinforcementChild"]


@runtime_checkable
class ChildModel(Protocol):
    """A child for the model-parameters path."""

    def train(self, X: Any, y: Any) -> Any:
        """Train from the current parameters."""

    def get_model_parameters(self) -> ModelParameters | None:
        """Return a copy of the parameters."""

    def set_model_parameters(self, params: ModelParameters) -> None:
        """Validate and copy ``params`` in."""


@runtime_checkable
class GradientChild(ChildModel, Protocol):
    """A child for the gradients path: it saves the step its last iteration applied."""

    def set_are_gradients_saved(self, saved: bool) -> None:
        """Keep the last step."""

    def get_gradients(self) -> ModelParameters:
        """Return the last step."""


@runtime_checkable
class ReinforcementChild(ChildModel, Protocol):
    """A child trained by rewards rather than labels."""

    def reinforce(self, *args: Any, **kwargs: Any) -> Any:
        """One reinforcement update."""
