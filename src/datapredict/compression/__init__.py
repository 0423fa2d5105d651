"""Compressed updates: a transform on what a child sends and its inverse at the coordinator.

- :class:`StochasticQuantizer` (``"int8"``, ``"int4"``): unbiased stochastic rounding
  to 8 or 4 bits per value with a per-vector scale (QSGD-style).
- :class:`TopK` (``"topk:0.01"``): the largest values by magnitude, with error feedback
  kept on the child.

A compressor's ``encode(vector, state, seed) -> (payload, new_state)`` is pure; the
:class:`Payload` travels (on Ray, it is what goes to the coordinator) and decodes
itself. ``train_distributed(..., compression="int8")`` uses them; see
``docs/compression.md``.
"""

from datapredict.compression.base import Compressor, Payload, check_vector
from datapredict.compression.push import decode_push, encode_push, push_seed
from datapredict.compression.quantize import QuantizedPayload, StochasticQuantizer
from datapredict.compression.registry import COMPRESSION_NAMES, resolve_compressor
from datapredict.compression.topk import SparsePayload, TopK, top_k_indices

__all__ = [
    "COMPRESSION_NAMES",
    "Compressor",
    "Payload",
    "QuantizedPayload",
    "SparsePayload",
    "StochasticQuantizer",
    "TopK",
    "check_vector",
    "decode_push",
    "encode_push",
    "push_seed",
    "resolve_compressor",
    "top_k_indices",
]
