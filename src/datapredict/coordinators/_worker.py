"""The background mode shared by the coordinators: one bounded queue, one worker thread.

Without ``start()`` a coordinator applies each call before it returns. After
``start()`` validated items are queued and one worker thread applies them in order;
``stop()`` applies everything still queued, then joins. Both modes apply the same
sequence of items in the same order, so they give the same result.

The queue holds at most ``max_queued`` items: a producer finding it full waits for
room (``when_full="wait"``) or gets a :class:`~datapredict.errors.QueueFullError`
(``"raise"``), so memory stays bounded however fast children push. Every accepted item
is applied exactly once (unless ``clear()`` drops it, or applying an earlier one failed).

The thread holds its owner (the object whose bound method ``apply`` is) only weakly,
so a coordinator that is dropped without ``stop()`` is collected, and its thread ends
within ``_OWNER_CHECK_SECONDS``. Items still queued then are dropped, unapplied: there
is no owner left to apply them to.
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from datapredict._validation import check_choice, check_int
from datapredict.errors import NotInitializedError, QueueFullError

__all__ = ["BackgroundWorker"]

logger = logging.getLogger("datapredict")
_STOP = object()
# How often an idle worker thread checks that its owner still exists. (A
# ``weakref.finalize`` callback cannot wake it instead: it may run inside a garbage
# collection on a thread that holds the queue's lock, and ``queue.Queue`` is not
# reentrant.)
_OWNER_CHECK_SECONDS = 0.25
# How often a producer waiting for room checks that the worker thread still runs.
_ROOM_CHECK_SECONDS = 0.25


class _Queue(queue.Queue):
    """A bounded queue whose stop marker always fits, even when it is full."""

    def put_marker(self) -> None:
        """Queue the stop marker past the bound (never blocks, never raises Full)."""
        with self.not_full:
            self._put(_STOP)
            self.unfinished_tasks += 1
            self.not_empty.notify()


class BackgroundWorker:
    """Apply queued items with ``apply(item)`` on one daemon thread.

    Parameters
    ----------
    apply : callable
        Called with each item, in the order the items were submitted. A bound method's
        object is held weakly: once it is collected, the thread ends and the items still
        queued are dropped.
    name : str
        Thread name, for debugging.
    max_queued : int, default 64
        At most this many items wait in the queue (the item being applied not counted).
    when_full : {"wait", "raise"}, default "wait"
        What a submission finding the queue full does: wait until the worker makes room,
        or raise :class:`~datapredict.errors.QueueFullError` without queueing the item.
    """

    def __init__(
        self,
        apply: Callable[[Any], None],
        name: str,
        *,
        max_queued: int = 64,
        when_full: str = "wait",
    ) -> None:
        self._max_queued = check_int(name, "max_queued", max_queued, minimum=1)
        self._wait = check_choice(name, "when_full", when_full, ("wait", "raise")) == "wait"
        owner = apply.__self__ if inspect.ismethod(apply) else None
        try:
            # The thread calls ``function(owner, item)``, owner through a weak reference.
            self._owner = None if owner is None else weakref.ref(owner)
        except TypeError:  # an owner without weak references (__slots__): held strongly
            self._owner = None
        self._function = apply if self._owner is None else apply.__func__
        self._name = name
        self._queue = _Queue(maxsize=self._max_queued)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        # Serialises start/stop with submissions, so that no item is queued behind the
        # stop marker (it would never be applied). A producer waiting for room holds it:
        # stop() then waits until that item is queued (the worker keeps making room).
        self._state = threading.Lock()
        # Whether the worker thread runs: a plain attribute (read on every push; a
        # property costs ~0.05 µs more), written only under ``_state``.
        self.running = False

    def start(self) -> None:
        """Start the worker thread; raises if it already runs."""
        with self._state:
            if self._thread is not None:
                raise NotInitializedError(f"{self._name} is already started; call stop() first")
            self._error = None
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
            self.running = True

    def submit(self, item: Any) -> None:
        """Queue one validated item for the worker (applied once it runs).

        Raises
        ------
        QueueFullError
            If the queue is full and ``when_full="raise"``, or no worker thread runs to
            make room. The item is not queued then.
        """
        with self._state:
            self._raise_pending()
            self._put(item)

    def submit_if_running(self, item: Any) -> bool:
        """Queue ``item`` if the worker runs and return True; else queue nothing, return False.

        Callers apply the item themselves on False. Checked under the start/stop lock, so
        an item is never stranded behind a concurrent ``stop()``. Raises
        :class:`~datapredict.errors.QueueFullError` as :meth:`submit` does.
        """
        if self._thread is None:
            return False
        with self._state:
            if self._thread is None:
                return False
            self._raise_pending()
            self._put(item)
            return True

    def flush(self) -> None:
        """Block until every item submitted so far has been applied."""
        self._queue.join()
        self._raise_pending()

    def clear(self) -> int:
        """Drop the items not yet applied; return how many were dropped."""
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return dropped
            self._queue.task_done()
            if item is _STOP:
                self._queue.put_marker()
                return dropped
            dropped += 1

    def stop(self) -> None:
        """Apply what is queued, then stop and join the thread (no-op if not started)."""
        with self._state:
            if self._thread is None:
                return
            self._queue.put_marker()
            self._thread.join()
            self._thread = None
            self.running = False
        self._raise_pending()

    def _put(self, item: Any) -> None:
        """Queue ``item`` or raise QueueFullError (the caller holds ``_state``)."""
        thread = self._thread
        block = self._wait and thread is not None
        while True:
            try:
                self._queue.put(item, block, _ROOM_CHECK_SECONDS)
                return
            except queue.Full:
                if block and thread.is_alive():
                    continue
                reason = (
                    "no worker thread runs to make room; call start()"
                    if self._wait
                    else "when_full='raise'; retry later, raise max_queued or use when_full='wait'"
                )
                raise QueueFullError(
                    f"{self._name}: the background queue is full (max_queued="
                    f"{self._max_queued} items) and {reason}. The item was not queued."
                ) from None

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_OWNER_CHECK_SECONDS)
            except queue.Empty:
                if self._owner is not None and self._owner() is None:
                    return
                continue
            try:
                if item is _STOP:
                    return
                if self._error is None and not self._apply(item):
                    logger.debug("%s: owner collected; dropping the queued items", self._name)
                    self.clear()
                    return
            except BaseException as exc:  # kept and re-raised in the caller's thread
                logger.exception("%s: applying a queued item failed", self._name)
                traceback.clear_frames(exc.__traceback__)  # no frame keeps the owner alive
                self._error = exc
            finally:
                self._queue.task_done()

    def _apply(self, item: Any) -> bool:
        """Apply ``item``; return False (applying nothing) if the owner was collected."""
        if self._owner is None:
            self._function(item)
            return True
        owner = self._owner()
        if owner is None:
            return False
        self._function(owner, item)
        return True

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
