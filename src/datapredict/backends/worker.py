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

A shared model that can train a stack of children at once (datapredict's softmax
regression on full batches with plain SGD: ``can_train_stacked``) trains the children
whose shards have equal sizes ``STACK_SIZE`` at a time, each bit-identical to training
alone (:mod:`datapredict.models._stacked`); their training state does not change.

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

__all__ = ["STACK_SIZE", "PoolWorker"]

# Children trained together at most: (64, K, n) stacks stay in the cache; ~3x faster per
# child than one at a time for 50-row digits shards (bench/simulation.py).
STACK_SIZE = 64


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

    def work(
        self, children: list[int], main: np.ndarray, version: int, setup: Any = None
    ) -> list[ChildResult]:
        """Train ``children`` in turn from ``main`` (flat); their pushes are the rows of one
        (k, P) block (compressed: a list of k payloads), shared by the results as their
        ``payload``. A child that fails gets a result with ``error`` set and its row
        left unused. With a secure round's ``setup``
        (:class:`~datapredict.secure.protocol.RoundSetup`) the payload is the (k, P + 1)
        block of the children's masked encodings instead: the unmasked block never
        leaves the worker.

        Children that can train stacked (see :meth:`_stacks`) train ``STACK_SIZE`` at a
        time, bit-identical to training alone; the others, and any child whose stacked
        result is not finite, train alone."""
        layout = self.job.layout
        block = np.empty((len(children), layout.size), dtype=layout.dtype)
        results: list[ChildResult | None] = [None] * len(children)
        for rows in self._stacks(children):
            self._train_stack(children, rows, main, version, block, results)
        params = layout.unflatten(main)
        for row, child in enumerate(children):
            if results[row] is None:
                results[row] = self._train_alone(child, row, params, version, block)
        if setup is not None:
            from datapredict.secure.client import mask_block

            mask_block(block, results, main, setup, self.shards.seeds)
        elif self.job.compression is not None:
            self._compress_all(children, results, block, main, version)
        return results

    def _stacks(self, children: list[int]) -> list[list[int]]:
        """The rows of ``children`` to train together: children of the shared model whose
        shards have the same number of rows and allow it (``can_train_stacked``), in
        groups of at most ``STACK_SIZE``."""
        can_stack = getattr(self.model, "can_train_stacked", None)
        if not (self.shared and callable(can_stack)):
            return []
        by_rows: dict[int, list[int]] = {}
        for row, child in enumerate(children):
            by_rows.setdefault(len(self.shards.y[child]), []).append(row)
        return [
            rows[start : start + STACK_SIZE]
            for n_rows, rows in by_rows.items()
            if len(rows) > 1 and can_stack(n_rows)
            for start in range(0, len(rows), STACK_SIZE)
        ]

    def _train_stack(self, children, rows, main, version, block, results) -> None:
        """Train the children at ``rows`` together; their results go to ``results``
        (a child left None there trains alone afterwards)."""
        started = time.perf_counter()
        X = np.stack([self.shards.X[children[row]] for row in rows])
        out = self.model.train_stacked(main, X, [self.shards.y[children[r]] for r in rows])
        pushed = out.steps if self.job.strategy == "gradients" else out.parameters
        seconds = (time.perf_counter() - started) / len(rows)
        for b, row in enumerate(rows):
            if out.done[b]:
                block[row] = pushed[b]
                n_samples, cost = X.shape[1], float(out.first_costs[b])
                results[row] = ChildResult(
                    children[row],
                    block,
                    version,
                    n_samples,
                    cost,
                    seconds,
                    row=row,
                    nbytes=block[row].nbytes,
                )

    def _train_alone(
        self, child: int, row: int, params: Any, version: int, block: np.ndarray
    ) -> ChildResult:
        """One child's unit of work on its own; its failure is reported, never fatal."""
        started = time.perf_counter()
        try:
            n_samples, cost = self._train(child, params, block[row])
        except Exception as exc:
            return self._failed(child, version, exc)
        seconds = time.perf_counter() - started
        nbytes = block[row].nbytes
        return ChildResult(child, block, version, n_samples, cost, seconds, row=row, nbytes=nbytes)

    def _failed(self, child: int, version: int, exc: Exception) -> ChildResult:
        """``child``'s failed result (its state forgotten: it restarts from its seed)."""
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.forget(child)
        return ChildResult(child, None, version, 0, float("nan"), 0.0, error=detail)

    def _compress_all(self, children, results, block, main, version) -> None:
        """Replace the pushes of ``results`` by their compressed payloads (a list, one per
        row); a child whose push cannot be compressed fails like a child whose training
        did."""
        sent: list[Any] = [None] * len(children)
        for row, result in enumerate(results):
            if result.error is not None:
                continue
            try:
                sent[row] = self._compress(result.child, block[row], main, version)
            except Exception as exc:
                results[row] = self._failed(result.child, version, exc)
                continue
            result.payload, result.nbytes = sent, sent[row].nbytes

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
