"""When a coordinator is checkpointed, and how a job resumes from its checkpoint.

The file format (atomic, checksummed, pickle-free) is :mod:`datapredict.coordinators.checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datapredict.coordinators.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint

__all__ = ["Checkpointer"]


class Checkpointer:
    """Save a coordinator's state every ``every`` updates to ``directory`` (atomically)."""

    def __init__(self, directory: str | Path | None, every: int) -> None:
        self.directory = None if directory is None else Path(directory)
        self.every = every
        self.saved_version = 0

    def exists(self) -> bool:
        """Whether a checkpoint is there to resume from."""
        return self.directory is not None and (self.directory / CHECKPOINT_NAME).is_file()

    def maybe_save(self, coordinator: Any, extra: dict[str, int]) -> None:
        """Save if ``every`` updates passed since the last save (or since the start)."""
        if self.directory is None:
            return
        version = coordinator.version
        if version - self.saved_version < self.every:
            return
        state = coordinator.state_dict()
        state.update(extra)
        save_checkpoint(self.directory, state)
        self.saved_version = version

    def restore(self, coordinator: Any, directory: str | Path) -> dict[str, int]:
        """Load ``directory``'s checkpoint into ``coordinator``; returns the position
        saved with it (the runner's round and next push number, and any other ints the
        host added)."""
        own = coordinator.state_dict()
        state = load_checkpoint(
            directory,
            own["optimizer_state"],
            main_template=own["main"],
            privacy_template=own.get("privacy_state"),
        )
        coordinator.load_state_dict(state)
        self.saved_version = coordinator.version
        skip = own.keys() | {"last_seq"}  # load_checkpoint gives it for every coordinator
        return {key: int(value) for key, value in state.items() if key not in skip}
