"""Server optimizers: how the main parameters move towards a merged vector.

A server optimizer is an optax-style pair of pure methods::

    state = optimizer.init(params)
    new_params, new_state = optimizer.update(merged, state, params)

``params`` is the current main vector x (shape ``(P,)``), ``merged`` the output of a
merge rule over the children. Every rule except :class:`Replace` treats the
*pseudo-gradient* ``delta = merged - params`` as a gradient in the ascent convention
(Reddi et al., 2021): ``merged`` is where the children would like to go. ``update``
never mutates its inputs; it returns new arrays in the dtype of ``params`` and a new
state. The state is a ``NamedTuple`` of an int step ``count`` and numpy arrays
(:mod:`datapredict.merge.optimizer_state`), so a checkpoint can save its fields
(``np.savez(path, **state._asdict())``) and rebuild it with the same class. ``params``
must be a non-empty 1-D float array.

On the gradients path a coordinator holds a combined *step* in the descent convention
(``params_new = params - step``). No separate API is needed: pass
``merged = params - step``, so that ``delta = -step``::

    new_params, state = optimizer.update(params - step, state, params)

With :class:`Replace` this is exactly ``params - step``.

The optimizers (frozen dataclasses) are in :mod:`datapredict.merge.fedopt`; this module
states the contract, re-exports them and holds the registry of names.

Examples
--------
>>> import numpy as np
>>> optimizer = FedAvgM(learning_rate=1.0, momentum=0.5)
>>> params = np.zeros(2)
>>> state = optimizer.init(params)
>>> params, state = optimizer.update(np.ones(2), state, params)
>>> params, state = optimizer.update(np.ones(2), state, params)
>>> params.tolist(), state.count
([1.5, 1.5], 2)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from datapredict.merge.fedopt import FedAdagrad, FedAdam, FedAvgM, FedYogi, Replace
from datapredict.merge.optimizer_state import FedAvgMState, FedOptState, ReplaceState
from datapredict.merge.registry import Registry

__all__ = [
    "SERVER_OPTIMIZERS",
    "FedAdagrad",
    "FedAdam",
    "FedAvgM",
    "FedAvgMState",
    "FedOptState",
    "FedYogi",
    "Replace",
    "ReplaceState",
    "ServerOptimizer",
    "resolve_server_optimizer",
]


@runtime_checkable
class ServerOptimizer(Protocol):
    """What a coordinator needs from a server optimizer.

    Any object with these two methods works; the classes of this module are examples.
    """

    def init(self, params: np.ndarray) -> Any:
        """Return the initial state for main parameters ``params`` of shape ``(P,)``."""
        ...

    def update(self, merged: np.ndarray, state: Any, params: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return ``(new_params, new_state)``; mutate nothing."""
        ...


# A names table and its Registry, declared as for the staleness weights (staleness.py):
# data only, alike on purpose; the resolving logic is Registry's.
SERVER_OPTIMIZERS: dict[str, type] = {
    "replace": Replace,
    "fedavgm": FedAvgM,
    "fedadagrad": FedAdagrad,
    "fedadam": FedAdam,
    "fedyogi": FedYogi,
}
"""Server optimizers by string name; each class is built with its default options."""

_REGISTRY: Registry[ServerOptimizer] = Registry(
    option="server_optimizer",
    names=SERVER_OPTIMIZERS,
    instance="an instance with init and update (e.g. FedAdam())",
    is_instance=lambda value: isinstance(value, ServerOptimizer),
    default=Replace,
)


def resolve_server_optimizer(value: Any, *, owner: str = "datapredict") -> ServerOptimizer:
    """Turn ``None``, a name or an optimizer object into a server optimizer.

    ``None`` gives :class:`Replace`; a name from :data:`SERVER_OPTIMIZERS`
    (case-insensitive) gives that class with default options; an object with ``init``
    and ``update`` methods is returned as is. Anything else raises
    :class:`~datapredict.errors.InvalidOptionError` naming ``owner``, as
    :meth:`Registry.resolve <datapredict.merge.registry.Registry.resolve>` does.

    Examples
    --------
    >>> resolve_server_optimizer("FedAdam")
    FedAdam(learning_rate=0.1, beta1=0.9, beta2=0.99, tau=0.001)
    >>> resolve_server_optimizer(None)
    Replace()
    """
    return _REGISTRY.resolve(value, owner=owner)
