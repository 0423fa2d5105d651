"""AsyncStream: the coordinator's accounting when children push to it directly."""

from __future__ import annotations

import pytest

from datapredict.backends.base import ChildResult
from datapredict.coordinators.stream import Arrival, AsyncStream


def arrival(child: int, seq: int = 0, error: str | None = None, lag: int = 0) -> Arrival:
    result = ChildResult(child, None, 0, 10, 1.0, 0.0, error=error)
    return Arrival(result, lag=lag, dropped=False, version=1, seq=seq)


def stream(budget: int = 6, children=(0, 1, 2), max_staleness=None, **position) -> AsyncStream:
    return AsyncStream(
        budget,
        children,
        n_children=3,
        first_round=position.get("first_round", 0),
        first_seq=position.get("first_seq", 0),
        max_staleness=max_staleness,
    )


def test_exactly_the_budget_is_handed_out():
    accounts = stream(budget=7)
    replies = [accounts.arrive(arrival(i % 3, seq=i)) for i in range(7)]
    assert replies == [True, True, True, True, False, False, False]
    assert accounts.arrived == 7 and accounts.granted == 7


def test_a_failed_unit_is_not_replaced_and_its_child_stops():
    accounts = stream(budget=6)
    assert accounts.arrive(arrival(1, error="boom", seq=0)) is False
    assert accounts.join(1) == (False, 1)
    assert accounts.granted == 3


def test_join_tells_a_restarted_child_whether_it_holds_work_and_its_next_push_number():
    accounts = stream(budget=4, first_seq=5)
    assert accounts.join(0) == (True, 5)
    assert accounts.arrive(arrival(0, seq=5)) is True  # the 4th unit
    assert accounts.join(0) == (True, 6)
    assert accounts.arrive(arrival(0, seq=6)) is False  # nothing left
    assert accounts.join(0) == (False, 7)
    assert accounts.join(2) == (True, 5)  # still computing its first unit


def test_drain_returns_each_arrival_once_in_order():
    accounts = stream()
    first, second = arrival(2), arrival(0)
    accounts.arrive(first)
    accounts.arrive(second)
    assert accounts.drain() == [first, second]
    assert accounts.drain() == []


def test_position_counts_rounds_from_the_first_and_pushes_above_every_id():
    accounts = stream(budget=12, first_round=4, first_seq=9)
    assert accounts.position()["round"] == 4 and accounts.position()["next_seq"] == 9
    for seq, child in enumerate([0, 1, 2, 0]):
        accounts.arrive(arrival(child, seq=9 + seq))
    assert accounts.position()["round"] == 5 and accounts.position()["next_seq"] == 13


@pytest.mark.parametrize("max_staleness", [None, 0, 3])
def test_a_checkpointed_position_restores_the_accounting(max_staleness):
    accounts = stream(budget=9, first_round=2, first_seq=4, max_staleness=max_staleness)
    for seq, child in enumerate([0, 1, 2, 0, 1]):
        accounts.arrive(arrival(child, seq=4 + seq))
    saved = {key: int(value) for key, value in accounts.position().items()}  # as npz ints

    restored = AsyncStream.from_position(saved)
    assert (restored.budget, restored.granted, restored.arrived) == (9, 8, 5)
    assert restored.max_staleness == max_staleness and restored.n_children == 3
    assert restored.position()["round"] == 3
    assert all(restored.join(child) == (True, 9) for child in range(3))  # above every id
    assert [restored.arrive(arrival(c, seq=9)) for c in range(3)] == [True, False, False]


def test_a_position_without_a_stream_restores_none():
    assert AsyncStream.from_position({"round": 3, "next_seq": 7}) is None


@pytest.mark.parametrize(
    ("max_staleness", "lag", "dropped"), [(None, 99, False), (2, 2, False), (2, 3, True)]
)
def test_too_stale_only_beyond_the_bound(max_staleness, lag, dropped):
    assert stream(max_staleness=max_staleness).too_stale(lag) is dropped
