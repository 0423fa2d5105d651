"""Compressors by name: ``"int8"``, ``"int4"``, ``"topk:<fraction>"`` (or a compressor).

>>> resolve_compressor("topk:0.05")
TopK(fraction=0.05, error_feedback=True)
>>> resolve_compressor("int4").name
'int4'
"""

from __future__ import annotations

from typing import Any

from datapredict._validation import option_error
from datapredict.compression.base import Compressor
from datapredict.compression.quantize import StochasticQuantizer
from datapredict.compression.topk import TopK
from datapredict.errors import InvalidOptionError

__all__ = ["COMPRESSION_NAMES", "resolve_compressor"]

COMPRESSION_NAMES = ("int8", "int4", "topk:<fraction>")
"""The names :func:`resolve_compressor` accepts ("topk" alone: fraction 0.01)."""

_EXPECTED = (
    "None, 'int8', 'int4', 'topk:<fraction in (0, 1]>' or a compressor (an object "
    "with a name and encode(vector, state, seed))"
)


def resolve_compressor(
    value: Any, owner: str = "train_distributed", name: str = "compression"
) -> Compressor | None:
    """The compressor ``value`` names, ``value`` itself if it is one, or None.

    Parameters
    ----------
    value : None, str or compressor
        ``"int8"`` / ``"int4"``: :class:`StochasticQuantizer` with 8 / 4 bits;
        ``"topk:0.01"``: :class:`TopK` sending 1 % of the values, with error feedback
        (``"topk"``: 0.01); a compressor object is returned as it is.
    owner, name : str
        Who asks and for which option (for the error message).

    Raises
    ------
    InvalidOptionError
        Naming the option, what it accepts and what it got.
    """
    if value is None or isinstance(value, Compressor):
        return value
    if not isinstance(value, str):
        raise option_error(owner, name, _EXPECTED, value)
    text = value.strip().lower()
    if text in ("int8", "int4"):
        return StochasticQuantizer(bits=int(text[3:]))
    kind, colon, fraction = text.partition(":")
    if kind == "topk":
        if not colon:
            return TopK()
        try:
            return TopK(fraction=float(fraction))
        except (ValueError, InvalidOptionError):
            pass
    raise option_error(owner, name, _EXPECTED, value)
