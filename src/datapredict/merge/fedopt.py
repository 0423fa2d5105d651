"""The server optimizers: replace (the seed's rule), FedAvgM and the FedOpt family.

Each is a frozen dataclass of validated options with two pure methods, ``init(params) ->
state`` and ``update(merged, state, params) -> (new_params, new_state)``; the contract is
in :mod:`datapredict.merge.server_optimizers`, the state types in
:mod:`datapredict.merge.optimizer_state`. FedAdagrad, FedAdam and FedYogi share
:class:`_FedOpt` and differ in their second-moment rule only.

References
----------
.. [1] S. J. Reddi, Z. Charles, M. Zaheer, Z. Garrett, K. Rush, J. Konečný, S. Kumar,
   H. B. McMahan, "Adaptive Federated Optimization", ICLR 2021 (Algorithm 2).
.. [2] T.-M. H. Hsu, H. Qi, M. Brown, "Measuring the Effects of Non-Identical Data
   Distribution for Federated Visual Classification", arXiv:1909.06335, 2019.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datapredict.merge.optimizer_state import (
    FedAvgMState,
    FedOptState,
    ReplaceState,
    check_buffer,
    check_merged,
    check_params,
    pseudo_gradient,
    validate_options,
)

__all__ = ["FedAdagrad", "FedAdam", "FedAvgM", "FedYogi", "Replace"]


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
        check_params(type(self).__name__, "init", params)
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
        merged = check_merged(type(self).__name__, merged, params)
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
        validate_options(self)

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
        params = check_params(type(self).__name__, "init", params)
        return FedAvgMState(count=0, momentum=np.zeros_like(params))

    def update(
        self, merged: np.ndarray, state: FedAvgMState, params: np.ndarray
    ) -> tuple[np.ndarray, FedAvgMState]:
        """Apply one momentum step towards ``merged``.

        The arguments and the result are those of :meth:`Replace.update`, with a
        :class:`FedAvgMState`.
        """
        owner = type(self).__name__
        delta = pseudo_gradient(owner, merged, params)
        velocity = check_buffer(owner, "momentum", state.momentum, params)
        velocity = (self.momentum * velocity + delta).astype(params.dtype, copy=False)
        new_params = (params + self.learning_rate * velocity).astype(params.dtype, copy=False)
        return new_params, FedAvgMState(count=int(state.count) + 1, momentum=velocity)


class _FedOpt:
    """Shared ``init`` / ``update`` of Reddi et al.'s adaptive server optimizers.

    Subclasses are frozen dataclasses with ``learning_rate``, ``beta1`` and ``tau`` (and
    any options of their own, validated here too) and supply only the second-moment rule
    :meth:`_second_moment`.
    """

    learning_rate: float
    beta1: float
    tau: float

    def __post_init__(self) -> None:
        validate_options(self)

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
        params = check_params(type(self).__name__, "init", params)
        return FedOptState(count=0, m=np.zeros_like(params), v=np.full_like(params, self.tau**2))

    def update(
        self, merged: np.ndarray, state: FedOptState, params: np.ndarray
    ) -> tuple[np.ndarray, FedOptState]:
        """Apply one adaptive step towards ``merged``.

        With ``delta = merged - params``::

            m <- beta1 * m + (1 - beta1) * delta
            v <- second-moment rule of the subclass
            x <- x + learning_rate * m / (sqrt(v) + tau)

        The arguments and the result are those of :meth:`Replace.update`, with a
        :class:`FedOptState`.
        """
        owner = type(self).__name__
        delta = pseudo_gradient(owner, merged, params)
        m = check_buffer(owner, "m", state.m, params)
        v = check_buffer(owner, "v", state.v, params)
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
    beta1, beta2, tau : float
        As for :class:`FedAdam` (``beta2``, in [0, 1), is here the rate of the additive
        step rather than a decay).
    """

    learning_rate: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3

    def _second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return v - (1.0 - self.beta2) * delta_sq * np.sign(v - delta_sq)
