"""The grouped options of a training job: small, validated, documented objects.

:func:`~datapredict.training.train_distributed` keeps plain keywords for the common
cases (``merger=``, ``server_optimizer=``); these objects hold the rest, one concern
each:

- :class:`Aggregation`: how pushes are combined (merge rule, server optimizer, clipping);
- :class:`AsyncPolicy`: how async pushes are weighted, bounded and buffered;
- :class:`Quorum`: when a sync round closes without every child;
- :class:`Checkpointing`: where and how often to save, and what to resume from.

Each is a frozen dataclass validated when it is made, so a bad value is refused before
any work starts, with an error naming the option.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datapredict._validation import check_float, check_int, option_error
from datapredict.merge.rules import resolve_rule
from datapredict.merge.server_optimizers import resolve_server_optimizer
from datapredict.merge.staleness import resolve_staleness

__all__ = ["Aggregation", "AsyncPolicy", "Checkpointing", "Quorum"]


@dataclass(frozen=True)
class Aggregation:
    """How children's pushes become new main parameters.

    Parameters
    ----------
    merger : str, merge rule or ModelParametersMerger, optional
        How pushes are combined: a name ("average", "fedavg", "median", "krum", ...), a
        rule object (``TrimmedMean(beta=0.2)``) or, for the model-parameters strategy, a
        :class:`~datapredict.coordinators.merger.ModelParametersMerger`. Default "average".
    server_optimizer : str or server optimizer, optional
        E.g. "fedadam" or ``FedAvgM(momentum=0.9)``; default replaces main by the merge.
    max_norm : float, optional
        Gradients strategy: clip each pushed step to this L2 norm first.
    """

    merger: Any = None
    server_optimizer: Any = None
    max_norm: float | None = None

    def __post_init__(self) -> None:
        from datapredict.coordinators.merger import ModelParametersMerger

        if self.merger is not None and not isinstance(self.merger, ModelParametersMerger):
            resolve_rule(self.merger)
        resolve_server_optimizer(self.server_optimizer)
        if self.max_norm is not None:
            check_float("Aggregation", "max_norm", self.max_norm, low=0, low_open=True)


@dataclass(frozen=True)
class AsyncPolicy:
    """How asynchronous pushes are treated (``mode="async"``).

    Parameters
    ----------
    max_staleness : int, optional
        Drop pushes computed from parameters more than this many updates old.
    staleness : str or staleness weight, optional
        Gradients strategy: weight each step by its staleness ("constant", "polynomial",
        "hinge" or a :mod:`datapredict.merge.staleness` object; FedAsync).
    buffer_size : int, default=1
        Gradients strategy: apply the mean of every ``buffer_size`` steps (FedBuff).
    """

    max_staleness: int | None = None
    staleness: Any = None
    buffer_size: int = 1

    def __post_init__(self) -> None:
        if self.max_staleness is not None:
            check_int("AsyncPolicy", "max_staleness", self.max_staleness, minimum=0)
        resolve_staleness(self.staleness)
        check_int("AsyncPolicy", "buffer_size", self.buffer_size, minimum=1)


# Like every class here: a frozen dataclass, a numpydoc Parameters list and __post_init__
# checks, so consecutive classes look alike around their boundaries (on purpose).
@dataclass(frozen=True)
class Quorum:
    """When a sync round may close without every child.

    Parameters
    ----------
    min_children : int
        The round closes once this many children pushed and ``round_timeout`` passed;
        later pushes are dropped and counted in the history.
    round_timeout : float, optional
        Seconds to wait for every child before settling for ``min_children``; None
        waits for all of them.
    """

    min_children: int
    round_timeout: float | None = None

    def __post_init__(self) -> None:
        check_int("Quorum", "min_children", self.min_children, minimum=1)
        if self.round_timeout is not None:
            check_float("Quorum", "round_timeout", self.round_timeout, low=0)


@dataclass(frozen=True)
class Checkpointing:
    """Where and how often to checkpoint the coordinator, and what to resume from.

    Parameters
    ----------
    directory : path
        The checkpoint is written atomically to ``directory/checkpoint.npz``.
    every : int, default=1
        Save every ``every`` updates of the main parameters.
    resume_from : path, optional
        Continue the job saved in this directory (often ``directory`` itself): rounds
        already done are not repeated, pushes already applied are not applied again.
    """

    directory: str | os.PathLike
    every: int = 1
    resume_from: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        for name in ("directory", "resume_from"):
            value = getattr(self, name)
            if not (value is None and name == "resume_from") and not isinstance(
                value, str | os.PathLike
            ):
                raise option_error("Checkpointing", name, "a path (str or os.PathLike)", value)
        check_int("Checkpointing", "every", self.every, minimum=1)

    @classmethod
    def of(cls, value: Any) -> Checkpointing | None:
        """``value`` as a :class:`Checkpointing`: None, a path (save there), or one."""
        if value is None or isinstance(value, Checkpointing):
            return value
        if isinstance(value, str | os.PathLike):
            return cls(Path(value))
        raise option_error(
            "train_distributed", "checkpoint", "None, a directory or a Checkpointing", value
        )
