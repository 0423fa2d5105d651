"""The Ray backend: children as Ray actors, the coordinator as a Ray actor.

``import ray`` happens only when a :class:`RayBackend` is created; install it with
``pip install 'datapredict[ray]'``.
"""

from datapredict.backends.ray.backend import RayBackend

__all__ = ["RayBackend"]
