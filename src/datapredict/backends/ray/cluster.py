"""Finding a Ray cluster: checking an address, connecting, and sharing its CPUs."""

from __future__ import annotations

import math
import socket
from typing import Any

from datapredict._validation import option_error
from datapredict.backends.ray._common import short_error
from datapredict.errors import InvalidOptionError, MissingDependencyError

__all__ = ["check_address", "connect", "even_share", "import_ray"]

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
        "None (start or reuse a local Ray instance), 'auto', 'local', 'HOST:PORT' or "
        "'ray://HOST:PORT'",
        address,
    )


def connect(ray: Any, address: str | None, init_options: dict[str, Any], timeout: float) -> bool:
    """Connect this process to the cluster at ``address`` (or start a local instance);
    return whether a new connection was made (which the caller then owns).

    Raises
    ------
    InvalidOptionError
        If this process is connected to another cluster, or none is reachable there.
    """
    if ray.is_initialized():
        if address in (None, "auto"):
            return False
        current = ray.get_runtime_context().gcs_address
        if address == current:
            return False
        raise InvalidOptionError(
            f"RayBackend: cannot join the Ray cluster at {address!r}: this process is "
            f"already connected to the one at {current!r}; call ray.shutdown() first, or "
            "pass address=None to use the current one"
        )
    if address is not None and address not in ("auto", "local"):
        _check_reachable(address, timeout)
    try:
        ray.init(address=address, **init_options)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as error:
        where = "a new local Ray instance" if address in (None, "local") else repr(address)
        raise InvalidOptionError(
            f"RayBackend: could not connect to {where} (address={address!r}): {short_error(error)}"
        ) from error
    return True


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
