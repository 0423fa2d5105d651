"""The history a job records (RoundRecord rows with column access), and the runner's
async loop over a coordinator that children push to directly."""

from __future__ import annotations

import time

import numpy as np
import pytest

from datapredict.backends.base import ChildResult
from datapredict.coordinators.host import Arrival
from datapredict.runner import History, RoundRecord, Runner


def record(index: int, **fields) -> RoundRecord:
    values = {"version": index + 1, "cost": 1.0 / (index + 1), "metric": None}
    values.update(fields)
    return RoundRecord(round=index, seconds=0.5, pushes=3, **values)


def test_a_column_is_a_float_array_in_round_order():
    history = History([record(0), record(1, dropped=2), record(2)])
    np.testing.assert_array_equal(history["cost"], [1.0, 0.5, 1.0 / 3.0])
    np.testing.assert_array_equal(history["dropped"], [0, 2, 0])
    assert history["metric"].dtype == float and np.isnan(history["metric"]).all()


def test_failures_stay_lists_and_integer_indexing_gives_records():
    history = History([record(0, failures=["child 1: died"]), record(1)])
    assert list(history["failures"]) == [["child 1: died"], []]
    assert history[1] is history[-1] and history[1].round == 1


def test_as_dicts_gives_plain_rows():
    rows = History([record(0, staleness_max=2)]).as_dicts()
    assert rows == [
        {
            "round": 0,
            "version": 1,
            "cost": 1.0,
            "metric": None,
            "seconds": 0.5,
            "pushes": 3,
            "dropped": 0,
            "failures": [],
            "staleness_mean": 0.0,
            "staleness_max": 2,
        }
    ]


def test_plot_draws_a_column_against_the_round():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    history = History([record(i, cost=c) for i, c in enumerate([3.0, 2.0, 1.5])])
    ax = history.plot("cost", label="job")
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.5])
    assert ax.get_ylabel() == "cost" and line.get_label() == "job"
    assert history.plot("version", ax=ax) is ax and len(ax.get_lines()) == 2
    matplotlib.pyplot.close("all")
    with pytest.raises(KeyError, match="no column 'loss'"):
        history.plot("loss")


def test_an_unknown_column_names_the_columns():
    with pytest.raises(KeyError, match=r"no column 'nope'.*'staleness_max'"):
        History([record(0)])["nope"]


class _ReplayedStream:
    """A backend whose children push to the coordinator themselves; it replays what
    the coordinator logged, one list of arrivals per poll."""

    def __init__(self, polls: list[list[Arrival]]) -> None:
        self.polls = polls

    def stream_async(self, children, n_children, budget, position, max_staleness):
        for arrivals in self.polls:
            yield arrivals, []


class _Host:
    version = 0

    def dropped_stale(self) -> int:
        return 0


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
