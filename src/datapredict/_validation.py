"""Small helpers shared by every option check, so that all messages follow one template.

``The 'beta' option of TrimmedMean must be a float in [0, 0.5). Got 0.6 instead.``
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from datapredict.errors import InvalidOptionError


def option_error(owner: str, name: str, expected: str, got: Any) -> InvalidOptionError:
    """Build the standard error for an option ``name`` of ``owner``."""
    return InvalidOptionError(
        f"The {name!r} option of {owner} must be {expected}. Got {got!r} instead."
    )


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``choices``; raise otherwise."""
    choices = tuple(choices)
    if not isinstance(value, str) or value.lower() not in choices:
        raise option_error(owner, name, "one of " + ", ".join(map(repr, choices)), value)
    return value.lower()


def check_int(owner: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer not below ``minimum``; raise otherwise."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise option_error(owner, name, f"an integer{bound}", value)
    return int(value)


def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it lies in the interval; raise otherwise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open or low is None else "[") + f"{left}, {right}"
        interval += ")" if high_open or high is None else "]"
        raise option_error(owner, name, f"a float in {interval}", value)
    return float(value)


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``None``, an int, a ``SeedSequence`` or a ``Generator`` into a ``Generator``."""
    if random_state is None or isinstance(random_state, numbers.Integral | np.random.SeedSequence):
        if isinstance(random_state, bool):
            raise option_error("random_state", "random_state", "None, an int or a Generator", True)
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise option_error(
        "datapredict", "random_state", "None, an int, a SeedSequence or a Generator", random_state
    )


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy bools included); raise otherwise."""
    if not isinstance(value, bool | np.bool_):
        raise option_error(owner, name, "a bool", value)
    return bool(value)
