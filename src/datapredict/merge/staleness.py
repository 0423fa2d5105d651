"""Staleness weights for asynchronous pushes (FedAsync, FedBuff).

A push computed from main version ``tau`` that arrives when the main parameters are at
version ``t`` has *staleness* ``s = t - tau``, counted in server updates. A staleness
weight maps ``s`` to a factor in (0, 1] that discounts stale pushes; ``s = 0`` always
gives 1.

- FedAsync (Xie et al., 2019) mixes ``x <- (1 - alpha_t) x + alpha_t x_new`` with
  ``alpha_t = alpha * weight(s)``.
- FedBuff (Nguyen et al., 2022) accumulates ``weight(s) * delta`` over a buffer of K
  pushes and divides by K, with ``weight(s) = 1 / sqrt(1 + s)``: ``Polynomial(a=0.5)``.

Each weight is a callable ``weight(staleness)``: a Python or numpy integer gives a
float, a non-empty integer array gives a float64 array of the same shape.

References
----------
.. [1] C. Xie, S. Koyejo, I. Gupta, "Asynchronous Federated Optimization",
   arXiv:1903.03934, 2019 (OPT 2020).
.. [2] J. Nguyen, K. Malik, H. Zhan, A. Yousefpour, M. Rabbat, M. Malek, D. Huba,
   "Federated Learning with Buffered Asynchronous Aggregation", AISTATS 2022.

Examples
--------
>>> import numpy as np
>>> Polynomial(a=0.5)(3)
0.5
>>> Hinge(a=1.0, b=2)(np.arange(6)).tolist()
[1.0, 1.0, 1.0, 0.5, 0.3333333333333333, 0.25]
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from datapredict._validation import check_float, check_int
from datapredict.errors import DataTypeError, InvalidDataError
from datapredict.merge.registry import Registry

__all__ = [
    "STALENESS_WEIGHTS",
    "Constant",
    "Hinge",
    "Polynomial",
    "StalenessWeight",
    "resolve_staleness",
]


@runtime_checkable
class StalenessWeight(Protocol):
    """A callable mapping staleness (non-negative integers) to weights in (0, 1]."""

    def __call__(self, staleness: int | np.ndarray) -> float | np.ndarray:
        """Return the weight of a push with this staleness (1 for staleness 0).

        Parameters
        ----------
        staleness : int or ndarray of int
            Non-negative staleness, in server updates.

        Returns
        -------
        float or ndarray of float64
            A float for an integer, an array of the shape of an array.
        """
        ...


def _check_staleness(owner: str, staleness: Any) -> np.ndarray:
    """Return ``staleness`` as an int64 array; raise unless it holds non-negative integers.

    Raises
    ------
    DataTypeError
        Unless ``staleness`` is an integer or an integer ndarray.
    InvalidDataError
        For an empty array or a negative value.
    """
    scalar = isinstance(staleness, numbers.Integral) and not isinstance(staleness, bool)
    array = np.asarray(staleness)
    if not scalar and (not isinstance(staleness, np.ndarray) or array.dtype.kind not in "iu"):
        raise DataTypeError(
            f"{owner}: staleness must be a non-negative integer or an integer array; "
            f"got {staleness!r}"
        )
    if array.size == 0:
        raise InvalidDataError(
            f"{owner}: staleness must hold at least one value; got shape {array.shape}"
        )
    if np.any(array < 0):
        raise InvalidDataError(
            f"{owner}: staleness must be a non-negative integer; got {staleness!r}"
        )
    return array.astype(np.int64, copy=False)


def _as_output(weights: np.ndarray, staleness: Any) -> float | np.ndarray:
    """Return a float for scalar staleness, a float64 array for an array."""
    if isinstance(staleness, np.ndarray):
        return np.asarray(weights, dtype=np.float64)
    return float(weights)


@dataclass(frozen=True)
class Constant:
    """Every push gets weight 1, whatever its staleness (FedAsync's constant s)."""

    def __call__(self, staleness: int | np.ndarray) -> float | np.ndarray:
        """Return 1 for each staleness value (see :class:`StalenessWeight`)."""
        array = _check_staleness(type(self).__name__, staleness)
        return _as_output(np.ones(array.shape), staleness)


@dataclass(frozen=True)
class Polynomial:
    """Polynomial decay ``(1 + s) ** (-a)`` (FedAsync's polynomial s_a).

    The default ``a = 0.5`` is FedBuff's ``1 / sqrt(1 + s)`` and the value FedAsync's
    experiments use.

    Parameters
    ----------
    a : float, default=0.5
        Decay exponent, > 0.
    """

    a: float = 0.5

    def __post_init__(self) -> None:
        a = check_float(type(self).__name__, "a", self.a, low=0.0, low_open=True)
        object.__setattr__(self, "a", a)

    def __call__(self, staleness: int | np.ndarray) -> float | np.ndarray:
        """Return ``(1 + staleness) ** (-a)`` (see :class:`StalenessWeight`)."""
        array = _check_staleness(type(self).__name__, staleness)
        return _as_output(np.power(1.0 + array, -self.a), staleness)


@dataclass(frozen=True)
class Hinge:
    """Full weight up to ``b``, then hyperbolic decay (FedAsync's hinge s_{a,b}).

    ``weight(s) = 1`` if ``s <= b``, else ``1 / (a * (s - b) + 1)``. The defaults
    ``a = 10, b = 4`` are those of FedAsync's experiments: pushes up to 4 versions old
    count fully, older ones are cut hard (weight 1/11 at staleness 5).

    Parameters
    ----------
    a : float, default=10.0
        Decay rate beyond ``b``, > 0.
    b : int, default=4
        Staleness tolerated at full weight, >= 0.
    """

    a: float = 10.0
    b: int = 4

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "a", check_float(owner, "a", self.a, low=0.0, low_open=True))
        object.__setattr__(self, "b", check_int(owner, "b", self.b, minimum=0))

    def __call__(self, staleness: int | np.ndarray) -> float | np.ndarray:
        """Return 1 up to staleness ``b``, ``1 / (a (s - b) + 1)`` beyond (see
        :class:`StalenessWeight`)."""
        array = _check_staleness(type(self).__name__, staleness)
        excess = np.maximum(array - self.b, 0)
        return _as_output(1.0 / (self.a * excess + 1.0), staleness)


# A names table and its Registry, declared as for the server optimizers (server_optimizers.py):
# data only, alike on purpose; the resolving logic is Registry's.
STALENESS_WEIGHTS: dict[str, type] = {
    "constant": Constant,
    "polynomial": Polynomial,
    "hinge": Hinge,
}
"""Staleness weights by string name; each class is built with its default options."""

_REGISTRY: Registry[StalenessWeight] = Registry(
    option="staleness",
    names=STALENESS_WEIGHTS,
    instance="a callable weight(staleness) (e.g. Polynomial(a=0.5))",
    is_instance=callable,
    default=Constant,
)


def resolve_staleness(value: Any, *, owner: str = "datapredict") -> StalenessWeight:
    """Turn ``None``, a name or a callable into a staleness weight.

    ``None`` gives :class:`Constant`; a name from :data:`STALENESS_WEIGHTS`
    (case-insensitive) gives that class with default options; a callable
    ``weight(staleness)`` (an instance, not a class) is returned as is. Anything else
    raises :class:`~datapredict.errors.InvalidOptionError` naming ``owner``, as
    :meth:`Registry.resolve <datapredict.merge.registry.Registry.resolve>` does.

    Examples
    --------
    >>> resolve_staleness("hinge")
    Hinge(a=10.0, b=4)
    """
    return _REGISTRY.resolve(value, owner=owner)
