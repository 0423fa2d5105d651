"""``DistributedModelParameters``: merge children's parameters every N updates.

Children train many steps on their own data. Each ``train`` / ``reinforce`` call on a
child, and each ``add_model_parameters`` push from a child trained elsewhere, counts
one update; when the count reaches ``updates_per_merge`` the candidates (every added
child's parameters, then the pushed parameter sets, in order) are merged by the
:class:`ModelParametersMerger`, passed through the server optimizer, stored as the main
parameters and set into every child. The count restarts.

The seed's methods are thin wrappers around a
:class:`~datapredict.coordinators.core.CoordinatorCore`: a child's parameters enter it
once, at the door, as the child's row of candidates.

Concurrency: a child's parameters are read after its ``train`` under the child's own
lock and pushed with the child's training count; a merge sends the new main parameters
to a child only if that child has not trained since its row was written, so a child
whose training ends while a merge runs keeps its result, which counts toward the next
merge. No acknowledged update is lost.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from datapredict._validation import check_int
from datapredict.coordinators._door import check_weight, enter, new_main
from datapredict.coordinators._facade import CoreFacade
from datapredict.coordinators.chain import AggregationChain
from datapredict.coordinators.core import CoordinatorCore
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.coordinators.outcome import PushOutcome
from datapredict.errors import (
    InvalidOptionError,
    ModelIndexError,
    NotInitializedError,
    ParameterStructureError,
)
from datapredict.merge.server_optimizers import resolve_server_optimizer
from datapredict.parameters import ModelParameters

__all__ = ["DistributedModelParameters"]

_OWNER = "DistributedModelParameters"


class DistributedModelParameters(CoreFacade):
    """A merging coordinator (federated averaging when the merge is "average"/"fedavg").

    Parameters
    ----------
    updates_per_merge : int, default=100
        Child updates between merges (DataPredict's
        ``totalNumberOfChildModelUpdatesToUpdateMainModel``).
    merger : ModelParametersMerger, optional
        How candidates are merged; default ``ModelParametersMerger()`` (average).
    server_optimizer : str or server optimizer, optional
        Turns the merge into the new main parameters (default ``Replace``: main = merge).
    max_queued, when_full
        The background queue's bound and what a push to a full queue does (see
        :class:`~datapredict.coordinators.gradients.DistributedGradients`).

    Examples
    --------
    >>> import numpy as np
    >>> coordinator = DistributedModelParameters(updates_per_merge=2)
    >>> coordinator.add_model_parameters(np.zeros(3)).status.value
    'buffered'
    >>> coordinator.add_model_parameters(np.ones(3)).status.value
    'applied'
    >>> coordinator.get_main_model_parameters().tolist()
    [0.5, 0.5, 0.5]
    """

    def __init__(
        self,
        updates_per_merge: int = 100,
        merger: ModelParametersMerger | None = None,
        *,
        server_optimizer: Any = None,
        # The queue's options, as DistributedGradients takes them (alike on purpose).
        max_queued: int = 64,
        when_full: str = "wait",
    ) -> None:
        per_merge = check_int(_OWNER, "updates_per_merge", updates_per_merge, minimum=1)
        self._merger = self._check_merger(ModelParametersMerger() if merger is None else merger)
        self._models: list[Any] = []
        self._child_locks: list[threading.Lock] = []
        self._generations: list[int] = []  # each child's training count
        self._core = CoordinatorCore(
            _OWNER,
            self._chain(resolve_server_optimizer(server_optimizer)),
            pushes_per_update=per_merge,
            sign=None,
            on_update=self._broadcast,
            max_queued=max_queued,
            when_full=when_full,
        )

    # ---------------------------------------------------------------- options
    @staticmethod
    def _check_merger(merger: Any) -> ModelParametersMerger:
        if not isinstance(merger, ModelParametersMerger):
            raise InvalidOptionError(
                f"The 'merger' option of {_OWNER} must be a ModelParametersMerger "
                f"(e.g. ModelParametersMerger(merge_type='median')). Got {merger!r} instead."
            )
        return merger

    def _chain(self, optimizer: Any) -> AggregationChain:
        return AggregationChain(
            rule=self._merge_rows, server_optimizer=optimizer, rule_takes_sources=True
        )

    def _merge_rows(
        self, rows: np.ndarray, weights: list | None, sources: list | None = None
    ) -> np.ndarray:
        """The merger over the candidates' rows, from children ``sources`` (the chain's
        merge rule)."""
        merger = self._merger
        if not merger.uses_sample_counts:
            return merger.merge_stacked(rows, self._core.layout, children=sources)
        if weights is None or any(w is None for w in weights):
            raise NotInitializedError(
                f"merge type {merger.merge_type!r} weights children by sample count; "
                "pass weight= to add_model_parameters for every push (train() passes "
                "the child's rows; reinforce() has none)"
            )
        return merger.merge_stacked(rows, self._core.layout, weights, children=sources)

    def set_parameters(self, updates_per_merge: int | None = None) -> None:
        """Change ``updates_per_merge`` (validated first; ``None`` keeps it)."""
        if updates_per_merge is not None:
            value = check_int(_OWNER, "updates_per_merge", updates_per_merge, minimum=1)
            self._core.configure(pushes_per_update=value)

    def set_model_parameters_merger(self, merger: ModelParametersMerger) -> None:
        """Use ``merger`` for the next merges."""
        merger = self._check_merger(merger)
        self._core.flush()  # merges due from earlier calls use the old merger
        with self._core.lock:
            self._merger = merger

    def set_server_optimizer(self, server_optimizer: Any) -> None:
        """Use another server optimizer; its state restarts from the current main parameters."""
        self._core.configure(chain=self._chain(resolve_server_optimizer(server_optimizer)))

    # ------------------------------------------------------------- parameters
    def set_main_model_parameters(self, params: ModelParameters) -> None:
        """Validate and copy in the main parameters; they are also set into every child."""
        self._core.set_main(*new_main(params, "params"))

    def get_main_model_parameters(self, *, return_version: bool = False):
        """Return a copy of the main parameters (``(params, version)`` if asked), or None."""
        main, version = self._core.snapshot()
        params = None if main is None else self._core.layout.unflatten(main)
        return (params, version) if return_version else params

    @property
    def update_count(self) -> int:
        """Updates counted since the last merge."""
        return self._core.pending_count

    @property
    def models(self) -> list[Any]:
        """The added children, in index order."""
        return list(self._models)

    def reset(self) -> None:
        """Zero the update count and drop queued parameter sets (children stay).

        In background mode the calls made before ``reset()`` are applied first (a merge
        they made due happens), as without ``start()``.
        """
        self._core.flush()
        self._core.discard_pending()

    # --------------------------------------------------------------- children
    def add_model(self, model: Any) -> int:
        """Add a child; returns its 0-based index. It receives the main parameters if set."""
        if model is None or not all(
            callable(getattr(model, name, None))
            for name in ("get_model_parameters", "set_model_parameters")
        ):
            raise InvalidOptionError(
                "add_model expects a model with get_model_parameters/set_model_parameters; "
                f"got {type(model).__name__}"
            )
        core = self._core
        core.flush()  # a merge due from earlier calls does not include this child
        with core.lock:
            if core.main is not None:
                model.set_model_parameters(core.layout.unflatten(core.main))
                row = core.main
            else:
                row = self._own_row(model)
            self._models.append(model)
            self._child_locks.append(threading.Lock())
            self._generations.append(0)
            return core.slots.add(row)

    def _own_row(self, model: Any) -> np.ndarray | None:
        """The flat parameters a child brings before any main parameters exist (None if
        it has none, or if they do not fit the structure known so far)."""
        params = model.get_model_parameters()
        if params is None:
            return None
        try:
            layout, vector = new_main(params, "the child's parameters")
        except (ParameterStructureError, ValueError, TypeError):
            return None  # its first train() reports what is wrong
        if self._core.layout is None:
            self._core.layout = layout
        elif layout != self._core.layout:
            return None
        return vector

    def train(self, X: Any, y: Any, model_index: int) -> Any:
        """Train child ``model_index`` on ``(X, y)``, count one update; returns its costs."""
        model = self._model(model_index)
        self._core.flush()  # a merge due from earlier calls reaches the child first
        with self._child_locks[model_index]:
            result = model.train(X, y)
            params = model.get_model_parameters()
            generation = self._trained(model_index)
        self._push_child(model_index, params, len(X), generation)
        return result

    def reinforce(self, *args: Any, model_index: int, **kwargs: Any) -> Any:
        """Call the child's ``reinforce(*args, **kwargs)`` and count one update."""
        model = self._model(model_index)
        if not callable(getattr(model, "reinforce", None)):
            raise NotInitializedError(
                f"child {model_index} ({type(model).__name__}) has no reinforce()"
            )
        self._core.flush()
        with self._child_locks[model_index]:
            result = model.reinforce(*args, **kwargs)
            params = model.get_model_parameters()
            generation = self._trained(model_index)
        self._push_child(model_index, params, None, generation)
        return result

    def _trained(self, index: int) -> int:
        """Count one training of child ``index`` (under its lock); return the count."""
        self._generations[index] += 1
        return self._generations[index]

    def _push_child(self, index: int, params: Any, samples: int | None, generation: int) -> None:
        """Push child ``index``'s parameters as its candidate; if they are refused, the
        child goes back to its last accepted parameters and nothing is counted."""
        name = f"child {index}'s parameters"
        core = self._core
        try:
            if params is None:
                raise NotInitializedError(
                    f"{name} are None after training: the child holds no parameters"
                )
            layout = core.layout or core.adopt_layout(new_main(params, name)[0])
            try:
                vector, _ = enter(layout, params, name, copy=True)
            except ParameterStructureError as exc:
                raise ParameterStructureError(
                    f"cannot merge: {exc} (children's parameters differ in shape)"
                ) from None
            core.push(vector, weight=samples, slot=index, generation=generation, owned=True)
        except BaseException:
            self._roll_back(index)
            raise

    def _roll_back(self, index: int) -> None:
        """Child ``index`` takes its accepted row back and its training is not counted.

        The row is read under the core's lock, then set under the child's: never both
        at once in that order, since a merge takes them the other way round.
        """
        core = self._core
        with core.lock:
            generation = core.slots.generations[index]
            row = None
            if core.slots.present[index] and core.layout is not None:
                row = core.slots.rows[index].copy()
                layout = core.layout
        with self._child_locks[index]:
            self._generations[index] = generation
            if row is not None and row.size == layout.size:
                self._models[index].set_model_parameters(layout.unflatten(row))

    def add_model_parameters(
        self, params: ModelParameters, *, weight: float | None = None
    ) -> PushOutcome:
        """Push parameters from a child trained elsewhere; counts one update.

        ``weight`` (for example the child's sample count) is passed to sample-weighted
        merges such as "fedavg". The first push defines the structure when no main
        parameters are set. Returns what happened to the push.
        """
        core = self._core
        weight = check_weight("add_model_parameters", weight)
        if weight is None and self._merger.uses_sample_counts:
            raise InvalidOptionError(
                f"add_model_parameters: merge type {self._merger.merge_type!r} weights pushes "
                "by sample count; pass weight= (the child's number of samples). Got None."
            )
        if params is None:
            raise NotInitializedError(
                "add_model_parameters: params is None; train the model first (an untrained "
                "model has no parameters)"
            )
        layout = core.layout
        if layout is None:
            layout = core.adopt_layout(new_main(params, "params")[0])
        vector, _ = enter(layout, params, "params", copy=True)
        return core.push(vector, weight=weight, owned=True)

    def merge_now(self) -> bool:
        """Merge the candidates counted so far without waiting for ``updates_per_merge``
        (e.g. when stragglers miss a deadline). Returns whether a merge happened."""
        return self._core.close_round()

    # --------------------------------------------------------------- internals
    def _model(self, index: Any) -> Any:
        count = len(self._models)
        if (
            not isinstance(index, int | np.integer)
            or isinstance(index, bool)
            or not 0 <= index < count
        ):
            raise ModelIndexError(
                f"model_index must be an int in [0, {count - 1}] (0-based, {count} children "
                f"added); got {index!r}"
            )
        return self._models[index]

    def _broadcast(self, main: np.ndarray) -> None:
        """Send new main parameters to every child that has not trained since its row
        was written (under the core's lock; see the module's note on concurrency)."""
        params = self._core.layout.unflatten(main)
        generations = self._core.slots.generations
        for index, (model, lock) in enumerate(zip(self._models, self._child_locks, strict=True)):
            with lock:
                if self._generations[index] == generations[index]:
                    model.set_model_parameters(params)

    def __repr__(self) -> str:
        return (
            f"{_OWNER}(updates_per_merge={self._core.pushes_per_update}, "
            f"children={len(self._models)}, version={self._core.version})"
        )
