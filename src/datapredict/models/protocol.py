"""What a coordinator needs of a child: ``typing.Protocol`` definitions.

Any object with these methods can be a child (a scikit-learn adapter, a PyTorch
wrapper, ...); the coordinators never check for datapredict's own classes.

The child protocol of ``train_distributed``
-------------------------------------------
A job calls a child's methods in this order; :func:`datapredict.adapters.check_child`
checks the required ones once. ``params`` is whatever structure the child chooses (one
ndarray, a list or tuple of ndarrays, a dict of ndarrays; float dtype); the job records
it once with :class:`~datapredict.parameters.Layout` and exchanges it as one flat vector.

1. ``model = model_factory()``: once for the main model, once per child (on its worker,
   in a Ray actor on a remote machine: the factory must be picklable there).
2. ``set_parameters(max_iterations=N)`` (children; ``N = local_iterations``, 1 for the
   gradients strategy). If ``get_params()`` exists and lists ``"random_state"``, the
   call also passes ``random_state=numpy.random.Generator``, spawned per child from the
   job's ``random_state`` (the main model gets its own): all of the child's randomness
   (initialisation, batch order) should come from it, so that a sync job gives the same
   parameters on every backend. One iteration is the child's unit of work (an epoch, a
   full-batch step); ``train`` runs ``N`` of them.
3. ``initialize(n_features, labels)``, optional: create the parameters. ``labels`` are
   the targets of the whole job (every shard's), so a classifier knows every class even
   when its shard lacks some. The main model is initialised only when
   ``get_model_parameters()`` returns None; its parameters start every child.
4. ``set_are_gradients_saved(True)`` (gradients strategy).
5. Each round: ``set_model_parameters(params)`` with the main parameters, as read-only
   views (copy them in; do not keep them); ``costs = train(X, y)``, an array with one
   cost per iteration, ``costs[0]`` measured at the received parameters; then the push:
   ``get_model_parameters()`` (a copy, the job owns it) or ``get_gradients()``, the step
   the last ``train`` applied: the child went from ``before`` to ``before - step``, and
   ``DistributedGradients(gradient_change_mode="descent")`` applies ``main -= step``.
6. The main model: ``set_model_parameters(main)`` and, with ``eval_data``,
   ``score(X, y)`` (higher is better) after each round.

``docs/child_protocol.md`` shows a complete child of about twenty lines that trains
under ``train_distributed`` (a test runs it).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from datapredict.parameters import ModelParameters

__all__ = ["ChildModel", "GradientChild", "ReinforcementChild", "accepts_random_state"]


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


def accepts_random_state(model: Any) -> bool:
    """Whether ``model`` takes a ``random_state`` (it lists one in ``get_params()``), which
    the runner sets from each child's seed."""
    get_params = getattr(model, "get_params", None)
    return callable(get_params) and "random_state" in get_params()
