"""The background mode shared by the coordinators: one queue, one worker thread.

Without ``start()`` a coordinator applies each call before it returns. After
``start()`` validated items are queued and one worker thread applies them in order;
``stop()`` applies everything still queued, then joins. Both modes apply the same
sequence of items in the same order, so they give the same result.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from datapredict.errors import NotInitializedError

__all__ = ["BackgroundWorker"]

logger = logging.getLogger("datapredict")
_STOP = object()


class BackgroundWorker:
    """Apply queued items with ``apply(item)`` on one daemon thread.

    Parameters
    ----------
    apply : callable
        Called with each item, in the order the items were submitted.
    name : str
        Thread name, for debugging.
    """

    def __init__(self, apply: Callable[[Any], None], name: str) -> None:
        self._apply = apply
        self._name = name
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        # Serialises start/stop with submissions, so that no item is queued behind the
        # stop marker (it would never be applied).
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
        """Queue one validated item for the worker."""
        self._raise_pending()
        self._queue.put(item)

    def submit_if_running(self, item: Any) -> bool:
        """Queue ``item`` if the worker runs and return True; else queue nothing, return False.

        Callers apply the item themselves on False. Checked under the start/stop lock, so
        an item is never stranded behind a concurrent ``stop()``.
        """
        if self._thread is None:
            return False
        with self._state:
            if self._thread is None:
                return False
            self._raise_pending()
            self._queue.put(item)
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
                self._queue.put(_STOP)
                return dropped
            dropped += 1

    def stop(self) -> None:
        """Apply what is queued, then stop and join the thread (no-op if not started)."""
        with self._state:
            if self._thread is None:
                return
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self.running = False
        self._raise_pending()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:
                    self._apply(item)
            except BaseException as exc:  # kept and re-raised in the caller's thread
                logger.exception("%s: applying a queued item failed", self._name)
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
