"""What both seed coordinators expose of their core, written once."""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict.coordinators.core import CoordinatorCore
from datapredict.parameters import Layout

__all__ = ["CoreFacade"]


class CoreFacade:
    """The lifecycle, state and read-only views a seed coordinator takes from its core.

    Subclasses set ``self._core`` (a :class:`CoordinatorCore`) in their constructor.
    """

    _core: CoordinatorCore

    @property
    def core(self) -> CoordinatorCore:
        """The flat-vector core (``push``, ``main_vector``, ``state_dict``, ...)."""
        return self._core

    @property
    def main_vector(self) -> np.ndarray | None:
        """A read-only view of the current main flat vector (no copy), or None before any.

        The next update may change it: copy it to keep a snapshot.
        """
        return self._core.main_vector

    @property
    def version(self) -> int:
        """Updates applied to the main parameters (setting them counts one)."""
        return self._core.version

    @property
    def layout(self) -> Layout | None:
        """The main parameters' layout, once known."""
        return self._core.layout

    # start/stop/flush repeat the core's three one-line methods on purpose: the seed's
    # classes expose them (DataPredict users call server.start()), the core owns them.
    def start(self) -> None:
        """Apply calls on a background thread from now on (they are validated, then queued)."""
        self._core.start()

    def stop(self) -> None:
        """Apply everything queued (finishing an update that is due), then stop the thread."""
        self._core.stop()

    def flush(self) -> None:
        """Block until everything queued so far has been applied."""
        self._core.flush()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: main vector, version, server optimizer state, last
        push ids, applied and collected counts."""
        return self._core.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the layout must already be set."""
        self._core.load_state_dict(state)
