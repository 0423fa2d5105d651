"""The coordinators' door: validate a push (its parameters, version, id and weight) and
turn its parameters into a flat vector, once, before anything is queued or locked."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from datapredict.errors import (
    DataTypeError,
    InvalidOptionError,
    NonFiniteError,
    ParameterStructureError,
)
from datapredict.parameters import (
    _AMORTISED_BLAS,
    _ONE_THREAD_BLAS,
    Layout,
    ModelParameters,
    check_finite,
    is_finite_fast,
)

__all__ = [
    "check_finite_vector",
    "check_push_id",
    "check_version",
    "check_weight",
    "enter",
    "enter_flat",
    "new_main",
    "restore_vector",
]


def check_finite_vector(vector: np.ndarray, name: str) -> None:
    """Raise :class:`NonFiniteError` if ``vector`` holds NaN or infinity.

    The fast proof of :func:`is_finite_fast` first; the elementwise test (which counts
    the bad values) only when it fails.
    """
    if is_finite_fast(vector):
        return
    finite = np.isfinite(vector)
    if not finite.all():
        bad = int(vector.size - np.count_nonzero(finite))
        raise NonFiniteError(f"{name} must be finite; it holds {bad} NaN or infinite values")


def enter(
    layout: Layout, params: ModelParameters, name: str, *, copy: bool
) -> tuple[np.ndarray, bool]:
    """Validate ``params`` against ``layout`` and return them as one finite flat vector,
    and whether every ``|value| < 2**511`` was proven on the way.

    With ``copy=False`` a single contiguous array of the layout's dtype is returned as
    is or as a view (no copy); other structures are always copied into a new vector.
    The finiteness proof is one ``vdot`` (its finite sum of squares bounds every value
    by ``sqrt(max float) < 2**512``); such a vector added to finite parameters cannot
    overflow, which lets the parameter server apply it in place without a check.
    """
    vector = layout.flatten(params, name, copy=copy)
    # _prove_finite's small case, inlined (a call is ~5% of a small push)
    if vector.size <= _ONE_THREAD_BLAS and math.isfinite(np.vdot(vector, vector)):
        return vector, True
    return vector, _prove_finite(vector, name)


def enter_flat(layout: Layout, vector: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """:func:`enter` for a push that is already flat: a (P,) float vector (no copy when
    it has the layout's dtype)."""
    if not isinstance(vector, np.ndarray) or vector.shape != (layout.size,):
        got = getattr(vector, "shape", type(vector).__name__)
        raise ParameterStructureError(
            f"{name} must be a flat vector of shape ({layout.size},); got {got}"
        )
    if vector.dtype != layout.dtype:
        if vector.dtype.kind != "f":
            raise DataTypeError(f"{name} must hold floats; got dtype {vector.dtype}")
        vector = vector.astype(layout.dtype)
    return vector, _prove_finite(vector, name)


def _prove_finite(vector: np.ndarray, name: str) -> bool:
    """Raise if ``vector`` is not finite; return whether every ``|value| < 2**511``
    was proven on the way (one ``vdot``; see :func:`enter`)."""
    # is_finite_fast, inlined for small vectors (a call is ~5% of a small push)
    if vector.size <= _ONE_THREAD_BLAS:
        bounded = math.isfinite(np.vdot(vector, vector))
    else:
        bounded = vector.size >= _AMORTISED_BLAS and math.isfinite(np.vdot(vector, vector))
        if not bounded and vector.size < _AMORTISED_BLAS and is_finite_fast(vector):
            return False
    if not bounded:
        check_finite_vector(vector, name)  # raises, naming how many values are bad
    return bounded


def restore_vector(layout: Layout, main: np.ndarray) -> np.ndarray:
    """Validate a checkpointed flat main vector against ``layout``; return a finite copy."""
    vector, _ = enter_flat(layout, np.asarray(main), "main")
    return vector.copy()


def new_main(params: ModelParameters, name: str) -> tuple[Layout, np.ndarray]:
    """The layout of ``params`` and a finite, owned flat copy: new main parameters.

    Raises
    ------
    ParameterStructureError
        If ``params`` hold no values at all (an empty array or empty layers only).
    """
    check_finite(params, name)
    layout = Layout.from_template(params, name)
    if layout.size == 0:
        raise ParameterStructureError(
            f"{name} must hold at least one value; got {layout.describe()} (empty)"
        )
    return layout, layout.flatten(params, name)


def check_version(owner: str, version: Any, current: int) -> int | None:
    """Validate a push's ``version``: an int in [0, ``current``], or None."""
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int | np.integer):
        raise InvalidOptionError(f"{owner}: version must be an int >= 0 or None; got {version!r}")
    if not 0 <= version <= current:
        raise InvalidOptionError(
            f"{owner}: version must be in [0, {current}] (the current version); got {version}"
        )
    return int(version)


def check_push_id(owner: str, push_id: Any) -> tuple[Any, int] | None:
    """Validate a ``(child_id, seq)`` push id: a hashable id and an int seq >= 0."""
    if push_id is None:
        return None
    ok = isinstance(push_id, tuple) and len(push_id) == 2
    if ok:
        child, seq = push_id
        ok = isinstance(seq, int | np.integer) and not isinstance(seq, bool) and seq >= 0
        try:
            hash(child)
        except TypeError:
            ok = False
    if not ok:
        raise InvalidOptionError(
            f"{owner}: push_id must be a (child_id, seq) tuple with a hashable "
            f"child_id and an int seq >= 0; got {push_id!r}"
        )
    return push_id[0], int(push_id[1])


def check_weight(owner: str, weight: Any) -> float | None:
    """Validate a push's ``weight``: a finite real number >= 0, or None."""
    if weight is None:
        return None
    ok = isinstance(weight, int | float | np.integer | np.floating)
    if not ok or isinstance(weight, bool) or not (np.isfinite(weight) and weight >= 0):
        raise InvalidOptionError(
            f"{owner}: weight must be a finite number >= 0 (e.g. the child's "
            f"sample count) or None; got {weight!r}"
        )
    return float(weight)
