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
from collections import deque
from typing import Any

from datapredict.backends.base import ChildResult
from datapredict.coordinators.outcome import PushStatus
from datapredict.errors import ChildFailureError
from datapredict.results import History, RoundWindow

__all__ = ["Runner"]

logger = logging.getLogger("datapredict")


class Runner:
    """The loop of a job, the same for every backend and wherever the coordinator runs.

    It sends work to the children through the backend, hands what they push to the
    coordinator's host (in this process or a Ray actor) and records each round in
    :attr:`history`. ``sampler`` says which children take part in each round;
    ``privacy`` (a :class:`~datapredict.privacy.accounting.PrivacyBudget`) gives each
    round's ε and stops before a round that would exceed its target.
    """

    def __init__(
        self, host, backend, sampler, main_model, eval_data, callback, privacy=None
    ) -> None:
        self.host, self.backend, self.sampler = host, backend, sampler
        self.main_model, self.eval_data, self.callback = main_model, eval_data, callback
        self.privacy = privacy
        self.history = History()
        self.dead: set[int] = set()
        self.first_round = 0
        self.next_seq = 0
        self.in_flight: dict[int, int] = {}
        self._reassigned = 0

    def resume(self, directory: str) -> None:
        """Load a checkpoint into the coordinator and continue from its round."""
        position = self.host.resume(directory)
        self.first_round, self.next_seq = position["round"], position["next_seq"]
        if self.privacy is not None:  # the rounds before the checkpoint spent ε too
            self.privacy.start_at(self.first_round)
        logger.info("resumed from %s at round %d", directory, self.first_round)

    def _submit(self, children: list[int], handle: Any, setup: Any = None) -> None:
        """Send work to ``children`` (with a secure round's public ``setup``); each push
        will carry the id ``(child, seq)``."""
        for child in children:
            self.in_flight[child] = self.next_seq
            self.next_seq += 1
        if setup is None:
            self.backend.submit(children, handle)
        else:
            self.backend.submit(children, handle, setup=setup)

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
        if self.privacy is not None:
            record.epsilon = self.privacy.spent(index)
        self.history.append(record)
        if self.callback is not None:
            self.callback(record)

    def _failed(self, result: ChildResult, failures: list[str]) -> None:
        self.dead.add(result.child)
        failures.append(f"child {result.child}: {result.error}")
        logger.warning("child %d failed and leaves the job: %s", result.child, result.error)

    def _alive(self, children: list[int]) -> list[int]:
        alive = [c for c in children if c not in self.dead]
        if len(self.dead) >= self.sampler.n_children:
            raise ChildFailureError("every child failed; see the history's failures")
        return alive

    def run_sync(self, rounds, quorum, round_timeout, bar) -> None:
        """Rounds up to ``rounds``: the round's live children work from the same version;
        the round closes on all of them, or on ``quorum`` once ``round_timeout`` passed."""
        busy: set[int] = set()
        for index in range(self.first_round, rounds):
            if self.privacy is not None and not self.privacy.allows(index):
                break  # the budget says why
            window = RoundWindow(time.perf_counter())
            main, version = self.host.main()
            handle = self.backend.broadcast(main, version)
            targets = [c for c in self._alive(self.sampler.sample(index)) if c not in busy]
            setup = self.host.round_setup(index, targets)
            self._submit(targets, handle, setup)
            busy.update(targets)
            late = self._collect(window, version, busy, len(targets), quorum, round_timeout)
            window.results.sort(key=lambda r: r.child)  # pushes combine in child order
            push_ids = [(r.child, self.in_flight[r.child]) for r in window.results]
            missing = len(targets) - len(window.results) - len(window.failures)
            window.dropped = late + missing
            lost = None if setup is None else setup.unrecoverable(r.child for r in window.results)
            if lost is None:
                self.host.push_round(window.results, push_ids, self._position(index + 1))
            else:  # secure aggregation: too many dropouts; the main parameters stay
                window.failures.append(lost)
                logger.warning("%s", lost)
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

    def _units(self, rounds: int) -> list[int]:
        """The async job's units of work, in order: each round's sampled children."""
        return [c for r in range(self.first_round, rounds) for c in self.sampler.sample(r)]

    def run_async(self, rounds, max_staleness, bar) -> None:
        """One push per unit of work (each round's sampled children, in order), each
        applied as it arrives (pushes more than ``max_staleness`` versions old are
        dropped); ``children_per_round`` pushes make a round."""
        units, per_round = deque(self._units(rounds)), self.sampler.per_round
        main, version = self.host.main()
        handles = {version: self.backend.broadcast(main, version)}
        busy: set[int] = set()
        self._hand_out(units, busy, per_round, handles[version])
        window, index = RoundWindow(time.perf_counter()), self.first_round
        while busy:
            for result in self.backend.wait(None):
                busy.discard(result.child)
                if result.error is not None:
                    self._failed(result, window.failures)
                    self._alive([])
                else:
                    self._apply_async(result, max_staleness, window, index)
                main, version = self.host.main()
                if version not in handles:
                    handles = {version: self.backend.broadcast(main, version)}
                self._hand_out(units, busy, len(busy) + 1, handles[version])
                if len(window) == per_round or not busy:
                    now = time.perf_counter()
                    self._record(index, window, now)
                    index += 1
                    window = RoundWindow(now)
                    if bar is not None:
                        bar.update()
        if window:  # the last failures came after the last full window
            self._record(index, window, time.perf_counter())

    def _hand_out(self, units: deque, busy: set[int], limit: int, handle: Any) -> None:
        """Submit the next units until ``limit`` are in flight; a busy child's unit waits
        for it, a dead child's goes to a live child (so the job's budget of pushes holds,
        less the units that failed)."""
        waiting: list[int] = []
        while units and len(busy) < limit:
            child = units.popleft()
            if child in self.dead:  # its unit goes to the next live child, in turn
                alive = self._alive(range(self.sampler.n_children))
                child = alive[self._reassigned % len(alive)]
                self._reassigned += 1
            if child in busy:
                waiting.append(child)
                continue
            busy.add(child)
            self._submit([child], handle)
        units.extendleft(reversed(waiting))

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
