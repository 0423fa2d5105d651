"""``DistributedModelParameters``: merge children's parameters every N updates.

Children train many steps on their own data. Each ``train`` / ``reinforce`` call on a
child, and each ``add_model_parameters`` push from a child trained elsewhere, counts
one update; when the count reaches ``updates_per_merge`` the candidates (every added
child's parameters, then the pushed parameter sets, in order) are stacked into a
(K, P) matrix, merged by the :class:`ModelParametersMerger`, passed through the server
optimizer, stored as the main parameters and set into every child. The count restarts.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from datapredict._validation import check_int
from datapredict.coordinators._door import restore_vector, to_vector
from datapredict.coordinators._worker import BackgroundWorker
from datapredict.coordinators.merger import ModelParametersMerger
from datapredict.errors import (
    InvalidOptionError,
    ModelIndexError,
    NotInitializedError,
    ParameterStructureError,
)
from datapredict.merge.server_optimizers import resolve_server_optimizer
from datapredict.parameters import Layout, ModelParameters, check_finite, read_only_view

__all__ = ["DistributedModelParameters"]

_OWNER = "DistributedModelParameters"


class DistributedModelParameters:
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

    Examples
    --------
    >>> import numpy as np
    >>> coordinator = DistributedModelParameters(updates_per_merge=2)
    >>> coordinator.add_model_parameters(np.zeros(3))
    >>> coordinator.add_model_parameters(np.ones(3))
    >>> coordinator.get_main_model_parameters().tolist()
    [0.5, 0.5, 0.5]
    """

    def __init__(
        self,
        updates_per_merge: int = 100,
        merger: ModelParametersMerger | None = None,
        *,
        server_optimizer: Any = None,
    ) -> None:
        self._updates_per_merge = check_int(
            _OWNER, "updates_per_merge", updates_per_merge, minimum=1
        )
        self._merger = merger if merger is not None else ModelParametersMerger()
        self._optimizer = resolve_server_optimizer(server_optimizer)
        self._optimizer_state: Any = None
        self._lock = threading.Lock()
        self._models: list[Any] = []
        self._child_locks: list[threading.Lock] = []
        self._sample_counts: list[int | None] = []
        self._queued: list[tuple[np.ndarray, float | None]] = []
        self._layout: Layout | None = None
        self._main: np.ndarray | None = None
        self._count = 0
        self._version = 0
        self._worker = BackgroundWorker(self._apply_item, name=_OWNER)

    # ---------------------------------------------------------------- options
    def set_parameters(self, updates_per_merge: int | None = None) -> None:
        """Change ``updates_per_merge`` (validated first; ``None`` keeps it)."""
        if updates_per_merge is not None:
            value = check_int(_OWNER, "updates_per_merge", updates_per_merge, minimum=1)
            self._worker.flush()  # earlier calls count against the old value
            with self._lock:
                self._updates_per_merge = value

    def set_model_parameters_merger(self, merger: ModelParametersMerger) -> None:
        """Use ``merger`` for the next merges."""
        if not hasattr(merger, "merge_stacked"):
            raise NotInitializedError(
                "set_model_parameters_merger expects a ModelParametersMerger; "
                f"got {type(merger).__name__}"
            )
        self._worker.flush()  # merges due from earlier calls use the old merger
        with self._lock:
            self._merger = merger

    def set_server_optimizer(self, server_optimizer: Any) -> None:
        """Use another server optimizer; its state restarts from the current main parameters."""
        optimizer = resolve_server_optimizer(server_optimizer)
        self._worker.flush()
        with self._lock:
            self._optimizer = optimizer
            self._optimizer_state = None if self._main is None else optimizer.init(self._main)

    # ------------------------------------------------------------- parameters
    def set_main_model_parameters(self, params: ModelParameters) -> None:
        """Validate and copy in the main parameters; they are also set into every child."""
        check_finite(params, "params")
        layout = Layout.from_template(params, "params")
        main = layout.flatten(params, "params")
        if self._worker.running:
            self._worker.flush()
        with self._lock:
            self._layout, self._main = layout, main
            self._optimizer_state = self._optimizer.init(main)
            self._version += 1
            self._broadcast()

    def get_main_model_parameters(self, *, return_version: bool = False):
        """Return a copy of the main parameters (``(params, version)`` if asked), or None."""
        with self._lock:
            if self._main is None:
                return (None, self._version) if return_version else None
            main, version = self._main.copy(), self._version
        params = self._layout.unflatten(main)
        return (params, version) if return_version else params

    @property
    def update_count(self) -> int:
        """Updates counted since the last merge."""
        return self._count

    @property
    def main_vector(self) -> np.ndarray | None:
        """A read-only view of the current main flat vector (no copy), or None before any.

        The next update may change it: copy it to keep a snapshot. For a caller that
        hands it on at once (the Ray coordinator's actor serialises it into its reply).
        """
        return None if self._main is None else read_only_view(self._main)

    @property
    def version(self) -> int:
        """Number of merges applied (setting main parameters counts one)."""
        return self._version

    @property
    def models(self) -> list[Any]:
        """The added children, in index order."""
        return list(self._models)

    def reset(self) -> None:
        """Zero the update count and drop queued parameter sets (children stay).

        In background mode the calls made before ``reset()`` are applied first (a merge
        they made due happens), as without ``start()``.
        """
        self._worker.flush()
        with self._lock:
            self._count = 0
            self._queued.clear()

    # --------------------------------------------------------------- children
    def add_model(self, model: Any) -> int:
        """Add a child; returns its 0-based index. It receives the main parameters if set."""
        if model is None or not all(
            hasattr(model, name) for name in ("get_model_parameters", "set_model_parameters")
        ):
            raise NotInitializedError(
                "add_model expects a model with get_model_parameters/set_model_parameters; "
                f"got {type(model).__name__}"
            )
        self._worker.flush()  # a merge due from earlier calls does not include this child
        with self._lock:
            if self._main is not None:
                model.set_model_parameters(self._layout.unflatten(self._main))
            self._models.append(model)
            self._child_locks.append(threading.Lock())
            self._sample_counts.append(None)
            return len(self._models) - 1

    def train(self, X: Any, y: Any, model_index: int) -> Any:
        """Train child ``model_index`` on ``(X, y)``, count one update; returns its costs."""
        model = self._model(model_index)
        self._worker.flush()  # a merge due from earlier calls reaches the child first
        with self._child_locks[model_index]:
            result = model.train(X, y)
            params = model.get_model_parameters()
        self._check_child(model_index, params)  # after the child lock: _merge locks in the
        self._count_update(model_index, len(X))  # other order (coordinator, then child)
        return result

    def reinforce(self, *args: Any, model_index: int, **kwargs: Any) -> Any:
        """Call the child's ``reinforce(*args, **kwargs)`` and count one update."""
        model = self._model(model_index)
        if not hasattr(model, "reinforce"):
            raise NotInitializedError(
                f"child {model_index} ({type(model).__name__}) has no reinforce()"
            )
        self._worker.flush()
        with self._child_locks[model_index]:
            result = model.reinforce(*args, **kwargs)
            params = model.get_model_parameters()
        self._check_child(model_index, params)
        self._count_update(model_index, None)
        return result

    def add_model_parameters(self, params: ModelParameters, *, weight: float | None = None) -> None:
        """Push parameters from a child trained elsewhere; counts one update.

        ``weight`` (for example the child's sample count) is passed to sample-weighted
        merges such as "fedavg". The first push defines the structure when no main
        parameters are set.
        """
        if weight is None and self._merger.uses_sample_counts:
            raise InvalidOptionError(
                f"add_model_parameters: merge type {self._merger.merge_type!r} weights pushes "
                "by sample count; pass weight= (the child's number of samples). Got None."
            )
        if weight is not None and not (np.isfinite(weight) and weight >= 0):
            raise ParameterStructureError(
                f"add_model_parameters: weight must be >= 0; got {weight!r}"
            )
        layout = self._layout
        if layout is None:
            check_finite(params, "params")
            layout = Layout.from_template(params, "params")
            with self._lock:  # the first push fixes the structure, also for queued pushes
                if self._layout is None:
                    self._layout = layout
                layout = self._layout
        vector = to_vector(layout, params, "params", copy=True)
        item = ("params", vector, layout, weight)
        if not self._worker.submit_if_running(item):
            self._apply_item(item)

    def merge_now(self) -> bool:
        """Merge the candidates counted so far without waiting for ``updates_per_merge``
        (e.g. when stragglers miss a deadline). Returns whether a merge happened."""
        if self._worker.running:
            self._worker.flush()
        with self._lock:
            if self._count == 0:
                return False
            self._merge()
            return True

    def start(self) -> None:
        """Merge on a background thread from now on (pushes are queued)."""
        self._worker.start()

    def stop(self) -> None:
        """Apply everything queued (finishing a merge that is due), then stop the thread."""
        self._worker.stop()

    def flush(self) -> None:
        """Block until everything queued so far has been applied."""
        self._worker.flush()

    # ------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Main vector, version, update count and server optimizer state."""
        with self._lock:
            return {
                "main": None if self._main is None else self._main.copy(),
                "version": self._version,
                "count": self._count,
                "optimizer_state": self._optimizer_state,
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; the layout must already be set."""
        if self._layout is None:
            raise NotInitializedError(
                "load_state_dict: set_main_model_parameters first (for the layout)"
            )
        main = restore_vector(self._layout, state["main"])
        with self._lock:
            self._main, self._version = main, int(state["version"])
            self._count, self._optimizer_state = int(state["count"]), state["optimizer_state"]
            self._queued.clear()
            self._broadcast()

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

    def _count_update(self, index: int, samples: int | None) -> None:
        item = ("count", index, samples)
        if not self._worker.submit_if_running(item):
            self._apply_item(item)

    def _check_child(self, index: int, params: ModelParameters | None) -> None:
        """Raise now (not at the merge) if child ``index``'s parameters no longer fit the
        structure; the first child checked defines it when none is known yet."""
        if params is None:
            return
        name = f"child {index}'s parameters"
        with self._lock:
            layout = self._layout
            if layout is None:
                self._layout = Layout.from_template(params, name)
                return
        try:
            layout.check(params, name)
        except ParameterStructureError as exc:
            raise ParameterStructureError(
                f"cannot merge: {exc} (children's parameters differ in shape)"
            ) from None

    def _apply_item(self, item: tuple) -> None:
        with self._lock:
            if item[0] == "params":
                _, vector, layout, weight = item
                if self._layout is None:
                    self._layout = layout
                elif layout is not self._layout and layout != self._layout:
                    raise ParameterStructureError(
                        f"params must be {self._layout.describe()}; got {layout.describe()}"
                    )
                self._queued.append((vector, weight))
            else:
                _, index, samples = item
                self._sample_counts[index] = samples
            self._count += 1
            if self._count >= self._updates_per_merge:
                self._merge()

    def _merge(self) -> None:
        """Stack every candidate, merge, update main and children (holds the lock)."""
        candidates = []
        for model, lock in zip(self._models, self._child_locks, strict=True):
            with lock:
                candidates.append(model.get_model_parameters())
        candidates = [c for c in candidates if c is not None]
        if not candidates and not self._queued:
            return
        if self._layout is None:
            check_finite(candidates[0], "child parameters")
            self._layout = Layout.from_template(candidates[0], "child parameters")
        layout = self._layout
        stacked = np.empty((len(candidates) + len(self._queued), layout.size), dtype=layout.dtype)
        for k, params in enumerate(candidates):
            try:
                layout.flatten(params, f"child {k}'s parameters", out=stacked[k])
            except ParameterStructureError as exc:
                raise ParameterStructureError(
                    f"cannot merge: {exc} (children's parameters differ in shape)"
                ) from None
        for k, (vector, _) in enumerate(self._queued, start=len(candidates)):
            stacked[k] = vector
        weights = None
        if self._merger.uses_sample_counts:
            weights = [self._sample_counts[i] for i in range(len(candidates))]
            weights += [w for _, w in self._queued]
            if any(w is None for w in weights):
                raise NotInitializedError(
                    f"merge type {self._merger.merge_type!r} weights children by sample count; "
                    "pass weight= to add_model_parameters for every push"
                )
        merged = self._merger.merge_stacked(stacked, layout, weights)
        if self._main is None:
            self._main = merged.astype(layout.dtype, copy=True)
            self._optimizer_state = self._optimizer.init(self._main)
        else:
            new_main, self._optimizer_state = self._optimizer.update(
                merged, self._optimizer_state, self._main
            )
            self._main = np.asarray(new_main, dtype=layout.dtype)
        self._version += 1
        self._count = 0
        self._queued.clear()
        self._broadcast()

    def _broadcast(self) -> None:
        params = self._layout.unflatten(self._main)
        for model, lock in zip(self._models, self._child_locks, strict=True):
            with lock:
                model.set_model_parameters(params)

    def __repr__(self) -> str:
        return (
            f"{_OWNER}(updates_per_merge={self._updates_per_merge}, children={len(self._models)}, "
            f"version={self._version})"
        )
