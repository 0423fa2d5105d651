"""The runner: the loop of a training job, and the history it records.

:func:`~datapredict.training.train_distributed` builds the children, the backend and the
coordinator's host, then hands them to a :class:`Runner`, which drives sync rounds or
async pushes the same way for every backend and records a :class:`RoundRecord` per
round in a :class:`History`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult
from datapredict.coordinators.core import PushStatus
from datapredict.errors import ChildFailureError

__all__ = ["History", "RoundRecord", "Runner"]

logger = logging.getLogger("datapredict")


@dataclass
class RoundRecord:
    """One round of a job (in async mode: every K pushes received).

    ``cost`` is the sample-weighted mean of the children's costs at the parameters they
    started from (in sync mode with full-batch children: the main model's training
    cost); ``metric`` is the main model's score on ``eval_data`` after the round.
    ``pushes`` counts the pushes received in the round and ``dropped`` those of them
    left out (too stale, or late for a sync quorum); ``staleness_mean`` and
    ``staleness_max`` describe the pushes applied (how many updates the main parameters
    had taken since the child's copy).
    """

    round: int
    version: int
    cost: float
    metric: float | None
    seconds: float
    pushes: int
    dropped: int = 0
    failures: list[str] = field(default_factory=list)
    staleness_mean: float = 0.0
    staleness_max: int = 0


class History(list):
    """The list of :class:`RoundRecord`, with column access: ``history["cost"]``."""

    def __getitem__(self, key):
        if isinstance(key, str):
            columns = [f.name for f in fields(RoundRecord)]
            if key not in columns:
                raise KeyError(f"history has no column {key!r}; the columns are {columns}")
            return np.array(
                [getattr(record, key) for record in self],
                dtype=object if key == "failures" else float,
            )
        return super().__getitem__(key)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Plain dicts, e.g. for ``pandas.DataFrame(history.as_dicts())``."""
        return [asdict(record) for record in self]

    def plot(self, column: str = "cost", ax: Any = None, **line_options: Any) -> Any:
        """Draw ``column`` against the round with matplotlib; returns the Axes.

        Parameters
        ----------
        column : str, default="cost"
            A :class:`RoundRecord` field, e.g. "metric" or "staleness_mean".
        ax : matplotlib Axes, optional
            Where to draw (a new figure's Axes otherwise), e.g. to compare two jobs.
        **line_options
            Passed to ``ax.plot`` (``label=...``, ``linestyle=...``).
        """
        values = self[column]
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "History.plot needs matplotlib: pip install 'datapredict[demo]'"
            ) from None
        if ax is None:
            ax = plt.figure().add_subplot()
        ax.plot(self["round"], values, **line_options)
        ax.set(xlabel="round", ylabel=column)
        return ax


def _first_arrivals(arrivals: list, seen: set[tuple[int, int]]) -> list:
    """The arrivals whose push (child, push number) is not in ``seen``, which they join.

    A coordinator that crashes after logging a push but before replying to its child
    sees the child's retried call after its restart and logs the push again.
    """
    first = []
    for arrival in arrivals:
        key = (arrival.result.child, arrival.seq)
        if key not in seen:
            seen.add(key)
            first.append(arrival)
    return first


class Runner:
    """The loop of a job, the same for every backend and wherever the coordinator runs.

    It sends work to the children through the backend, hands what they push to the
    coordinator's host (in this process or a Ray actor) and records each round in
    :attr:`history`.
    """

    def __init__(self, host, backend, main_model, eval_data, callback) -> None:
        self.host, self.backend = host, backend
        self.main_model, self.eval_data, self.callback = main_model, eval_data, callback
        self.history = History()
        self.dead: set[int] = set()
        self.first_round = 0
        self.next_seq = 0
        self.in_flight: dict[int, int] = {}

    def resume(self, directory: str) -> None:
        """Load a checkpoint into the coordinator and continue from its round."""
        position = self.host.resume(directory)
        self.first_round, self.next_seq = position["round"], position["next_seq"]
        logger.info("resumed from %s at round %d", directory, self.first_round)

    def _submit(self, child: int, handle: Any) -> None:
        """Send work to ``child``; its push will carry the id ``(child, seq)``."""
        self.in_flight[child] = self.next_seq
        self.next_seq += 1
        self.backend.submit(child, handle)

    def _position(self, next_round: int) -> dict[str, int]:
        return {"round": next_round, "next_seq": self.next_seq}

    def _record(self, index, results, dropped, failures, staleness, seconds, version=None) -> None:
        ok = [r for r in results if r.error is None]
        samples = np.array([r.n_samples for r in ok], dtype=float)
        cost = float(np.dot(samples, [r.cost for r in ok]) / samples.sum()) if ok else float("nan")
        metric = None
        if version is None:
            version = self.host.version
        if self.eval_data is not None:
            main, version = self.host.parameters()
            self.main_model.set_model_parameters(main)
            metric = float(self.main_model.score(*self.eval_data))
        record = RoundRecord(
            round=index,
            version=version,
            cost=cost,
            metric=metric,
            seconds=seconds,
            pushes=len(ok),
            dropped=dropped,
            failures=failures,
            staleness_mean=float(np.mean(staleness)) if staleness else 0.0,
            staleness_max=int(max(staleness)) if staleness else 0,
        )
        self.history.append(record)
        if self.callback is not None:
            self.callback(record)

    def _failed(self, result: ChildResult, failures: list[str]) -> None:
        self.dead.add(result.child)
        failures.append(f"child {result.child}: {result.error}")
        logger.warning("child %d failed and leaves the job: %s", result.child, result.error)

    def _alive(self, n_children: int) -> list[int]:
        alive = [i for i in range(n_children) if i not in self.dead]
        if not alive:
            raise ChildFailureError("every child failed; see the history's failures")
        return alive

    def run_sync(self, rounds, n_children, quorum, round_timeout, bar) -> None:
        """Rounds up to ``rounds``: every live child works from the same version; the
        round closes on all of them, or on ``quorum`` once ``round_timeout`` passed."""
        busy: set[int] = set()
        for index in range(self.first_round, rounds):
            started = time.perf_counter()
            main, version = self.host.main()
            handle = self.backend.broadcast(main, version)
            targets = [c for c in self._alive(n_children) if c not in busy]
            for child in targets:
                self._submit(child, handle)
            busy.update(targets)
            results, failures, late = self._collect(
                version, busy, len(targets), min(quorum, len(targets)), round_timeout
            )
            push_ids = [(r.child, self.in_flight[r.child]) for r in results]
            self.host.push_round(results, push_ids, self._position(index + 1))  # child order
            dropped = late + len(targets) - len(results) - len(failures)
            self._record(index, results, dropped, failures, [], time.perf_counter() - started)
            if bar is not None:
                bar.update()

    def _collect(self, version, busy, expected, quorum, round_timeout):
        """Gather this round's results until all came, or the quorum and the deadline."""
        deadline = None if round_timeout is None else time.perf_counter() + round_timeout
        results, failures, late, received = [], [], 0, 0
        while received < expected:
            remaining = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if remaining == 0.0 and len(results) >= quorum:
                break
            for result in self.backend.wait(remaining if len(results) >= quorum else None):
                busy.discard(result.child)
                if result.version != version:
                    late += 1
                    continue
                received += 1
                if result.error is not None:
                    self._failed(result, failures)
                else:
                    results.append(result)
        return sorted(results, key=lambda r: r.child), failures, late

    def run_async(self, rounds, n_children, max_staleness, bar) -> None:
        """``(rounds - first round) x n_children`` pushes, each applied as it arrives
        (pushes more than ``max_staleness`` versions old are dropped); K make a round."""
        if hasattr(self.backend, "stream_async"):  # children push to the coordinator
            self._run_async_streamed(rounds, n_children, max_staleness, bar)
            return
        budget = (rounds - self.first_round) * n_children
        main, version = self.host.main()
        handles = {version: self.backend.broadcast(main, version)}
        for child in self._alive(n_children):
            self._submit(child, handles[version])
        in_flight = submitted = n_children
        window, failures, staleness, dropped, index = [], [], [], 0, self.first_round
        started = time.perf_counter()
        while in_flight:
            for result in self.backend.wait(None):
                in_flight -= 1
                if result.error is not None:
                    self._failed(result, failures)
                    self._alive(n_children)
                    continue
                lag = self.host.version - result.version
                if max_staleness is not None and lag > max_staleness:
                    dropped += 1
                else:
                    push_id = (result.child, self.in_flight[result.child])
                    outcome = self.host.push(result, push_id, self._position(index))
                    if outcome.status is PushStatus.DROPPED_STALE:  # the server's own bound
                        dropped += 1
                    else:
                        staleness.append(lag)
                window.append(result)
                if submitted < budget:
                    main, version = self.host.main()
                    if version not in handles:
                        handles = {version: self.backend.broadcast(main, version)}
                    self._submit(result.child, handles[version])
                    in_flight += 1
                    submitted += 1
                if len(window) == n_children or in_flight == 0:
                    seconds = time.perf_counter() - started
                    self._record(index, window, dropped, failures, staleness, seconds)
                    index += 1
                    window, failures, staleness, dropped = [], [], [], 0
                    started = time.perf_counter()
                    if bar is not None:
                        bar.update()
        if window or failures:  # the last failures came after the last full window
            seconds = time.perf_counter() - started
            self._record(index, window, dropped, failures, staleness, seconds)

    def _run_async_streamed(self, rounds, n_children, max_staleness, bar) -> None:
        """Async with children pushing straight to the coordinator (the backend's
        ``stream_async``): the driver only turns what arrived into the history."""
        budget = (rounds - self.first_round) * n_children
        window, failures, staleness, dropped, index = [], [], [], 0, self.first_round
        started, version = time.time(), None  # then the coordinator's clock (Arrival.received_at)
        events = self.backend.stream_async(
            self._alive(n_children),
            n_children,
            budget,
            self._position(self.first_round),
            max_staleness,
        )
        seen: set[tuple[int, int]] = set()
        for logged, lost in events:
            arrivals = _first_arrivals(logged, seen)
            for result in lost + [a.result for a in arrivals if a.result.error is not None]:
                self._failed(result, failures)
                self._alive(n_children)
            for arrival in arrivals:
                version = arrival.version
                if arrival.result.error is not None:
                    continue
                if arrival.dropped:
                    dropped += 1
                else:
                    staleness.append(arrival.lag)
                window.append(arrival.result)
                if len(window) == n_children:
                    seconds = arrival.received_at - started
                    self._record(index, window, dropped, failures, staleness, seconds, version)
                    index += 1
                    window, failures, staleness, dropped = [], [], [], 0
                    started = arrival.received_at
                    if bar is not None:
                        bar.update()
        if window or failures:
            seconds = max(0.0, time.time() - started)
            self._record(index, window, dropped, failures, staleness, seconds, version)
