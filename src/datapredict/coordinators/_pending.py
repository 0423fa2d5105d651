"""What a coordinator collects between two updates, as rows of one (K, P) matrix.

:class:`PendingRows` holds pushes in arrival order (a sync round, a FedBuff buffer, the
parameter sets pushed to a merging coordinator); :class:`ChildSlots` holds one row per
child of a merging coordinator (its latest parameters). Rows are written once, when a
push is accepted, and merged in place: the stacked matrix is never rebuilt.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "ChildSlots",
    "PendingRows",
    "Push",
    "collapse_weights",
    "push_source",
    "update_rows",
    "update_sources",
]


class Push(NamedTuple):
    """One validated push on its way into the core (see ``CoordinatorCore.push``)."""

    vector: np.ndarray
    bounded: bool  # every |value| < 2**511: adding it to finite values stays finite
    version: int | None
    push_id: tuple[Any, int] | None
    weight: float | None
    slot: int | None
    generation: int


def _grown(rows: np.ndarray, needed: int) -> np.ndarray:
    """``rows`` with room for ``needed`` rows (capacity doubles; kept rows copied once)."""
    if needed <= rows.shape[0]:
        return rows
    bigger = np.empty((max(needed, 2 * rows.shape[0], 4), rows.shape[1]), dtype=rows.dtype)
    bigger[: rows.shape[0]] = rows
    return bigger


class PendingRows:
    """Pushes collected for the next update (already clipped and weighted), their
    merge weights and the child each came from (None: unknown)."""

    def __init__(self) -> None:
        self.rows = np.empty((0, 0))
        self.count = 0
        self.weights: list[float | None] = []
        self.norms: list[float] = []  # with differential privacy: each update's norm
        self.sources: list[Any] = []

    def reset(self, size: int, dtype: np.dtype) -> None:
        """Forget everything; rows of ``size`` values of ``dtype`` from now on."""
        self.rows = np.empty((0, size), dtype=dtype)
        self.clear()

    def clear(self) -> None:
        """Forget the collected pushes (the buffer is kept for the next ones)."""
        self.count = 0
        self.weights = []
        self.norms = []
        self.sources = []

    def _write(self, vector: np.ndarray) -> None:
        if self.rows.shape[1:] != vector.shape or self.rows.dtype != vector.dtype:
            self.reset(vector.size, vector.dtype)  # the first push fixed the structure
        self.rows = _grown(self.rows, self.count + 1)
        self.rows[self.count] = vector

    def append(self, vector: np.ndarray, weight: float | None, source: Any = None) -> np.ndarray:
        """Copy one push (from child ``source``) into the next row; return that row (a view)."""
        self._write(vector)
        self.count += 1
        self.weights.append(weight)
        self.sources.append(source)
        return self.rows[self.count - 1]

    def view(self) -> tuple[np.ndarray, list | None]:
        """The collected rows (a view) and their weights (None if none has one)."""
        return self.rows[: self.count], collapse_weights(self.weights)

    def view_with(self, vector: np.ndarray, weight: float | None) -> tuple[np.ndarray, list | None]:
        """:meth:`view` with one more push written after the collected ones but not
        counted: if the update using it fails, it was never collected."""
        self._write(vector)
        return self.rows[: self.count + 1], collapse_weights([*self.weights, weight])


class ChildSlots:
    """One row per child of a merging coordinator: its latest parameters, their weight,
    and the generation (the child's training count) they came from."""

    def __init__(self) -> None:
        self.rows = np.empty((0, 0))
        self.present: list[bool] = []
        self.weights: list[float | None] = []
        self.generations: list[int] = []
        self.updates = 0

    @property
    def count(self) -> int:
        """Children with parameters (merge candidates)."""
        return sum(self.present)

    def _fit(self, n: int, size: int, dtype: np.dtype) -> None:
        if self.rows.shape[1:] != (size,) or self.rows.dtype != dtype:
            self.rows = np.empty((max(n, 4), size), dtype=dtype)
            self.present = [False] * len(self.present)
        self.rows = _grown(self.rows, n)

    def add(self, vector: np.ndarray | None) -> int:
        """Add a child holding ``vector`` (None: no parameters yet); return its slot."""
        slot = len(self.present)
        self.present.append(False)
        self.weights.append(None)
        self.generations.append(0)
        if vector is not None:
            self._fit(slot + 1, vector.size, vector.dtype)
            self.rows[slot] = vector
            self.present[slot] = True
        return slot

    def put(self, slot: int, vector: np.ndarray, weight: float | None, generation: int) -> None:
        """Child ``slot`` pushed ``vector``: it replaces its candidate; one update counted."""
        self._fit(len(self.present), vector.size, vector.dtype)
        self.rows[slot] = vector
        self.present[slot] = True
        self.weights[slot] = weight
        self.generations[slot] = generation
        self.updates += 1

    def stack_with(
        self, slot: int | None, vector: np.ndarray | None, weight: float | None
    ) -> tuple[np.ndarray, list]:
        """The candidates' rows (a copy, children in order), with ``slot``'s replaced by
        ``vector`` if given, and their weights."""
        if slot is not None:
            self._fit(len(self.present), vector.size, vector.dtype)
        present = list(self.present)
        weights = list(self.weights)
        if slot is not None:
            present[slot] = True
            weights[slot] = weight
        index = np.flatnonzero(present)
        rows = self.rows[index]
        if slot is not None:
            rows[int(np.searchsorted(index, slot))] = vector
        return rows, [weights[i] for i in index]

    def copy(self) -> ChildSlots:
        """An independent copy (rows included)."""
        twin = ChildSlots()
        twin.rows = self.rows.copy()
        twin.present, twin.weights = list(self.present), list(self.weights)
        twin.generations, twin.updates = list(self.generations), self.updates
        return twin

    def fill(self, main: np.ndarray) -> None:
        """Every child now holds ``main``; the update count restarts."""
        n = len(self.present)
        if n:
            self._fit(n, main.size, main.dtype)
            self.rows[:n] = main
            self.present = [True] * n
        self.updates = 0


def collapse_weights(weights: list[float | None]) -> list | None:
    """``weights``, or None when no row has a weight."""
    return None if all(w is None for w in weights) else weights


def push_source(item: Push) -> Any:
    """The child a push came from: its push id's child (None without a push id)."""
    return None if item.push_id is None else item.push_id[0]


def update_sources(pending: PendingRows, slots: ChildSlots, item: Push | None) -> list | None:
    """The child each row of :func:`update_rows` came from, in the same order: a
    child's slot index, or a push id's child; None if any row's is unknown."""
    sources: list[Any] = []
    if (item is not None and item.slot is not None) or slots.count:
        present = list(slots.present)
        if item is not None and item.slot is not None:
            present[item.slot] = True
        sources += np.flatnonzero(present).tolist()
    sources += pending.sources
    if item is not None and item.slot is None:
        sources.append(push_source(item))
    return None if any(source is None for source in sources) else sources


def update_rows(
    pending: PendingRows, slots: ChildSlots, chain: Any, item: Push | None, lag: int
) -> tuple[np.ndarray, list | None]:
    """The (K, P) rows of the next update and their weights: children's candidates first
    (merging coordinator), then the collected pushes, then ``item`` (scaled by ``chain``
    like the collected ones were)."""
    if item is None or item.slot is not None:
        rows, weights = pending.view()
    elif pending.count == 0 and not slots.count:  # one push: no copy unless scaled
        rows = chain.scale(item.vector[None, :], np.array([lag]), owned=False)
        return rows, collapse_weights([item.weight])
    else:
        rows, weights = pending.view_with(item.vector, item.weight)
        if chain.scales_rows:
            chain.scale(rows[-1], lag, owned=True)
    if (item is not None and item.slot is not None) or slots.count:
        slot = None if item is None else item.slot
        vector = None if item is None else item.vector
        weight = None if item is None else item.weight
        slot_rows, slot_weights = slots.stack_with(slot, vector, weight)
        weights = collapse_weights(slot_weights + (weights or [None] * len(rows)))
        rows = np.concatenate([slot_rows, rows]) if len(rows) else slot_rows
    return rows, weights
