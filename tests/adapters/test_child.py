"""The helpers the adapters' children share (``datapredict.adapters._child``)."""

from __future__ import annotations

import numpy as np
import pytest

from datapredict.adapters._child import SavedStep, settable_options
from datapredict.errors import InvalidOptionError, NotInitializedError


def test_settable_options_adds_max_iterations_and_refuses_unknown_names():
    assert settable_options("Child", ("max_iterations",), 3, {}) == {"max_iterations": 3}
    assert settable_options("Child", ("max_iterations", "seed"), None, {"seed": 1}) == {"seed": 1}
    with pytest.raises(InvalidOptionError, match=r"Child.set_parameters has no option 'lr'; "):
        settable_options("Child", ("max_iterations",), 3, {"lr": 0.1})


class _Child(SavedStep):
    def __init__(self) -> None:
        self._are_gradients_saved = False
        self._saved_step = None


def test_saved_step():
    child = _Child()
    with pytest.raises(NotInitializedError, match=r"set_are_gradients_saved\(True\)"):
        child._last_step()
    child.set_are_gradients_saved(True)
    child._saved_step = np.ones(2)
    assert child._are_gradients_saved and child._last_step() is child._saved_step
    child.set_are_gradients_saved(False)
    assert child._saved_step is None
    with pytest.raises(InvalidOptionError, match="are_gradients_saved"):
        child.set_are_gradients_saved("yes")
