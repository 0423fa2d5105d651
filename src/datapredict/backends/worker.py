"""A pool's worker: one model instance that trains many children, one after another.

Each child's unit of work starts from the main parameters, trains on the child's shard
and writes what it pushes into one row of the (k, P) block that the worker returns for
all the children it trained together. Between two units of the same child, the worker
keeps the child's training state (its generator, its step rule's state, its place in
its batch order) so a child trains exactly as if it had a model of its own:

- a model with ``get_training_state``/``set_training_state`` (datapredict's own) is
  shared, and each child's state is swapped in and out;
- any other model (a user's child, an adapter with state the worker cannot see) gets
  one instance per child, made the first time the child works.

When the job compresses pushes (``JobSpec.compression``), each child's push is encoded
here (:func:`~datapredict.compression.encode_push`) and the results carry the list of
the children's payloads instead of the float block. The compressor's per-child state
(top-k's error-feedback residual) is kept next to the child's training state and
forgotten with it: it is not part of checkpoints.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import numpy as np

from datapredict.backends.base import ChildResult, JobSpec, Shards
from datapredict.compression.push import encode_push, push_seed
from datapredict.models.protocol import accepts_random_state

__all__ = ["PoolWorker"]


class PoolWorker:
    """Trains any child of a job with one model instance (see the module's note).

    Parameters
    ----------
    job : JobSpec
        The job every child belongs to.
    shards : Shards
        Every child's data (the worker reads only the children it trains).
    """

    def __init__(self, job: JobSpec, shards: Shards) -> None:
        self.job, self.shards = job, shards
        self.model = self._new_model(None)
        self.shared = callable(getattr(self.model, "set_training_state", None))
        self.states: dict[int, Any] = {}  # shared model: each child's training state
        self.models: dict[int, Any] = {}  # otherwise: each child's own model
        self.residuals: dict[int, Any] = {}  # compression: each child's state (residual)

    def _new_model(self, seed: Any) -> Any:
        job = self.job
        model = job.model_factory()
        options: dict[str, Any] = {"max_iterations": job.local_iterations}
        if seed is not None and accepts_random_state(model):
            options["random_state"] = np.random.default_rng(seed)
        model.set_parameters(**options)
        if callable(getattr(model, "initialize", None)):
            model.initialize(job.n_features, job.labels)
        if job.strategy == "gradients":
            model.set_are_gradients_saved(True)
        return model

    def _model_for(self, child: int) -> Any:
        """The model to train ``child`` with, holding that child's training state."""
        if not self.shared:
            model = self.models.get(child)
            if model is None:
                model = self.models[child] = self._new_model(self.shards.seeds[child])
            return model
        self.model.set_training_state(self.states.get(child), seed=self.shards.seeds[child])
        return self.model

    def forget(self, child: int) -> None:
        """Drop ``child``'s training state (it starts afresh from its seed next time)
        and its compression state (what its residual held is lost)."""
        self.states.pop(child, None)
        self.models.pop(child, None)
        self.residuals.pop(child, None)

    def work(self, children: list[int], main: np.ndarray, version: int) -> list[ChildResult]:
        """Train ``children`` in turn from ``main`` (flat); their pushes are the rows of one
        (k, P) block (compressed: a list of k payloads), shared by the results as their
        ``payload``. A child that fails gets a result with ``error`` set and its row
        left unused."""
        layout, compressing = self.job.layout, self.job.compression is not None
        block = np.empty((1 if compressing else len(children), layout.size), layout.dtype)
        sent = [None] * len(children) if compressing else block
        params = layout.unflatten(main)
        results = []
        for row, child in enumerate(children):
            started = time.perf_counter()
            try:
                out = block[0] if compressing else block[row]
                n_samples, cost = self._train(child, params, out)
                if compressing:
                    sent[row] = self._compress(child, out, main, version)
            except Exception as exc:  # a child's failure is reported, never fatal
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                self.forget(child)
                results.append(
                    ChildResult(child, None, version, 0, float("nan"), 0.0, error=detail)
                )
                continue
            seconds = time.perf_counter() - started
            nbytes = sent[row].nbytes if compressing else out.nbytes
            results.append(
                ChildResult(child, sent, version, n_samples, cost, seconds, row=row, nbytes=nbytes)
            )
        return results

    def _compress(self, child: int, pushed: np.ndarray, main: np.ndarray, version: int) -> Any:
        """``child``'s push compressed (the parameters' update from ``main`` for the
        model-parameters strategy), seeded by the child's seed and ``version``."""
        job = self.job
        payload, self.residuals[child] = encode_push(
            job.compression,
            pushed,
            None if job.strategy == "gradients" else main,
            self.residuals.get(child),
            push_seed(self.shards.seeds[child], version),
        )
        return payload

    def _train(self, child: int, params: Any, out: np.ndarray) -> tuple[int, float]:
        """One unit of work of ``child`` from ``params``; its push is written to ``out``."""
        model = self._model_for(child)
        X, y = self.shards.shard(child)
        model.set_model_parameters(params)
        costs = np.atleast_1d(np.asarray(model.train(X, y), dtype=float))
        if self.job.strategy != "gradients":
            pushed = model.get_model_parameters()
        elif self.shared:  # datapredict's models: read-only views, copied into ``out``
            pushed = model.get_gradients(copy=False)
        else:
            pushed = model.get_gradients()
        self.job.layout.flatten(pushed, f"child {child}'s push", out=out)
        if self.shared:
            self.states[child] = model.get_training_state()
        return len(X), float(costs[0]) if costs.size else float("nan")
