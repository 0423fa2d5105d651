"""Server optimizers: how the main parameters move towards a merged vector.

A server optimizer is an optax-style pair of pure methods::

    state = optimizer.init(params)
    new_params, new_state = optimizer.update(merged, state, params)

``params`` is the current main vector x (shape ``(P,)``), ``merged`` the output of a
merge rule over the children. Every rule except :class:`Replace` treats the
*pseudo-gradient* ``delta = merged - params`` as a gradient in the ascent convention
(Reddi et al., 2021): ``merged`` is where the children would like to go. ``update``
never mutates its inputs; it returns new arrays in the dtype of ``params`` and a new
state. The state is a ``NamedTuple`` of an int step ``count`` and numpy arrays, so a
checkpoint can save its fields (``np.savez(path, **state._asdict())``) and rebuild it
with the same ``NamedTuple`` class.

On the gradients path a coordinator holds a combined *step* in the descent convention
(``params_new = params - step``). No separate API is needed: pass
``merged = params - step``, so that ``delta = -step``::

    new_params, state = optimizer.update(params - step, state, params)

With :class:`Replace` this is exactly ``params - step``.

References
----------
.. [1] S. J. Reddi, Z. Charles, M. Zaheer, Z. Garrett, K. Rush, J. Konečný, S. Kumar,
   H. B. McMahan, "Adaptive Federated Optimization", ICLR 2021 (Algorithm 2).
.. [2] T.-M. H. Hsu, H. Qi, M. Brown, "Measuring the Effects of Non-Identical Data
   Distribution for Federated Visual Classification", arXiv:1909.06335, 2019.

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

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from datapredict._validation import check_float, option_error
from datapredict.errors import DataTypeError, ParameterStructureError

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


class ReplaceState(NamedTuple):
    """State of :class:`Replace`: only the number of updates applied."""

    count: int


class FedAvgMState(NamedTuple):
    """State of :class:`FedAvgM`.

    Attributes
    ----------
    count : int
        Number of updates applied.
    momentum : ndarray of shape (P,)
        The momentum buffer v, in the ascent convention of ``merged - params``.
    """

    count: int
    momentum: np.ndarray


class FedOptState(NamedTuple):
    """State of :class:`FedAdagrad`, :class:`FedAdam` and :class:`FedYogi`.

    Attributes
    ----------
    count : int
        Number of updates applied.
    m : ndarray of shape (P,)
        First moment of the pseudo-gradient (starts at 0).
    v : ndarray of shape (P,)
        Second-moment estimate (starts at ``tau**2``).
    """

    count: int
    m: np.ndarray
    v: np.ndarray


def _check_params(owner: str, method: str, params: Any) -> np.ndarray:
    """Return ``params`` if it is a float ndarray; raise otherwise."""
    if not isinstance(params, np.ndarray) or params.dtype.kind != "f":
        kind = params.dtype if isinstance(params, np.ndarray) else type(params).__name__
        raise DataTypeError(f"{owner}.{method}: params must be a float ndarray; got {kind}")
    return params


def _check_vectors(owner: str, merged: Any, params: Any) -> np.ndarray:
    """Validate ``merged`` and ``params`` for ``update``; return ``merged`` as an array."""
    _check_params(owner, "update", params)
    merged = np.asarray(merged)
    if merged.shape != params.shape:
        raise ParameterStructureError(
            f"{owner}.update: merged has shape {merged.shape}; params have shape {params.shape}"
        )
    return merged


def _pseudo_gradient(owner: str, merged: Any, params: Any) -> np.ndarray:
    """Return ``delta = merged - params`` in the dtype of ``params``, after validation."""
    merged = _check_vectors(owner, merged, params)
    return merged.astype(params.dtype, copy=False) - params


def _check_buffer(owner: str, name: str, buffer: Any, params: np.ndarray) -> np.ndarray:
    """Check that a state array matches ``params``, as ``init(params)`` would have made it."""
    if not isinstance(buffer, np.ndarray) or buffer.shape != params.shape:
        shape = buffer.shape if isinstance(buffer, np.ndarray) else type(buffer).__name__
        raise ParameterStructureError(
            f"{owner}.update: state.{name} has shape {shape}; params have shape "
            f"{params.shape}. Make sure you pass the state returned by init(params)."
        )
    return buffer


def _validate_options(optimizer: Any, unit_options: tuple[str, ...]) -> None:
    """Check a frozen optimizer dataclass's options at construction; store them as floats.

    ``learning_rate`` and ``tau`` (when present) must be > 0; ``unit_options`` in [0, 1).
    """
    owner = type(optimizer).__name__
    for name in ("learning_rate", "tau"):
        if hasattr(optimizer, name):
            value = check_float(owner, name, getattr(optimizer, name), low=0.0, low_open=True)
            object.__setattr__(optimizer, name, value)
    for name in unit_options:
        value = check_float(
            owner, name, getattr(optimizer, name), low=0.0, high=1.0, high_open=True
        )
        object.__setattr__(optimizer, name, value)


@dataclass(frozen=True)
class Replace:
    """The seed's rule: the merged vector becomes the main parameters.

    ``update`` returns a copy of ``merged`` in the dtype of ``params``. This is the
    default server optimizer.
    """

    def init(self, params: np.ndarray) -> ReplaceState:
        """Return the initial state (a zero count).

        Parameters
        ----------
        params : ndarray of shape (P,)
            The main parameters.

        Returns
        -------
        ReplaceState
        """
        _check_params(type(self).__name__, "init", params)
        return ReplaceState(count=0)

    def update(
        self, merged: np.ndarray, state: ReplaceState, params: np.ndarray
    ) -> tuple[np.ndarray, ReplaceState]:
        """Return ``(copy of merged, state with count + 1)``.

        Parameters
        ----------
        merged : ndarray of shape (P,)
            Output of the merge rule.
        state : ReplaceState
            The state from :meth:`init` or the previous :meth:`update`.
        params : ndarray of shape (P,)
            The current main parameters (float dtype; sets the output dtype).

        Returns
        -------
        new_params : ndarray of shape (P,)
        new_state : ReplaceState
        """
        merged = _check_vectors(type(self).__name__, merged, params)
        return np.array(merged, dtype=params.dtype), ReplaceState(count=int(state.count) + 1)


@dataclass(frozen=True)
class FedAvgM:
    """Server momentum (FedAvgM, Hsu et al., 2019).

    With ``delta = merged - params``::

        v <- momentum * v + delta
        x <- x + learning_rate * v

    This is the paper's ``v <- beta v + (x - avg); x <- x - eta v`` with v of the
    opposite sign, so the parameters move towards ``merged``. The effective step is
    about ``learning_rate / (1 - momentum)``. With ``momentum=0`` and
    ``learning_rate=1`` it equals :class:`Replace` (up to rounding); Flower's FedAvgM
    defaults to ``momentum=0``; we default to 0.9, a common value in Hsu et al.'s sweeps.

    Parameters
    ----------
    learning_rate : float, default=1.0
        Server learning rate eta, > 0.
    momentum : float, default=0.9
        Momentum beta, in [0, 1).
    """

    learning_rate: float = 1.0
    momentum: float = 0.9

    def __post_init__(self) -> None:
        _validate_options(self, ("momentum",))

    def init(self, params: np.ndarray) -> FedAvgMState:
        """Return the initial state: a zero count and a zero momentum buffer.

        Parameters
        ----------
        params : ndarray of shape (P,)
            The main parameters; the buffer has their shape and dtype.

        Returns
        -------
        FedAvgMState
        """
        params = _check_params(type(self).__name__, "init", params)
        return FedAvgMState(count=0, momentum=np.zeros_like(params))

    def update(
        self, merged: np.ndarray, state: FedAvgMState, params: np.ndarray
    ) -> tuple[np.ndarray, FedAvgMState]:
        """Apply one momentum step towards ``merged``.

        Parameters
        ----------
        merged : ndarray of shape (P,)
            Output of the merge rule.
        state : FedAvgMState
            The state from :meth:`init` or the previous :meth:`update`.
        params : ndarray of shape (P,)
            The current main parameters (float dtype; sets the output dtype).

        Returns
        -------
        new_params : ndarray of shape (P,)
        new_state : FedAvgMState
        """
        owner = type(self).__name__
        delta = _pseudo_gradient(owner, merged, params)
        velocity = _check_buffer(owner, "momentum", state.momentum, params)
        velocity = (self.momentum * velocity + delta).astype(params.dtype, copy=False)
        new_params = (params + self.learning_rate * velocity).astype(params.dtype, copy=False)
        return new_params, FedAvgMState(count=int(state.count) + 1, momentum=velocity)


class _FedOpt:
    """Shared ``init`` / ``update`` of Reddi et al.'s adaptive server optimizers.

    Subclasses are frozen dataclasses with ``learning_rate``, ``beta1`` and ``tau`` and
    supply only the second-moment rule :meth:`_second_moment`.
    """

    learning_rate: float
    beta1: float
    tau: float

    def _second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def init(self, params: np.ndarray) -> FedOptState:
        """Return the initial state: count 0, ``m = 0`` and ``v = tau**2``.

        ``v = tau**2`` is the paper's choice ``v_{-1} >= tau**2``. Flower starts from
        ``v = 0``, which gives larger first steps where ``|delta|`` is about ``tau`` or
        smaller.

        Parameters
        ----------
        params : ndarray of shape (P,)
            The main parameters; ``m`` and ``v`` have their shape and dtype.

        Returns
        -------
        FedOptState
        """
        params = _check_params(type(self).__name__, "init", params)
        return FedOptState(count=0, m=np.zeros_like(params), v=np.full_like(params, self.tau**2))

    def update(
        self, merged: np.ndarray, state: FedOptState, params: np.ndarray
    ) -> tuple[np.ndarray, FedOptState]:
        """Apply one adaptive step towards ``merged``.

        With ``delta = merged - params``::

            m <- beta1 * m + (1 - beta1) * delta
            v <- second-moment rule of the subclass
            x <- x + learning_rate * m / (sqrt(v) + tau)

        Parameters
        ----------
        merged : ndarray of shape (P,)
            Output of the merge rule.
        state : FedOptState
            The state from :meth:`init` or the previous :meth:`update`.
        params : ndarray of shape (P,)
            The current main parameters (float dtype; sets the output dtype).

        Returns
        -------
        new_params : ndarray of shape (P,)
        new_state : FedOptState
        """
        owner = type(self).__name__
        delta = _pseudo_gradient(owner, merged, params)
        m = _check_buffer(owner, "m", state.m, params)
        v = _check_buffer(owner, "v", state.v, params)
        dtype = params.dtype
        m = (self.beta1 * m + (1.0 - self.beta1) * delta).astype(dtype, copy=False)
        v = self._second_moment(v, np.square(delta)).astype(dtype, copy=False)
        step = self.learning_rate * m / (np.sqrt(v) + self.tau)
        new_params = (params + step).astype(dtype, copy=False)
        return new_params, FedOptState(count=int(state.count) + 1, m=m, v=v)


@dataclass(frozen=True)
class FedAdagrad(_FedOpt):
    """Adagrad on the server (FedAdagrad, Reddi et al., 2021).

    Second moment: ``v <- v + delta**2``. The paper keeps a first moment with
    ``beta1``; Flower forces ``beta1 = 0`` (``m = delta``), which is our default.

    Parameters
    ----------
    learning_rate : float, default=0.1
        Server learning rate eta, > 0.
    tau : float, default=1e-3
        Adaptivity (denominator floor), > 0; ``v`` starts at ``tau**2``.
    beta1 : float, default=0.0
        First-moment decay, in [0, 1). Keyword only.
    """

    learning_rate: float = 0.1
    tau: float = 1e-3
    beta1: float = field(default=0.0, kw_only=True)

    def __post_init__(self) -> None:
        _validate_options(self, ("beta1",))

    def _second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return v + delta_sq


@dataclass(frozen=True)
class FedAdam(_FedOpt):
    """Adam on the server (FedAdam, Reddi et al., 2021).

    Second moment: ``v <- beta2 * v + (1 - beta2) * delta**2``. No bias correction, as
    in the paper (Flower adds one since PR #4362).

    Parameters
    ----------
    learning_rate : float, default=0.1
        Server learning rate eta, > 0.
    beta1 : float, default=0.9
        First-moment decay, in [0, 1).
    beta2 : float, default=0.99
        Second-moment decay, in [0, 1).
    tau : float, default=1e-3
        Adaptivity (denominator floor), > 0; ``v`` starts at ``tau**2``.
    """

    learning_rate: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3

    def __post_init__(self) -> None:
        _validate_options(self, ("beta1", "beta2"))

    def _second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return self.beta2 * v + (1.0 - self.beta2) * delta_sq


@dataclass(frozen=True)
class FedYogi(_FedOpt):
    """Yogi on the server (FedYogi, Reddi et al., 2021).

    Second moment: ``v <- v - (1 - beta2) * delta**2 * sign(v - delta**2)``; ``v``
    moves additively towards ``delta**2`` and stays positive.

    Parameters
    ----------
    learning_rate : float, default=0.01
        Server learning rate eta, > 0.
    beta1 : float, default=0.9
        First-moment decay, in [0, 1).
    beta2 : float, default=0.99
        Second-moment rate, in [0, 1).
    tau : float, default=1e-3
        Adaptivity (denominator floor), > 0; ``v`` starts at ``tau**2``.
    """

    learning_rate: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3

    def __post_init__(self) -> None:
        _validate_options(self, ("beta1", "beta2"))

    def _second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return v - (1.0 - self.beta2) * delta_sq * np.sign(v - delta_sq)


SERVER_OPTIMIZERS: dict[str, type] = {
    "replace": Replace,
    "fedavgm": FedAvgM,
    "fedadagrad": FedAdagrad,
    "fedadam": FedAdam,
    "fedyogi": FedYogi,
}
"""Server optimizers by string name; each class is built with its default options."""


def resolve_server_optimizer(value: Any, *, owner: str = "datapredict") -> ServerOptimizer:
    """Turn ``None``, a name or an optimizer object into a server optimizer.

    Parameters
    ----------
    value : None, str or ServerOptimizer
        ``None`` gives :class:`Replace`; a name from :data:`SERVER_OPTIMIZERS`
        (case-insensitive) gives that class with default options; an object with
        ``init`` and ``update`` methods is returned as is.
    owner : str, default="datapredict"
        Who asks, for the error message (e.g. ``"DistributedModelParameters"``).

    Returns
    -------
    ServerOptimizer

    Raises
    ------
    InvalidOptionError
        For an unknown name, a class instead of an instance, or any other value.

    Examples
    --------
    >>> resolve_server_optimizer("FedAdam")
    FedAdam(learning_rate=0.1, beta1=0.9, beta2=0.99, tau=0.001)
    >>> resolve_server_optimizer(None)
    Replace()
    """
    if value is None:
        return Replace()
    if isinstance(value, str) and value.lower() in SERVER_OPTIMIZERS:
        return SERVER_OPTIMIZERS[value.lower()]()
    if not isinstance(value, str | type) and isinstance(value, ServerOptimizer):
        return value
    names = ", ".join(map(repr, SERVER_OPTIMIZERS))
    expected = f"None, one of {names}, or an instance with init and update (e.g. FedAdam())"
    raise option_error(owner, "server_optimizer", expected, value)
