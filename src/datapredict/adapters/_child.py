"""What the adapters' children share: the head of ``set_parameters`` and the saved step."""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict._validation import check_bool
from datapredict.errors import InvalidOptionError, NotInitializedError

__all__ = ["SavedStep", "settable_options"]


def settable_options(
    owner: str, settable: tuple[str, ...], max_iterations: Any, options: dict[str, Any]
) -> dict[str, Any]:
    """Return ``options`` with ``max_iterations`` (the seed's first positional) added.

    Raises
    ------
    InvalidOptionError
        For a name not in ``settable``, listing them; nothing is validated otherwise.
    """
    if max_iterations is not None:
        options["max_iterations"] = max_iterations
    unknown = [name for name in options if name not in settable]
    if unknown:
        raise InvalidOptionError(
            f"{owner}.set_parameters has no option {unknown[0]!r}; the options are {list(settable)}"
        )
    return options


class SavedStep:
    """``set_are_gradients_saved`` and the step of the last ``train`` it keeps.

    The host's ``__init__`` sets ``_are_gradients_saved = False`` and ``_saved_step =
    None``; its ``train`` stores ``before - after`` in ``_saved_step`` when
    ``_are_gradients_saved``, and its ``get_gradients`` returns a copy of
    :meth:`_last_step` in its own structure.
    """

    _are_gradients_saved: bool
    _saved_step: np.ndarray | None

    def set_are_gradients_saved(self, saved: bool) -> None:
        """Keep (``True``) or not the step of the last :meth:`train` for :meth:`get_gradients`."""
        self._are_gradients_saved = check_bool(type(self).__name__, "are_gradients_saved", saved)
        if not saved:
            self._saved_step = None

    def _last_step(self) -> np.ndarray:
        """The saved step (flat, not a copy); raise when there is none."""
        if self._saved_step is None:
            raise NotInitializedError(
                "get_gradients: no step saved; call set_are_gradients_saved(True), then train"
            )
        return self._saved_step
