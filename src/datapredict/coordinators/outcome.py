"""What happened to a push (:class:`PushOutcome`), and a coordinator's counters."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["PushOutcome", "PushStats", "PushStatus"]


class PushStatus(enum.Enum):
    """What happened to one push."""

    APPLIED = "applied"  # it completed an update: the main parameters changed
    BUFFERED = "buffered"  # kept for a later combined update (a sync round, a buffer)
    QUEUED = "queued"  # accepted for the background worker; its fate comes later
    DROPPED_STALE = "dropped_stale"  # computed from parameters too many updates old
    DUPLICATE = "duplicate"  # its (child_id, seq) was seen already


class PushOutcome(NamedTuple):
    """A push's :class:`PushStatus` and the coordinator's version after it."""

    status: PushStatus
    version: int

    @property
    def dropped(self) -> bool:
        """Whether the push was left out (too stale, or a duplicate)."""
        return self.status in (PushStatus.DROPPED_STALE, PushStatus.DUPLICATE)


@dataclass
class PushStats:
    """Counters of a coordinator: what was applied, dropped, and how stale pushes were."""

    version: int = 0
    received: int = 0
    applied: int = 0
    dropped_stale: int = 0
    duplicates: int = 0
    staleness: Counter = field(default_factory=Counter)
