"""The next release's noise, drawn in the background while the round's children train.

A release of DP-FedAvg adds P Gaussian values; at large P, drawing them costs more than
the aggregation itself (4 million float32 values: 30-50 ms on this kind of machine,
against about 15 ms for the mean of 16 such rows). They depend only on the release's
seed, so :class:`~datapredict.privacy.aggregator.PrivateMean` asks for the next
release's values (standard normal, times their standard deviation, known once a
release is done) as soon as a release is done: one background thread draws them (numpy
releases the GIL while it fills an array) while the next round's children train, and
the release takes them instead of drawing its own. The values are the same either way
(same seed, same generator, same scaling): prefetching changes when they are drawn,
never what they are. At most :data:`MAX_PENDING` draws are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from datapredict.privacy.dp import gaussian_noise

__all__ = ["MAX_PENDING", "gaussian", "prefetch", "wait_for_prefetched"]

MAX_PENDING = 2  # draws held at once (each is P values): the next release of two jobs

_lock = threading.Lock()
_pending: OrderedDict[tuple, Future] = OrderedDict()
_executor: ThreadPoolExecutor | None = None


def _key(size: int, seed: np.random.SeedSequence, dtype, std: float) -> tuple:
    dtype = np.dtype(dtype).str
    return (seed.entropy, tuple(seed.spawn_key), seed.pool_size, int(size), dtype, float(std))


def prefetch(size: int, seed: np.random.SeedSequence, dtype=np.float64, std=1.0) -> None:
    """Start drawing ``size`` N(0, std²) values from ``seed`` in the background."""
    global _executor
    key = _key(size, seed, dtype, std)
    with _lock:
        if key in _pending:
            return
        if _executor is None:
            _executor = ThreadPoolExecutor(1, thread_name_prefix="datapredict-noise")
        _pending[key] = _executor.submit(gaussian_noise, size, std, seed, dtype)
        while len(_pending) > MAX_PENDING:
            _pending.popitem(last=False)[1].cancel()


def gaussian(size: int, seed: np.random.SeedSequence, dtype=np.float64, std=1.0) -> np.ndarray:
    """``size`` N(0, std²) values from ``seed`` (standard normal values times ``std``):
    the prefetched ones if they were asked for (waiting for them if needed), else drawn
    now; a new array either way."""
    with _lock:
        future = _pending.pop(_key(size, seed, dtype, std), None)
    if future is not None and not future.cancelled():
        return future.result()
    return gaussian_noise(size, std, seed, dtype)


def wait_for_prefetched() -> None:
    """Block until every pending draw is done (benchmarks time a release after it)."""
    with _lock:
        futures = list(_pending.values())
    for future in futures:
        if not future.cancelled():
            future.result()
