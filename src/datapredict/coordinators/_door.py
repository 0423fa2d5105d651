"""The coordinators' door: validate a parameter structure and turn it into a flat vector."""

from __future__ import annotations

import math

import numpy as np

from datapredict.errors import NonFiniteError
from datapredict.parameters import _ONE_THREAD_BLAS, Layout, ModelParameters, is_finite_fast

__all__ = ["check_finite_vector", "is_finite_fast", "to_vector"]


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


def to_vector(layout: Layout, params: ModelParameters, name: str, *, copy: bool) -> np.ndarray:
    """Validate ``params`` against ``layout`` and return them as one finite flat vector.

    Parameters
    ----------
    layout : Layout
        The main parameters' structure.
    params : ModelParameters
        What a caller pushed.
    name : str
        The argument's name, for error messages.
    copy : bool
        When False, a single contiguous array of the layout's dtype is returned as a
        view (no copy); other structures are always copied into a new vector.
    """
    vector = layout.flatten(params, name, copy=copy)
    # is_finite_fast, inlined for small vectors (a call is ~5% of a small push)
    if vector.size <= _ONE_THREAD_BLAS:
        finite = math.isfinite(np.vdot(vector, vector))
    else:
        finite = is_finite_fast(vector)
    if not finite:
        check_finite_vector(vector, name)  # raises, naming how many values are bad
    return vector


def restore_vector(layout: Layout, main: np.ndarray) -> np.ndarray:
    """Validate a checkpointed flat main vector against ``layout``; return a finite copy."""
    return to_vector(layout, layout.unflatten(np.asarray(main)), "main", copy=True)
