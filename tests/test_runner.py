"""The history a job records: RoundRecord rows with column access."""

from __future__ import annotations

import numpy as np
import pytest

from datapredict.runner import History, RoundRecord


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


def test_an_unknown_column_names_the_columns():
    with pytest.raises(KeyError, match=r"no column 'nope'.*'staleness_max'"):
        History([record(0)])["nope"]
