"""Where children run: a pool of workers inline, on threads, or on a Ray cluster."""

from datapredict.backends.base import Backend, ChildResult, JobSpec, Shards
from datapredict.backends.inline import InlineBackend
from datapredict.backends.ray import RayBackend
from datapredict.backends.threads import ThreadsBackend
from datapredict.backends.worker import PoolWorker

__all__ = [
    "Backend",
    "ChildResult",
    "InlineBackend",
    "JobSpec",
    "PoolWorker",
    "RayBackend",
    "Shards",
    "ThreadsBackend",
]
