"""The runner's async loop over a coordinator that children push to directly."""

from __future__ import annotations

import time

from datapredict.backends.base import ChildResult
from datapredict.coordinators.stream import Arrival
from datapredict.results import RoundRecord
from datapredict.runner import Runner


def record(index: int, **fields) -> RoundRecord:
    values = {"version": index + 1, "cost": 1.0 / (index + 1), "metric": None}
    values.update(fields)
    return RoundRecord(round=index, seconds=0.5, pushes=3, **values)


class _ReplayedStream:
    """A backend whose children push to the coordinator themselves; it replays what
    the coordinator logged, one list of arrivals per poll."""

    hosts_coordinator = True
    streams_async = True

    def __init__(self, polls: list[list[Arrival]]) -> None:
        self.polls = polls

    def stream_async(self, children, n_children, budget, position, max_staleness):
        for arrivals in self.polls:
            yield arrivals, []


class _Host:
    version = 0


def _arrival(child: int, seq: int, cost: float, at: float) -> Arrival:
    result = ChildResult(child, None, 0, 10, cost, 0.0)
    return Arrival(result, lag=child, dropped=False, version=seq + 1, seq=seq, received_at=at)


def test_a_push_logged_again_by_a_restarted_coordinator_counts_once():
    start = time.time()  # the runner times the first round from its own start
    pushes = [_arrival(child, seq, cost=1.0 + seq, at=start + seq) for seq, child in
              enumerate([0, 1, 0, 1])]  # fmt: skip
    # The coordinator logged push 1, crashed before replying, and logged it again when
    # the child retried the call on the restarted coordinator.
    polls = [pushes[:2], [pushes[1], pushes[2]], [pushes[3]]]
    runner = Runner(_Host(), _ReplayedStream(polls), None, None, None)
    runner.run_async(rounds=2, n_children=2, max_staleness=None, bar=None)

    assert [record.pushes for record in runner.history] == [2, 2]
    assert list(runner.history["cost"]) == [1.5, 3.5]
    assert list(runner.history["version"]) == [2, 4]
    assert runner.history["seconds"][1] == 2.0  # from push 1 to push 3, once each
