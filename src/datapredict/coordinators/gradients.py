"""``DistributedGradients``: a parameter server that applies children's steps to main parameters.

Each child trains one step from the main parameters and pushes the step it took
(``model.get_gradients()``); the server applies it to the main parameters, and children
pull the new ones. The seed's methods are thin wrappers around a
:class:`~datapredict.coordinators.core.CoordinatorCore`: each converts the model's
structure to a flat vector once, at the door, and pushes it.

Aggregation
-----------
``aggregation="async"`` (the default, the seed's behaviour) applies each step as it
arrives, weighted by a staleness function of how many updates happened since the child
pulled (FedAsync, Xie et al. 2019); with ``buffer_size=B`` it applies the mean of every
B weighted steps (FedBuff, Nguyen et al. 2022). ``aggregation="sync"`` collects
``num_children`` steps, combines them with a merge rule and applies the result once.
Every applied update increments ``version``.
"""

from __future__ import annotations

from typing import Any

from datapredict._validation import check_choice, check_float, check_int
from datapredict.coordinators._door import check_push_id, check_version, enter, new_main
from datapredict.coordinators._facade import CoreFacade
from datapredict.coordinators.chain import AggregationChain
from datapredict.coordinators.core import CoordinatorCore
from datapredict.coordinators.outcome import PushOutcome, PushStats
from datapredict.errors import InvalidOptionError, NotInitializedError
from datapredict.merge.rules import Average, resolve_rule
from datapredict.merge.server_optimizers import resolve_server_optimizer
from datapredict.merge.staleness import resolve_staleness
from datapredict.parameters import ModelParameters

__all__ = ["DistributedGradients"]

_OWNER = "DistributedGradients"


def _sign(mode: Any) -> float:
    mode = check_choice(_OWNER, "gradient_change_mode", mode, ("descent", "ascent"))
    return -1.0 if mode == "descent" else 1.0


class DistributedGradients(CoreFacade):
    """A thread-safe parameter server for children's gradient steps.

    Parameters
    ----------
    gradient_change_mode : {"descent", "ascent"}, default="descent"
        ``main -= step`` (descent) or ``main += step`` (ascent). Steps are what the
        child applied (learning rate included), as returned by ``get_gradients()``.
    averaging_rate : float in [0, 1], default=0
        DataPredict's newer rule ``main = (1 - a) * main -/+ a * step``; 0 applies the
        step as it is.
    aggregation : {"async", "sync"}, default="async"
        Apply each push as it arrives, or combine ``num_children`` pushes first.
    num_children : int, optional
        Pushes per combined update; required for ``aggregation="sync"``.
    merge_type : str or merge rule, default="average"
        How ``sync`` combines the collected (K, P) steps (any ``datapredict.merge`` rule);
        its requirements on K (Krum: K > 2f + 2) are checked here.
    staleness : str or callable, optional
        Staleness weight for ``async`` pushes: "constant" (default), "polynomial", "hinge"
        or a ``datapredict.merge.staleness`` object.
    max_staleness : int, optional
        Pushes computed from a version older than this many updates are dropped.
    buffer_size : int, default=1
        ``async`` only: apply the mean of every ``buffer_size`` weighted pushes (FedBuff).
    max_norm : float, optional
        Clip each step to this L2 norm before anything else.
    server_optimizer : str or server optimizer, optional
        Applied to each combined step (e.g. ``FedAdam``); default: apply the step as is.
    max_queued : int, default=64
        After ``start()``: pushes queued for the background worker at most (each holds
        a copy of the push).
    when_full : {"wait", "raise"}, default="wait"
        A push to a full queue waits for room, or raises ``QueueFullError`` and is not
        accepted.

    Examples
    --------
    >>> import numpy as np
    >>> server = DistributedGradients()
    >>> server.set_model_parameters(np.zeros((3, 1)))
    >>> server.add_gradients(np.full((3, 1), 0.5)).status.value
    'applied'
    >>> server.get_model_parameters().ravel().tolist()
    [-0.5, -0.5, -0.5]
    """

    def __init__(
        self,
        gradient_change_mode: str = "descent",
        *,
        averaging_rate: float = 0.0,
        aggregation: str = "async",
        num_children: int | None = None,
        merge_type: Any = "average",
        staleness: Any = None,
        max_staleness: int | None = None,
        buffer_size: int = 1,
        max_norm: float | None = None,
        server_optimizer: Any = None,
        max_queued: int = 64,
        when_full: str = "wait",
    ) -> None:
        sign = _sign(gradient_change_mode)
        self._mode = gradient_change_mode.lower()
        rate = check_float(_OWNER, "averaging_rate", averaging_rate, low=0, high=1)
        self._aggregation = check_choice(_OWNER, "aggregation", aggregation, ("async", "sync"))
        rule = resolve_rule(merge_type)
        if self._aggregation == "sync":
            if num_children is None:
                raise InvalidOptionError(
                    f"The 'num_children' option of {_OWNER} must be an integer >= 1 when "
                    "aggregation='sync'. Got None instead."
                )
            per_update = check_int(_OWNER, "num_children", num_children, minimum=1)
            # Every rule of datapredict.merge states its needs; a user's plain callable
            # has none to check.
            check = getattr(rule, "check_num_children", None)
            if check is not None:
                check(per_update, f"{_OWNER}(num_children={per_update})")
        else:
            if num_children is not None:
                check_int(_OWNER, "num_children", num_children, minimum=1)
            per_update = check_int(_OWNER, "buffer_size", buffer_size, minimum=1)
            rule = Average()  # async: each step, or the mean of a FedBuff buffer
        if max_staleness is not None:
            max_staleness = check_int(_OWNER, "max_staleness", max_staleness, minimum=0)
        if max_norm is not None:
            max_norm = check_float(_OWNER, "max_norm", max_norm, low=0, low_open=True)
        chain = AggregationChain(
            rule=rule,
            server_optimizer=resolve_server_optimizer(server_optimizer),
            max_norm=max_norm,
            staleness=resolve_staleness(staleness),
        )
        self._core = CoordinatorCore(
            _OWNER,
            chain,
            pushes_per_update=per_update,
            sign=sign,
            rate=rate,
            max_staleness=max_staleness,
            max_queued=max_queued,
            when_full=when_full,
        )
        self._worker = self._core.worker  # read on every push

    # ---------------------------------------------------------------- options
    def set_parameters(
        self, gradient_change_mode: str | None = None, *, averaging_rate: float | None = None
    ) -> None:
        """Change the mode and/or the averaging rate; ``None`` keeps the current value.

        In background mode the pushes queued before this call are applied first, with
        the old values, as they would have been without ``start()``.
        """
        changes: dict[str, Any] = {}
        if gradient_change_mode is not None:
            changes["sign"] = _sign(gradient_change_mode)
        if averaging_rate is not None:
            changes["rate"] = check_float(_OWNER, "averaging_rate", averaging_rate, low=0, high=1)
        self._core.configure(**changes)
        if gradient_change_mode is not None:
            self._mode = gradient_change_mode.lower()

    # ------------------------------------------------------------- parameters
    def set_model_parameters(self, params: ModelParameters) -> None:
        """Validate and copy ``params`` in as the main parameters (any structure).

        Pending pushes are applied first in background mode; a partly collected sync
        round or FedBuff buffer is discarded, since it was computed for other parameters.
        """
        self._core.set_main(*new_main(params, "params"))

    def get_model_parameters(self, *, return_version: bool = False):
        """Return a copy of the main parameters in the structure handed in.

        With ``return_version=True`` return ``(params, version)``; children pass that
        version back with their push so the server knows its staleness.
        """
        main, version = self._core.snapshot()
        if main is None:
            raise NotInitializedError(
                "get_model_parameters: no main parameters; call set_model_parameters first"
            )
        params = self._core.layout.unflatten(main)
        return (params, version) if return_version else params

    @property
    def stats(self) -> PushStats:
        """A snapshot of the push counters."""
        return self._core.stats

    # ------------------------------------------------------------------ pushes
    def add_gradients(
        self, gradients: ModelParameters, *, version: int | None = None, push_id: Any = None
    ) -> PushOutcome:
        """Push one step; return what happened to it.

        Not started, it is applied (or collected, in sync mode) before this returns;
        started, it is validated, copied and queued for the worker.

        Parameters
        ----------
        gradients : ModelParameters
            The step, in the structure of the main parameters.
        version : int, optional
            The version the step was computed from (see ``get_model_parameters``);
            ``None`` means the current version (no staleness).
        push_id : tuple (child_id, seq), optional
            Pushes with a ``seq`` not above the last one seen from ``child_id`` are
            ignored, so a retried push is applied exactly once.

        Returns
        -------
        PushOutcome
            Its status (applied, buffered, queued, dropped as stale, duplicate) and
            the version after it.

        Raises
        ------
        NotInitializedError
            Before any main parameters.
        ParameterStructureError, DataTypeError, NonFiniteError, InvalidOptionError
            If the step does not match the main parameters, is not finite, or its
            version or push id is invalid; or if applying it would make the main
            parameters non-finite. Nothing is queued or changed then.
        """
        core = self._core
        layout = core.layout
        if layout is None:
            raise NotInitializedError(
                "add_gradients: no main parameters yet; call set_model_parameters first"
            )
        if gradients is None:
            raise NotInitializedError(
                "add_gradients: gradients is None; the child has no saved step: call "
                "set_are_gradients_saved(True) and train the model first"
            )
        running = self._worker.running
        vector, bounded = enter(layout, gradients, "gradients", copy=running)
        if version is not None:
            version = check_version("add_gradients", version, core.version)
        if push_id is not None:
            push_id = check_push_id("add_gradients", push_id)
        if running:
            return core.push(vector, version=version, push_id=push_id, owned=True)
        return core.receive((vector, bounded, version, push_id, None, None, 0))  # a Push

    def apply_pending(self) -> bool:
        """Combine and apply a partly collected sync round or FedBuff buffer now (e.g.
        when stragglers miss a deadline). Returns whether anything was applied."""
        return self._core.close_round()

    def clear_gradients(self) -> None:
        """Drop queued pushes and any partly collected round or buffer."""
        self._core.discard_pending()

    def __repr__(self) -> str:
        return (
            f"{_OWNER}(gradient_change_mode={self._mode!r}, aggregation={self._aggregation!r}, "
            f"version={self._core.version})"
        )
