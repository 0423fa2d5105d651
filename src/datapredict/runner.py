"""The runner: the loop of a training job.

:func:`~datapredict.training.train_distributed` builds the children, the backend and the
coordinator's host, then hands them to a :class:`Runner`, which drives sync rounds or
async pushes the same way for every backend and records a
:class:`~datapredict.results.RoundRecord` per round in a
:class:`~datapredict.results.History`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from datapredict.backends.base import ChildResult
from datapredict.coordinators.outcome import PushStatus
from datapredict.errors import ChildFailureError
from datapredict.results import History, RoundWindow

__all__ = ["Runner"]

logger = logging.getLogger("datapredict")


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

    def _record(self, index: int, window: RoundWindow, ended: float, version=None) -> None:
        """Record round ``index`` from ``window``: its costs, the main model's metric on
        ``eval_data`` and the coordinator's version."""
        metric = None
        if version is None:
            version = self.host.version
        if self.eval_data is not None:
            main, version = self.host.parameters()
            self.main_model.set_model_parameters(main)
            metric = float(self.main_model.score(*self.eval_data))
        record = window.record(index, version, metric, ended)
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
            window = RoundWindow(time.perf_counter())
            main, version = self.host.main()
            handle = self.backend.broadcast(main, version)
            targets = [c for c in self._alive(n_children) if c not in busy]
            for child in targets:
                self._submit(child, handle)
            busy.update(targets)
            late = self._collect(window, version, busy, len(targets), quorum, round_timeout)
            window.results.sort(key=lambda r: r.child)  # pushes combine in child order
            push_ids = [(r.child, self.in_flight[r.child]) for r in window.results]
            self.host.push_round(window.results, push_ids, self._position(index + 1))
            missing = len(targets) - len(window.results) - len(window.failures)
            window.dropped = late + missing
            self._record(index, window, time.perf_counter())
            if bar is not None:
                bar.update()

    def _collect(self, window, version, busy, expected, quorum, round_timeout) -> int:
        """Gather this round's results into ``window`` until all came, or the quorum and
        the deadline; return how many late results of earlier rounds arrived."""
        quorum = min(quorum, expected)
        deadline = None if round_timeout is None else time.perf_counter() + round_timeout
        late = received = 0
        while received < expected:
            remaining = None if deadline is None else max(0.0, deadline - time.perf_counter())
            enough = len(window.results) >= quorum
            if remaining == 0.0 and enough:
                break
            for result in self.backend.wait(remaining if enough else None):
                busy.discard(result.child)
                if result.version != version:
                    late += 1
                    continue
                received += 1
                if result.error is not None:
                    self._failed(result, window.failures)
                else:
                    window.results.append(result)
        return late

    def run_async(self, rounds, n_children, max_staleness, bar) -> None:
        """``(rounds - first round) x n_children`` pushes, each applied as it arrives
        (pushes more than ``max_staleness`` versions old are dropped); K make a round."""
        if self.backend.streams_async:  # children push to the coordinator themselves
            self._run_async_streamed(rounds, n_children, max_staleness, bar)
            return
        budget = (rounds - self.first_round) * n_children
        main, version = self.host.main()
        handles = {version: self.backend.broadcast(main, version)}
        for child in self._alive(n_children):
            self._submit(child, handles[version])
        in_flight = submitted = n_children
        window, index = RoundWindow(time.perf_counter()), self.first_round
        while in_flight:
            for result in self.backend.wait(None):
                in_flight -= 1
                if result.error is not None:
                    self._failed(result, window.failures)
                    self._alive(n_children)
                    continue
                self._apply_async(result, max_staleness, window, index)
                if submitted < budget:
                    main, version = self.host.main()
                    if version not in handles:
                        handles = {version: self.backend.broadcast(main, version)}
                    self._submit(result.child, handles[version])
                    in_flight += 1
                    submitted += 1
                if len(window) == n_children or in_flight == 0:
                    now = time.perf_counter()
                    self._record(index, window, now)
                    index += 1
                    window = RoundWindow(now)
                    if bar is not None:
                        bar.update()
        if window:  # the last failures came after the last full window
            self._record(index, window, time.perf_counter())

    def _apply_async(self, result, max_staleness, window: RoundWindow, index: int) -> None:
        """Push one async result to the coordinator unless too stale; count it in
        ``window`` (dropped, or applied with its staleness)."""
        lag = self.host.version - result.version
        if max_staleness is not None and lag > max_staleness:
            window.dropped += 1
        else:
            push_id = (result.child, self.in_flight[result.child])
            outcome = self.host.push(result, push_id, self._position(index))
            if outcome.status is PushStatus.DROPPED_STALE:  # the server's own bound
                window.dropped += 1
            else:
                window.staleness.append(lag)
        window.results.append(result)

    def _run_async_streamed(self, rounds, n_children, max_staleness, bar) -> None:
        """Async with children pushing straight to the coordinator (the backend's
        ``stream_async``): the driver only turns what arrived into the history."""
        budget = (rounds - self.first_round) * n_children
        index, version = self.first_round, None
        window = RoundWindow(time.time())  # then the coordinator's clock (received_at)
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
                self._failed(result, window.failures)
                self._alive(n_children)
            for arrival in arrivals:
                version = arrival.version
                if arrival.result.error is not None:
                    continue
                if arrival.dropped:
                    window.dropped += 1
                else:
                    window.staleness.append(arrival.lag)
                window.results.append(arrival.result)
                if len(window) == n_children:
                    self._record(index, window, arrival.received_at, version)
                    index += 1
                    window = RoundWindow(arrival.received_at)
                    if bar is not None:
                        bar.update()
        if window:
            self._record(index, window, max(window.started, time.time()), version)
