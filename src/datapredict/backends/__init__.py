"""Where children run: inline, on threads, or on a Ray cluster (``backend="ray"``)."""

from datapredict.backends.base import Backend, ChildResult, ChildSpec, ChildWorker
from datapredict.backends.inline import InlineBackend
from datapredict.backends.ray import RayBackend
from datapredict.backends.threads import ThreadsBackend

__all__ = [
    "Backend",
    "ChildResult",
    "ChildSpec",
    "ChildWorker",
    "InlineBackend",
    "RayBackend",
    "ThreadsBackend",
]
