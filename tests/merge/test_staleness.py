"""Tests for datapredict.merge.staleness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datapredict.errors import InvalidOptionError
from datapredict.merge.staleness import (
    STALENESS_WEIGHTS,
    Constant,
    Hinge,
    Polynomial,
    StalenessWeight,
    resolve_staleness,
)

WEIGHTS = [Constant(), Polynomial(), Polynomial(a=2.0), Hinge(), Hinge(a=0.5, b=0)]
IDS = [repr(weight) for weight in WEIGHTS]


def test_hand_values():
    assert Constant()(7) == 1.0
    # (1 + 3) ** -0.5 = 1 / 2; (1 + 8) ** -0.5 = 1 / 3
    assert Polynomial()(3) == 0.5
    assert Polynomial()(8) == pytest.approx(1 / 3, rel=1e-15)
    # (1 + 1) ** -2 = 1 / 4
    assert Polynomial(a=2.0)(1) == 0.25
    # b = 4: staleness 4 at full weight; 5 -> 1 / (10 * 1 + 1); 6 -> 1 / (10 * 2 + 1)
    assert Hinge()(4) == 1.0
    assert Hinge()(5) == pytest.approx(1 / 11, rel=1e-15)
    assert Hinge()(6) == pytest.approx(1 / 21, rel=1e-15)
    # a = 0.5, b = 2: staleness 4 -> 1 / (0.5 * 2 + 1) = 1 / 2
    assert Hinge(a=0.5, b=2)(4) == 0.5


def test_array_input_gives_array():
    staleness = np.array([[0, 1], [3, 8]])
    weights = Polynomial()(staleness)
    assert isinstance(weights, np.ndarray)
    assert weights.dtype == np.float64
    np.testing.assert_allclose(weights, [[1.0, 2**-0.5], [0.5, 1 / 3]], rtol=1e-15)
    np.testing.assert_array_equal(Constant()(np.arange(3, dtype=np.uint8)), np.ones(3))
    np.testing.assert_allclose(Hinge(a=1.0, b=1)(np.arange(4)), [1, 1, 1 / 2, 1 / 3])


@pytest.mark.parametrize("weight", WEIGHTS, ids=IDS)
def test_scalar_input_gives_float(weight):
    assert type(weight(np.int64(2))) is float
    assert type(weight(2)) is float


@pytest.mark.parametrize("weight", WEIGHTS, ids=IDS)
def test_zero_staleness_gives_one(weight):
    assert weight(0) == 1.0


@pytest.mark.parametrize("weight", WEIGHTS, ids=IDS)
@given(staleness=st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_monotone_non_increasing_in_unit_interval(weight, staleness):
    ordered = np.sort(np.array(staleness, dtype=np.int64))
    weights = weight(ordered)
    assert np.all(np.diff(weights) <= 0)
    assert np.all((weights > 0) & (weights <= 1))
    np.testing.assert_array_equal(weights, [weight(int(s)) for s in ordered])


@pytest.mark.parametrize("weight", WEIGHTS, ids=IDS)
@pytest.mark.parametrize("staleness", [-1, np.array([0, -2])])
def test_negative_staleness_rejected(weight, staleness):
    with pytest.raises(ValueError, match="non-negative integer"):
        weight(staleness)


@pytest.mark.parametrize("staleness", [1.0, True, "2", np.array([1.5]), None])
def test_non_integer_staleness_rejected(staleness):
    with pytest.raises(TypeError, match="non-negative integer"):
        Polynomial()(staleness)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Polynomial(a=0), "The 'a' option of Polynomial must be a float in (0, inf)."),
        (lambda: Polynomial(a=-1.0), "The 'a' option of Polynomial must be a float in (0, inf)."),
        (lambda: Hinge(a=0.0), "The 'a' option of Hinge must be a float in (0, inf)."),
        (lambda: Hinge(b=-1), "The 'b' option of Hinge must be an integer >= 0."),
        (lambda: Hinge(b=1.5), "The 'b' option of Hinge must be an integer >= 0."),
    ],
)
def test_bad_options_rejected(factory, message):
    with pytest.raises(InvalidOptionError) as info:
        factory()
    assert str(info.value).startswith(message)


def test_repr():
    assert repr(Polynomial()) == "Polynomial(a=0.5)"
    assert repr(Hinge()) == "Hinge(a=10.0, b=4)"
    assert repr(Constant()) == "Constant()"


def test_registry_and_resolve():
    assert set(STALENESS_WEIGHTS) == {"constant", "polynomial", "hinge"}
    assert resolve_staleness(None) == Constant()
    assert resolve_staleness("Polynomial") == Polynomial()
    assert resolve_staleness("hinge") == Hinge()
    custom = Hinge(a=2.0, b=1)
    assert resolve_staleness(custom) is custom
    assert all(isinstance(cls(), StalenessWeight) for cls in STALENESS_WEIGHTS.values())


@pytest.mark.parametrize("value", ["poly", Hinge, 0.5])
def test_resolve_rejects(value):
    with pytest.raises(InvalidOptionError) as info:
        resolve_staleness(value, owner="DistributedGradients")
    message = str(info.value)
    assert message.startswith("The 'staleness' option of DistributedGradients must be None")
    assert "'constant', 'polynomial', 'hinge'" in message
