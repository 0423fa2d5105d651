"""Finding a Ray cluster: checking an address, connecting, and sharing its CPUs."""

from __future__ import annotations

import math
import os
import socket
from typing import Any

from datapredict._validation import option_error
from datapredict.backends.ray._common import short_error
from datapredict.errors import InvalidOptionError, MissingDependencyError

__all__ = ["NEW_INSTANCE_ONLY", "check_address", "connect", "even_share", "import_ray"]

_INSTALL = "pip install 'datapredict[ray]'"


def import_ray():
    try:
        import ray
    except ImportError as error:
        raise MissingDependencyError(
            f"backend='ray' needs the Ray library, which is not installed: {_INSTALL}"
        ) from error
    return ray


def even_share(total_cpus: float, n_children: int) -> float:
    """CPUs per child so that every child fits: an even share, at most 1, at least 0.01."""
    return max(0.01, min(1.0, math.floor(100 * total_cpus / n_children) / 100))


def _split_address(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``"HOST:PORT"`` or ``"ray://HOST:PORT"`` address, else None."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if any(c.isspace() or c in "/@" for c in host):
        return None
    return host, int(port)


def check_address(address: Any) -> str | None:
    if address is None:
        return None
    if isinstance(address, str) and address in ("auto", "local"):
        return address
    if (
        isinstance(address, str)
        and (address.startswith("ray://") or "://" not in address)
        and _split_address(address) is not None
    ):
        return address
    raise option_error(
        "RayBackend",
        "address",
        "None (the connected Ray instance, RAY_ADDRESS's cluster or a new local instance), "
        "'auto', 'local', 'HOST:PORT' or 'ray://HOST:PORT'",
        address,
    )


NEW_INSTANCE_ONLY = ("num_cpus", "num_gpus", "resources", "labels", "object_store_memory")
"""``ray.init`` options that size a new instance; Ray refuses them when joining a cluster."""


def connect(ray: Any, address: str | None, init_options: dict[str, Any], timeout: float) -> bool:
    """Connect this process to the Ray cluster ``address`` names, or start a local instance.

    Where each ``address`` leads (checked by :func:`check_address` first):

    - ``None``: the Ray instance this process is already connected to; else the cluster
      the ``RAY_ADDRESS`` environment variable names (as in a job submitted with
      ``ray job submit``); else a new local instance (``ray.init(address="local")``).
      Unlike ``ray.init()``, it never joins a cluster it merely finds running on this
      machine (another user's ``ray start --head``): that takes ``"auto"``.
    - ``"local"``: a new local instance, whatever else runs (``RAY_ADDRESS`` is ignored).
    - ``"auto"``: the cluster running on this machine (``RAY_ADDRESS``, else the latest
      one ``ray start`` started); an error if there is none.
    - ``"HOST:PORT"``, ``"ray://HOST:PORT"``: the cluster there, once its port answers
      within ``timeout`` seconds.

    A new instance takes every option of ``init_options``; joining a cluster (or reusing
    the connected instance) refuses those that size an instance (:data:`NEW_INSTANCE_ONLY`),
    before Ray is called: the cluster's resources are set where it was started.

    Parameters
    ----------
    ray : module
        The ``ray`` module (passed in, so that the caller imports it once).
    address : str or None
        As above.
    init_options : dict
        Keywords for ``ray.init``.
    timeout : float
        Seconds a ``HOST:PORT`` or ``ray://`` address has to accept a connection.

    Returns
    -------
    bool
        Whether a new connection was made, which the caller then owns (and ends with
        ``ray.shutdown()``); False when the connected instance is reused.

    Raises
    ------
    InvalidOptionError
        If this process is connected to another cluster, if ``init_options`` sizes an
        instance that is joined, or if no cluster is reachable there.
    """
    if ray.is_initialized():
        _check_reusable(ray, address, init_options)
        return False
    target = address
    if address is None:
        target = os.environ.get("RAY_ADDRESS") or "local"
    if target == "local":
        doing = f"start a new local Ray instance (address={address!r})"
    else:
        source = " (from the RAY_ADDRESS environment variable)" if address is None else ""
        doing = f"join the Ray cluster at {target!r}{source}"
        _check_sizing(init_options, address, f"would {doing}")
        if _split_address(target) is not None:
            _check_reachable(target, timeout)
    try:
        ray.init(address=target, **init_options)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as error:
        raise InvalidOptionError(f"RayBackend: could not {doing}: {short_error(error)}") from error
    return True


def _check_reusable(ray: Any, address: str | None, init_options: dict[str, Any]) -> None:
    """Raise unless this process's connected instance is the one ``address`` asks for."""
    current = ray.get_runtime_context().gcs_address
    if address not in (None, "auto", current):
        doing = (
            "start a new local Ray instance (address='local')"
            if address == "local"
            else f"join the Ray cluster at {address!r}"
        )
        raise InvalidOptionError(
            f"RayBackend: cannot {doing}: this process is already connected to the one at "
            f"{current!r}; call ray.shutdown() first, or pass address=None to use the "
            "current one"
        )
    _check_sizing(
        init_options, address, f"reuses the Ray instance this process is connected to ({current!r})"
    )


def _check_sizing(init_options: dict[str, Any], address: str | None, doing: str) -> None:
    """Refuse options that size an instance when an instance is joined (``doing`` says which)."""
    sizing = [name for name in NEW_INSTANCE_ONLY if name in init_options]
    if sizing:
        raise InvalidOptionError(
            f"RayBackend: init_options sets {', '.join(map(repr, sizing))}, which only a new "
            f"Ray instance takes (got init_options={init_options!r}); address={address!r} "
            f"{doing}, whose resources were set when it started. Drop them from init_options "
            "(RayBackend's num_cpus and num_gpus set each child's share), or pass "
            "address='local' for a new instance of this size"
        )


def _check_reachable(address: str, timeout: float) -> None:
    host, port = _split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as error:
        raise InvalidOptionError(
            f"RayBackend: no Ray cluster reachable at address={address!r}: connecting to "
            f"{host}:{port} failed within {timeout:g} s ({short_error(error)}). "
            "Check the head node's address and port (`ray start --head` prints them)"
        ) from error
