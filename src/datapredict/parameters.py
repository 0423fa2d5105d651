"""Model parameters: the structures children exchange, and the flat ``Layout`` inside.

A model's parameters are one ndarray, a list or tuple of ndarrays (one per layer) or a
dict of ndarrays. Coordinators validate them once, at their door, and hold them as one
contiguous float vector; :class:`Layout` records the structure once and converts both
ways (``unflatten`` returns views into the vector, not copies).

Examples
--------
>>> import numpy as np
>>> params = [np.ones((3, 2)), np.zeros((2, 1))]
>>> layout = Layout.from_template(params)
>>> flat = layout.flatten(params)
>>> flat.shape
(8,)
>>> layout.unflatten(flat)[1].base is flat
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from datapredict.errors import DataTypeError, NonFiniteError, ParameterStructureError

__all__ = [
    "Layout",
    "ModelParameters",
    "check_finite",
    "copy_parameters",
    "is_finite_fast",
    "leaves",
    "read_only_view",
]

ModelParameters: TypeAlias = np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray]


def _kind(params: Any, name: str) -> str:
    """Return the container kind of ``params``: ``"array"``, ``"list"``, ``"tuple"`` or ``"dict"``.

    Subclasses (a named tuple, a ``UserDict``) count as their base kind, so that copies and
    unflattened views are plain lists, tuples and dicts.
    """
    if isinstance(params, np.ndarray):
        return "array"
    if isinstance(params, list):
        return "list"
    if isinstance(params, tuple):
        return "tuple"
    if isinstance(params, Mapping):
        return "dict"
    raise DataTypeError(
        f"{name} must be an ndarray, a list or tuple of ndarrays, or a dict of ndarrays; "
        f"got {type(params).__name__}"
    )


def _check_leaf(leaf: Any, where: str) -> np.ndarray:
    if not isinstance(leaf, np.ndarray):
        raise DataTypeError(f"{where} must be an ndarray; got {type(leaf).__name__}")
    if leaf.dtype.kind != "f":
        raise DataTypeError(f"{where} must have a float dtype; got dtype {leaf.dtype}")
    return leaf


def leaves(params: ModelParameters, name: str = "parameters") -> list[tuple[str, np.ndarray]]:
    """Return ``(where, array)`` pairs for every array of ``params``, in layout order.

    ``where`` names the position for error messages, e.g. ``"parameters[1]"`` or
    ``"parameters['bias']"``. Non-float leaves raise :class:`DataTypeError`.
    """
    kind = _kind(params, name)
    if kind == "array":
        return [(name, _check_leaf(params, name))]
    if kind == "dict":
        items = [(f"{name}[{key!r}]", value) for key, value in params.items()]
    else:
        items = [(f"{name}[{i}]", value) for i, value in enumerate(params)]
    if not items:
        raise DataTypeError(f"{name} must hold at least one ndarray; got an empty {kind}")
    return [(where, _check_leaf(value, where)) for where, value in items]


def copy_parameters(params: ModelParameters, name: str = "parameters") -> ModelParameters:
    """Return a deep copy of ``params`` in the same structure (list, tuple, dict or array).

    Containers come back as plain ``list``, ``tuple`` or ``dict``; every array is a new,
    C-contiguous copy that shares no memory with ``params``.
    """
    kind = _kind(params, name)
    leaves(params, name)
    if kind == "array":
        return params.copy()
    if kind == "dict":
        return {key: value.copy() for key, value in params.items()}
    copies = [value.copy() for value in params]
    return copies if kind == "list" else tuple(copies)


def _article(kind: str) -> str:
    return "an ndarray" if kind == "array" else f"a {kind}"


# Sizes where one BLAS ``vdot`` is the cheapest finiteness proof: below ~10k elements
# OpenBLAS runs it on one thread; above ~0.5M its threads' hand-off is amortised. In
# between, waking the BLAS threads on every push costs far more than the work (measured
# 0.4 ms instead of 0.02 ms at 5e4 elements on a busy 2-CPU host), so a single-threaded
# ``np.isfinite(...).all()`` is used there.
_ONE_THREAD_BLAS = 1 << 13
_AMORTISED_BLAS = 1 << 19


def is_finite_fast(vector: np.ndarray) -> bool:
    """True if every element of the 1-D float ``vector`` is finite.

    A finite ``vector . vector`` proves it in one pass. It may also be infinite for huge
    finite values (overflow): False then means "check elementwise", not "not finite".
    ``np.vdot`` rather than ``np.dot`` or ``ndarray.dot``: the same BLAS call, but it
    does not warn on overflow or on ``inf - inf``. ``math.isfinite`` on the scalar costs
    ~1 µs less than ``np.isfinite``.
    """
    size = vector.size
    if size <= _ONE_THREAD_BLAS or size >= _AMORTISED_BLAS:
        return math.isfinite(np.vdot(vector, vector))
    return bool(np.isfinite(vector).all())


def read_only_view(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written through (``array`` itself stays writable)."""
    view = array.view()
    view.flags.writeable = False
    return view


def check_finite(params: ModelParameters, name: str = "parameters") -> None:
    """Raise :class:`NonFiniteError` naming the first array that holds NaN or infinity."""
    for where, leaf in leaves(params, name):
        if leaf.dtype.kind == "f" and is_finite_fast(leaf.reshape(-1)):
            continue
        if not np.isfinite(leaf).all():
            bad = int(np.size(leaf) - np.count_nonzero(np.isfinite(leaf)))
            raise NonFiniteError(f"{where} must be finite; it holds {bad} NaN or infinite values")


@dataclass(frozen=True)
class Layout:
    """The structure of a parameter set, recorded once, to flatten and unflatten it.

    Attributes
    ----------
    kind : {"array", "list", "tuple", "dict"}
        The container of the template.
    keys : tuple of str
        Dict keys in order (empty for other kinds).
    shapes : tuple of tuple of int
        The shape of each array.
    offsets : tuple of int
        Start of each array in the flat vector; ``offsets[-1]`` is the total size.
    dtype : numpy.dtype
        The float dtype of the flat vector (the template's).
    """

    kind: str
    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def from_template(cls, params: ModelParameters, name: str = "parameters") -> Layout:
        """Record the structure of ``params``; the flat dtype is the widest float dtype found."""
        kind = _kind(params, name)
        arrays = [leaf for _, leaf in leaves(params, name)]
        shapes = tuple(tuple(int(n) for n in a.shape) for a in arrays)
        offsets = tuple(int(x) for x in np.cumsum([0, *(a.size for a in arrays)]))
        keys = tuple(params.keys()) if kind == "dict" else ()
        dtype = np.result_type(*arrays)
        return cls(kind=kind, keys=keys, shapes=shapes, offsets=offsets, dtype=np.dtype(dtype))

    @property
    def size(self) -> int:
        """Total number of scalars (P)."""
        return self.offsets[-1]

    def describe(self) -> str:
        """A short human description, e.g. ``"list of 2 arrays [(3, 2), (2, 1)], float64"``."""
        shapes = ", ".join(map(str, self.shapes))
        if self.kind == "array":
            return f"an ndarray of shape {self.shapes[0]}, {self.dtype}"
        return f"a {self.kind} of {len(self.shapes)} arrays [{shapes}], {self.dtype}"

    def check(self, params: ModelParameters, name: str = "parameters") -> list[np.ndarray]:
        """Validate ``params`` against this layout and return its arrays in order.

        Raises
        ------
        ParameterStructureError
            If the container, the keys, the number of arrays or a shape differs, or if
            a float dtype cannot be cast to the layout's dtype without loss.
        DataTypeError
            If a leaf is not a float ndarray.
        """
        kind = _kind(params, name)
        if kind != self.kind:
            raise ParameterStructureError(f"{name} must be {self.describe()}; got {_article(kind)}")
        if kind == "dict":
            params = self._in_key_order(params, name)
        found = leaves(params, name)
        if len(found) != len(self.shapes):
            raise ParameterStructureError(
                f"{name} must hold {len(self.shapes)} arrays; got {len(found)}"
            )
        for (where, leaf), shape in zip(found, self.shapes, strict=True):
            if leaf.shape != shape:
                raise ParameterStructureError(
                    f"{where} has shape {leaf.shape}; the expected shape there is {shape}"
                )
            if not np.can_cast(leaf.dtype, self.dtype, casting="safe"):
                raise ParameterStructureError(
                    f"{where} has dtype {leaf.dtype}; expected {self.dtype} "
                    f"(or a float dtype that casts to it without loss)"
                )
        return [leaf for _, leaf in found]

    def _in_key_order(self, params: Mapping, name: str) -> dict:
        """Return ``params`` as a dict in this layout's key order; name any key that differs."""
        missing = [key for key in self.keys if key not in params]
        if missing:
            raise ParameterStructureError(
                f"{name} has no key {missing[0]!r}; the expected keys are {list(self.keys)}"
            )
        unexpected = [key for key in params if key not in self.keys]
        if unexpected:
            raise ParameterStructureError(
                f"{name} has the unexpected key {unexpected[0]!r}; "
                f"the expected keys are {list(self.keys)}"
            )
        return {key: params[key] for key in self.keys}

    def _check_out(self, out: np.ndarray) -> np.ndarray:
        if not isinstance(out, np.ndarray) or out.shape != (self.size,) or out.dtype != self.dtype:
            got = (
                f"shape {out.shape}, dtype {out.dtype}"
                if isinstance(out, np.ndarray)
                else type(out).__name__
            )
            raise ParameterStructureError(
                f"out must be an ndarray of shape ({self.size},) and dtype {self.dtype}; got {got}"
            )
        return out

    def flatten(
        self,
        params: ModelParameters,
        name: str = "parameters",
        out: np.ndarray | None = None,
        *,
        copy: bool = True,
    ) -> np.ndarray:
        """Validate ``params`` and copy them into one contiguous vector of ``self.dtype``.

        Parameters
        ----------
        params : ModelParameters
            A structure matching this layout.
        name : str
            The argument name used in error messages.
        out : ndarray of shape (P,) and dtype ``self.dtype``, optional
            Where to write; a new vector is allocated when omitted. Nothing is written
            unless ``params`` passes the check.
        copy : bool, default=True
            ``False`` returns a flat view of ``params`` (``params`` itself when it is
            already a contiguous vector) instead of a copy when it is a single
            C-contiguous array of ``self.dtype`` (and ``out`` is not given); other
            structures are always copied.

        Returns
        -------
        ndarray of shape (P,)
            ``out`` if given, else a new vector.
        """
        if (
            not copy
            and out is None
            and self.kind == "array"
            and type(params) is np.ndarray
            and params.shape == self.shapes[0]
            and params.dtype == self.dtype
        ):  # what check() would accept, checked faster
            if params.ndim == 1 and params.strides[0] == params.itemsize:
                return params  # already one contiguous vector (no view to build)
            if params.flags.c_contiguous:
                return params.reshape(-1)  # a view
        if out is not None:
            self._check_out(out)
        arrays = self.check(params, name)
        flat = np.empty(self.size, dtype=self.dtype) if out is None else out
        for array, start, stop in zip(arrays, self.offsets[:-1], self.offsets[1:], strict=True):
            flat[start:stop] = array.ravel()
        return flat

    def unflatten(self, flat: np.ndarray) -> ModelParameters:
        """Return the structure as views into ``flat`` (no copy); see :meth:`flatten`.

        Parameters
        ----------
        flat : ndarray of shape (P,)
            A float vector; writing to the returned arrays writes to ``flat``.

        Raises
        ------
        DataTypeError
            If ``flat`` is not a float ndarray.
        ParameterStructureError
            If ``flat`` does not have shape (P,).
        """
        if not isinstance(flat, np.ndarray) or flat.dtype.kind != "f":
            got = f"dtype {flat.dtype}" if isinstance(flat, np.ndarray) else type(flat).__name__
            raise DataTypeError(f"flat vector must be a float ndarray; got {got}")
        if flat.shape != (self.size,):
            raise ParameterStructureError(
                f"flat vector must have shape ({self.size},); got {flat.shape}"
            )
        views = [
            flat[start:stop].reshape(shape)
            for start, stop, shape in zip(
                self.offsets[:-1], self.offsets[1:], self.shapes, strict=True
            )
        ]
        if self.kind == "array":
            return views[0]
        if self.kind == "dict":
            return dict(zip(self.keys, views, strict=True))
        return views if self.kind == "list" else tuple(views)
