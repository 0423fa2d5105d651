"""What the in-process pools share: the job's lifecycle and reuse across jobs."""

from __future__ import annotations

from typing import Any

from datapredict.backends.base import JobSpec, Shards

__all__ = ["PoolBackend"]


class PoolBackend:
    """A backend whose workers live in this process (inline, threads).

    ``open`` starts the workers the first time and gives them each job; ``release``
    ends a job, and stops the workers too unless the backend is used as a context
    manager (``with ThreadsBackend(2) as backend:`` keeps them for the next job and
    stops them on exit); ``close`` stops them.
    """

    job: JobSpec | None = None
    shards: Shards | None = None
    _started = False
    _entered = False

    def open(self, job: JobSpec, shards: Shards) -> None:
        """Start the workers (once) and load ``job`` and its ``shards`` into them."""
        if not self._started:
            self._start_workers()
            self._started = True
        self.job, self.shards = job, shards
        self._load()

    def release(self) -> None:
        """Forget the job's queued work and data; stop the workers unless inside ``with``."""
        self._forget_job()
        self.job = self.shards = None
        if not self._entered:
            self.close()

    def close(self) -> None:
        """End any job and stop the workers."""
        if self._started:
            self._forget_job()
            self.job = self.shards = None
            self._stop_workers()
            self._started = False

    def __enter__(self) -> Any:
        self._entered = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._entered = False
        self.close()

    def _start_workers(self) -> None:
        """Create what lives as long as the backend."""

    def _load(self) -> None:
        """Give the workers the current job."""

    def _forget_job(self) -> None:
        """Drop the current job's queued work."""

    def _stop_workers(self) -> None:
        """Release what :meth:`_start_workers` created."""
