"""What a training job returns: one :class:`RoundRecord` per round in a :class:`History`,
inside a :class:`TrainingResult`; and :class:`RoundWindow`, the bookkeeping of one round
while it runs (the runner's sync and async loops share it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from datapredict.errors import InvalidOptionError, MissingDependencyError

__all__ = ["History", "RoundRecord", "RoundWindow", "TrainingResult"]


@dataclass
class RoundRecord:
    """One round of a job (in async mode: every K pushes received).

    ``cost`` is the sample-weighted mean of the children's costs at the parameters they
    started from (in sync mode with full-batch children: the main model's training
    cost); ``metric`` is the main model's score on ``eval_data`` after the round.
    ``pushes`` counts the pushes received in the round and ``dropped`` those of them
    left out (too stale, or late for a sync quorum); ``staleness_mean`` and
    ``staleness_max`` describe the pushes applied (how many updates the main parameters
    had taken since the child's copy); ``children`` lists the children whose pushes the
    round received, in order; ``bytes_sent`` sums the bytes of those pushes as sent
    (compressed payloads, or the float vectors). ``epsilon`` is the job's ε (for its δ)
    after the round, with differential privacy (``privacy=`` of ``train_distributed``;
    None without).
    """

    round: int
    version: int
    cost: float
    metric: float | None
    seconds: float
    pushes: int
    dropped: int = 0
    failures: list[str] = field(default_factory=list)
    staleness_mean: float = 0.0
    staleness_max: int = 0
    children: list[int] = field(default_factory=list)
    bytes_sent: int = 0
    epsilon: float | None = None


class History(list):
    """The list of :class:`RoundRecord`, with column access: ``history["cost"]``."""

    def __getitem__(self, key):
        if isinstance(key, str):
            columns = [f.name for f in fields(RoundRecord)]
            if key not in columns:
                raise KeyError(f"history has no column {key!r}; the columns are {columns}")
            return np.array(
                [getattr(record, key) for record in self],
                dtype=object if key in ("failures", "children") else float,
            )
        return super().__getitem__(key)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Plain dicts, e.g. for ``pandas.DataFrame(history.as_dicts())``."""
        return [asdict(record) for record in self]

    def plot(self, column: str = "cost", ax: Any = None, **line_options: Any) -> Any:
        """Draw ``column`` against the round with matplotlib; returns the Axes.

        Parameters
        ----------
        column : str, default="cost"
            A :class:`RoundRecord` field, e.g. "metric" or "staleness_mean".
        ax : matplotlib Axes, optional
            Where to draw (a new figure's Axes otherwise), e.g. to compare two jobs.
        **line_options
            Passed to ``ax.plot`` (``label=...``, ``linestyle=...``).
        """
        values = self[column]
        if column in ("failures", "children"):
            raise InvalidOptionError(f"History.plot: column {column!r} holds lists; plot a number")
        if len(values) and np.isnan(values.astype(float)).all():
            raise InvalidOptionError(
                f"History.plot: column {column!r} has no values (e.g. 'metric' needs "
                "eval_data=... in train_distributed)"
            )
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise MissingDependencyError(
                "History.plot needs matplotlib, which is not installed: "
                "pip install 'datapredict[demo]'"
            ) from None
        if ax is None:
            ax = plt.figure().add_subplot()
        ax.plot(self["round"], values, **line_options)
        ax.set(xlabel="round", ylabel=column)
        return ax


@dataclass
class TrainingResult:
    """What :func:`~datapredict.training.train_distributed` returns.

    Attributes
    ----------
    main_parameters : ModelParameters
        The final main parameters, in the model's structure.
    model : object
        A model holding them (``result.model.score(X, y)``).
    history : History
        One record per round.
    version : int
        Updates applied to the main parameters.
    seconds : float
        Wall time of the job.
    privacy : PrivacyReport or None
        With differential privacy: the (ε, δ) spent, the noise multiplier, the rounds,
        and why training stopped early if it did (see :mod:`datapredict.privacy`).
    """

    main_parameters: Any
    model: Any
    history: History
    version: int
    seconds: float
    privacy: Any = None


class RoundWindow:
    """What one round collects until it is recorded: the results received, failures,
    dropped pushes and the staleness of the pushes applied."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.results: list[Any] = []
        self.failures: list[str] = []
        self.staleness: list[int] = []
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.results)

    def __bool__(self) -> bool:
        return bool(self.results or self.failures)

    def record(self, index: int, version: int, metric: float | None, ended: float) -> RoundRecord:
        """The round's :class:`RoundRecord`; its cost is the sample-weighted mean of the
        children's costs."""
        ok = [r for r in self.results if r.error is None]
        samples = np.array([r.n_samples for r in ok], dtype=float)
        costs = [r.cost for r in ok]
        cost = float(np.dot(samples, costs) / samples.sum()) if ok else float("nan")
        return RoundRecord(
            round=index,
            version=version,
            cost=cost,
            metric=metric,
            seconds=max(0.0, ended - self.started),
            pushes=len(ok),
            dropped=self.dropped,
            failures=self.failures,
            staleness_mean=float(np.mean(self.staleness)) if self.staleness else 0.0,
            staleness_max=int(max(self.staleness)) if self.staleness else 0,
            children=[r.child for r in ok],
            bytes_sent=sum(r.nbytes for r in ok),
        )
