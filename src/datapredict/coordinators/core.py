"""The coordinators' shared core: one flat main vector and one entry point, ``push``.

:class:`CoordinatorCore` holds what both seed coordinators share: the lock, the layout,
the main vector and its version, the server optimizer's state, the push counters, the
background worker (``start``/``stop``/``flush``) and ``state_dict``/``load_state_dict``.
A push is a validated flat vector (the coordinators' door converts a model's structure
once); :meth:`CoordinatorCore.push` returns what happened to it as a
:class:`PushOutcome`. Collected pushes go through the
:class:`~datapredict.coordinators.chain.AggregationChain`.

Lock discipline: one lock per core guards every field below; validation happens before
it is taken and before anything is queued. An update that would fail (a merge rule's
error, non-finite new parameters) changes nothing: the push that triggered it is
refused with the error.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from datapredict.coordinators._apply import UpdateMixin
from datapredict.coordinators._door import restore_vector
from datapredict.coordinators._pending import ChildSlots, PendingRows, Push
from datapredict.coordinators._worker import BackgroundWorker
from datapredict.coordinators.chain import AggregationChain
from datapredict.coordinators.outcome import PushOutcome, PushStats, PushStatus
from datapredict.errors import NotInitializedError
from datapredict.parameters import Layout, read_only_view

# Builds a NamedTuple through tuple's own constructor: ~0.15 µs less per push than the
# NamedTuple's Python-level ``__new__`` (same object).
_outcome = tuple.__new__
_APPLIED = PushStatus.APPLIED  # a module constant: cheaper to look up than the enum member

__all__ = ["CoordinatorCore", "PushOutcome", "PushStats", "PushStatus"]


class CoordinatorCore(UpdateMixin):
    """The flat main vector of a coordinator and how pushes update it.

    Parameters
    ----------
    owner : str
        The coordinator's name, for messages and the worker thread.
    chain : AggregationChain
        clip → staleness weights → merge rule → server optimizer.
    pushes_per_update : int
        Pushes combined into one update (1: each push is applied as it arrives).
    sign : float or None
        ``-1`` or ``+1``: a merged push is a step, ``target = main + sign * step``
        (through ``rate``); ``None``: it is new parameters.
    rate : float, default=0
        DataPredict's averaging rate for steps: ``main = (1 - rate) * main + sign *
        rate * step``.
    max_staleness : int, optional
        Pushes computed from a version more than this many updates old are dropped.
    on_update : callable, optional
        Called with the new main vector after every update, under the lock (the
        merging coordinator sends it to its children).
    max_queued : int, default=64
        After ``start()``: pushes queued for the worker at most.
    when_full : {"wait", "raise"}, default="wait"
        A push to a full queue waits for room, or raises ``QueueFullError`` (and is
        not accepted).
    """

    def __init__(
        self,
        owner: str,
        chain: AggregationChain,
        *,
        pushes_per_update: int,
        sign: float | None,
        rate: float = 0.0,
        max_staleness: int | None = None,
        on_update: Callable[[np.ndarray], None] | None = None,
        max_queued: int = 64,
        when_full: str = "wait",
    ) -> None:
        self.owner = owner
        self.chain = chain
        self.pushes_per_update = pushes_per_update
        self.sign, self.rate = sign, rate
        self.max_staleness = max_staleness
        self.on_update = on_update
        self.lock = threading.Lock()
        self.layout: Layout | None = None
        self.main: np.ndarray | None = None
        self.optimizer_state: Any = None
        self.privacy_state: Any = None  # the chain's private aggregation's, if any
        # Internally a defaultdict (a C type: ~2x cheaper to increment than a Counter);
        # the ``stats`` snapshot turns it into a Counter.
        self.stats_ = PushStats(staleness=defaultdict(int))
        self.last_seq: dict[Any, int] = {}
        self.pending = PendingRows()
        self.slots = ChildSlots()  # merging coordinator: each child's latest parameters
        self._direct = False
        self._refresh_direct()
        self.worker = BackgroundWorker(
            self.receive, name=owner, max_queued=max_queued, when_full=when_full
        )

    # ------------------------------------------------------------------ state
    def _refresh_direct(self) -> None:
        """Whether pushes take the parameter server's fast path (see ``receive``)."""
        self._direct = (
            self.pushes_per_update == 1
            and self.sign is not None
            and not self.chain.scales_rows
            and self.chain.replaces
            and not self.rate
            and self.chain.privacy is None
        )

    def configure(self, **changes: Any) -> None:
        """Change ``chain``, ``pushes_per_update``, ``sign``, ``rate`` or ``max_staleness``.

        Pushes queued before the call are applied first, with the old values.
        """
        if self.worker.running:
            self.worker.flush()
        with self.lock:
            for name, value in changes.items():
                setattr(self, name, value)
            if "chain" in changes and self.main is not None:
                self.optimizer_state = self.chain.init(self.main)
            if "chain" in changes:
                self.privacy_state = self._privacy_init()
            self._refresh_direct()

    def set_main(self, layout: Layout, main: np.ndarray) -> None:
        """Adopt ``main`` (a validated, owned flat vector) as the main parameters.

        Queued pushes are applied first; pushes collected for the old parameters are
        discarded; the version counts one. If ``on_update`` refuses them (a child of
        another structure), everything is as before the call and the error is raised.
        """
        if self.worker.running:
            self.worker.flush()
        with self.lock:
            saved = (self.layout, self.main, self.optimizer_state, self.pending, self.slots)
            saved_privacy = self.privacy_state
            try:
                self.layout, self.main = layout, main
                self.optimizer_state = self.chain.init(main)
                self.privacy_state = self._privacy_init()
                self.pending, self.slots = PendingRows(), saved[4].copy()
                self.pending.reset(main.size, main.dtype)
                self.slots.fill(main)
                if self.on_update is not None:
                    self.on_update(main)  # a child refusing them raises here
            except BaseException:
                self.layout, self.main, self.optimizer_state, self.pending, self.slots = saved
                self.privacy_state = saved_privacy
                if self.on_update is not None and self.main is not None:
                    self.on_update(self.main)  # the children that took them go back
                raise
            self.stats_.version += 1

    def _privacy_init(self) -> Any:
        """The private aggregation's initial state (None without one)."""
        return None if self.chain.privacy is None else self.chain.privacy.init()

    def adopt_layout(self, layout: Layout) -> Layout:
        """Fix the structure if none is known yet; return the structure in force."""
        with self.lock:
            if self.layout is None:
                self.layout = layout
            return self.layout

    @property
    def version(self) -> int:
        """Updates applied to the main parameters (setting them counts one)."""
        return self.stats_.version

    @property
    def main_vector(self) -> np.ndarray | None:
        """A read-only view of the current main flat vector (no copy), or None before any.

        The next update may change it: copy it to keep a snapshot.
        """
        main = self.main
        return None if main is None else read_only_view(main)

    def snapshot(self) -> tuple[np.ndarray | None, int]:
        """A copy of the main vector (or None) and its version, taken together."""
        with self.lock:
            main = None if self.main is None else self.main.copy()
            return main, self.stats_.version

    @property
    def stats(self) -> PushStats:
        """A snapshot of the push counters."""
        with self.lock:
            return PushStats(**{**vars(self.stats_), "staleness": Counter(self.stats_.staleness)})

    @property
    def pending_count(self) -> int:
        """Updates collected since the last one (pushes, and children's in slots)."""
        return self.pending.count + self.slots.updates

    # ----------------------------------------------------------------- pushes
    def push(
        self,
        vector: np.ndarray,
        *,
        version: int | None = None,
        push_id: tuple[Any, int] | None = None,
        weight: float | None = None,
        slot: int | None = None,
        generation: int = 0,
        owned: bool = False,
        bounded: bool = False,
    ) -> PushOutcome:
        """Apply, buffer or drop one validated flat push; return what happened.

        Parameters
        ----------
        vector : ndarray of shape (P,)
            A finite flat vector of the layout's dtype (see the door in
            :mod:`datapredict.coordinators._door`).
        version : int, optional
            The version it was computed from (staleness); None: the current one.
        push_id : (child_id, seq), optional
            A push whose seq is not above the last one seen from ``child_id`` is a
            duplicate (retried pushes are applied once).
        weight : float, optional
            Its weight for weighted merge rules (e.g. the child's sample count).
        slot : int, optional
            A child's slot (merging coordinator): the push replaces that child's
            candidate instead of adding one.
        generation : int, default=0
            With ``slot``: the child's training count the parameters come from (kept
            with them, so the coordinator knows whether the child trained since).
        owned : bool, default=False
            Whether the core may keep ``vector`` without copying it.
        bounded : bool, default=False
            Whether every ``|value| < 2**511`` (the door's proof): then adding it to
            finite main parameters cannot overflow, and the fast path needs no check.

        Returns
        -------
        PushOutcome
            ``QUEUED`` after ``start()`` (the worker applies it in order).
        """
        if self.layout is None:
            raise NotInitializedError(f"{self.owner}: no main parameters yet")
        running = self.worker.running
        if running and not owned:
            vector = vector.copy()
        item = _outcome(Push, (vector, bounded, version, push_id, weight, slot, generation))
        if running and self.worker.submit_if_running(item):
            return _outcome(PushOutcome, (PushStatus.QUEUED, self.stats_.version))
        return self.receive(item)

    def close_round(self) -> bool:
        """Combine and apply what is collected now (a partial sync round, stragglers
        past a deadline); return whether anything was applied."""
        if self.worker.running:
            self.worker.flush()
        with self.lock:
            if self.pending_count == 0:
                return False
            self._update(None)
            return True

    def discard_pending(self) -> None:
        """Drop queued pushes and what is collected for the next update."""
        self.worker.clear()
        with self.lock:
            self._discard()

    def _discard(self) -> None:
        """Forget the collected pushes and the update count; children keep their rows."""
        self.pending.clear()
        self.slots.updates = 0

    def receive(self, item: Push | tuple) -> PushOutcome:
        """Account for one validated push item and apply what is due, now (holds the lock).

        The worker thread applies queued items with it; a caller that built the item
        itself (a :class:`Push`, or a plain tuple of its fields in order) and knows the
        worker is not running may call it directly (``add_gradients`` does: one call and
        one NamedTuple less per push).

        The parameter server's common case (one bounded step, ``Replace``, no rate) is
        written out here: ``bench/distributed.py``, ``add_gradients P=1e3``, measures
        the whole call against a bare ``w -= g``, and each function call or NamedTuple
        built through its Python ``__new__`` costs a few percent of it.
        """
        vector, bounded, version, push_id, _, slot, _ = item  # one unpack: a plain tuple too
        self.lock.acquire()  # acquire/release: ~0.1 µs cheaper than ``with`` per push
        try:
            stats = self.stats_
            stats.received += 1
            if push_id is not None and push_id[1] <= self.last_seq.get(push_id[0], -1):
                stats.duplicates += 1
                return _outcome(PushOutcome, (PushStatus.DUPLICATE, stats.version))
            lag = 0 if version is None else stats.version - version
            if self.max_staleness is not None and lag > self.max_staleness:
                stats.dropped_stale += 1
                self._remember(push_id)
                return _outcome(PushOutcome, (PushStatus.DROPPED_STALE, stats.version))
            if self._direct and bounded:
                if self.sign < 0:
                    self.main -= vector
                else:
                    self.main += vector
                stats.applied += 1
                stats.version += 1
                outcome = _outcome(PushOutcome, (_APPLIED, stats.version))
            elif self.pushes_per_update == 1 and slot is None:
                item = _outcome(Push, item)
                self._update(item, lag)
                outcome = _outcome(PushOutcome, (_APPLIED, stats.version))
            else:
                outcome = self._collect(_outcome(Push, item), lag)
            stats.staleness[lag] += 1
            if push_id is not None:
                self.last_seq[push_id[0]] = push_id[1]
            return outcome
        except BaseException:
            self.stats_.received -= 1  # a refused push changes nothing
            raise
        finally:
            self.lock.release()

    def _remember(self, push_id: tuple[Any, int] | None) -> None:
        if push_id is not None:
            self.last_seq[push_id[0]] = push_id[1]

    def _collect(self, item: Push, lag: int) -> PushOutcome:
        """Keep a push for the next combined update; apply it when one is due."""
        due = self.pending_count + 1 >= self.pushes_per_update
        if due:
            generations = self.slots.generations
            previous = None if item.slot is None else generations[item.slot]
            if item.slot is not None:
                generations[item.slot] = item.generation
            try:
                self._update(item, lag)
            except BaseException:  # the update failed: nothing changes
                if item.slot is not None:
                    generations[item.slot] = previous
                raise
            return PushOutcome(PushStatus.APPLIED, self.stats_.version)
        if item.slot is None:
            source = None if item.push_id is None else item.push_id[0]  # the child
            row = self.pending.append(item.vector, item.weight, source)
            if self.chain.scales_rows:
                self.chain.scale(row, lag, owned=True)
            if self.chain.privacy is not None:  # now, while the row is fresh in cache
                self.pending.norms.append(self._update_norm(row))
        else:
            self.slots.put(item.slot, item.vector, item.weight, item.generation)
        return PushOutcome(PushStatus.BUFFERED, self.stats_.version)

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Apply pushes on a background thread from now on."""
        self.worker.start()

    def stop(self) -> None:
        """Apply every queued push, then stop the background thread."""
        self.worker.stop()

    def flush(self) -> None:
        """Block until every push queued so far has been applied."""
        self.worker.flush()

    # ------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: main vector, version, optimizer state, private
        aggregation state, last push ids, applied count and the updates collected since
        the last one."""
        with self.lock:
            return {
                "main": None if self.main is None else self.main.copy(),
                "version": self.stats_.version,
                "optimizer_state": self.optimizer_state,
                "privacy_state": self.privacy_state,
                "last_seq": dict(self.last_seq),
                "applied": self.stats_.applied,
                "count": self.pending_count,
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the layout must already be set."""
        if self.layout is None:
            raise NotInitializedError(
                f"{self.owner}.load_state_dict: set the main parameters first (for the layout)"
            )
        main = restore_vector(self.layout, state["main"])
        with self.lock:
            self.main = main
            self.stats_.version = int(state["version"])
            self.stats_.applied = int(state.get("applied", 0))
            self.optimizer_state = state["optimizer_state"]
            self.privacy_state = state.get("privacy_state", self._privacy_init())
            self.last_seq = dict(state.get("last_seq", {}))
            self._discard()
            self.slots.fill(main)
            if self.on_update is not None:
                self.on_update(main)
