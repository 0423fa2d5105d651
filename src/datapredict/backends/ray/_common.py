"""Helpers shared by the Ray backend's modules (``ray`` itself is passed in, not imported)."""

from __future__ import annotations

import functools
import re
import traceback
from typing import Any

_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours its error messages for terminals


@functools.cache
def remote_class(ray: Any, body: type) -> Any:
    """``ray.remote(body)``, made once per Ray module and class."""
    return ray.remote(body)


def short_error(error: BaseException) -> str:
    """The first line of ``error`` as ``Type: message``, without colour codes, <= 300 chars."""
    text = "".join(traceback.format_exception_only(type(error), error))
    lines = _COLOURS.sub("", text).strip().splitlines()
    first = lines[0] if lines else type(error).__name__
    return first if len(first) <= 300 else first[:297] + "..."
