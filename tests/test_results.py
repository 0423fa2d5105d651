"""The history a job records: RoundRecord rows with column access, plots, round windows."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from datapredict.backends.base import ChildResult
from datapredict.errors import InvalidOptionError, MissingDependencyError
from datapredict.results import History, RoundRecord, RoundWindow


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
            "children": [],
            "bytes_sent": 0,
            "epsilon": None,
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


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(MissingDependencyError, match=r"datapredict\[demo\]"):
        History([record(0)]).plot("cost")


def test_plot_of_a_column_without_values_says_so():
    with pytest.raises(InvalidOptionError, match=r"'metric' has no values.*eval_data"):
        History([record(0), record(1)]).plot("metric")
    with pytest.raises(InvalidOptionError, match="holds lists"):
        History([record(0)]).plot("failures")


def _result(child: int, cost: float, n: int, error: str | None = None) -> ChildResult:
    return ChildResult(child, None, 1, n, cost, 0.0, error=error)


def test_a_round_window_records_the_sample_weighted_cost_and_the_children():
    window = RoundWindow(started=10.0)
    window.results += [_result(2, 1.0, 1), _result(0, 4.0, 3)]
    window.staleness += [0, 2]
    window.dropped = 1
    window.failures.append("child 1: died")
    row = window.record(3, version=7, metric=0.5, ended=12.5)
    assert row.cost == pytest.approx((1.0 * 1 + 4.0 * 3) / 4)
    assert (row.round, row.version, row.metric, row.seconds) == (3, 7, 0.5, 2.5)
    assert (row.pushes, row.dropped, row.failures) == (2, 1, ["child 1: died"])
    assert (row.staleness_mean, row.staleness_max, row.children) == (1.0, 2, [2, 0])
    assert np.isnan(RoundWindow(0.0).record(0, 1, None, 1.0).cost)
