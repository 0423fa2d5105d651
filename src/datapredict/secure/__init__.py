"""Secure aggregation: the server learns the sum of the children's updates, not each one.

Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning",
CCS 2017 (SecAgg), with the sparse neighbour graph of Bell et al., "Secure Single-Server
Aggregation with (Poly)Logarithmic Overhead", CCS 2020 (SecAgg+). Simulated in one job
on any backend: the children's masking runs on the workers, the server's part next to
the coordinator.

- :mod:`~datapredict.secure.options`: :class:`SecureAggregation`, the job's option;
- :mod:`~datapredict.secure.fixed_point`: floats to integers modulo 2**64 and back;
- :mod:`~datapredict.secure.shamir`: Shamir secret sharing;
- :mod:`~datapredict.secure.keys`: X25519 + HKDF key agreement, the AES-CTR mask
  generator, AES-GCM share encryption (the ``privacy`` extra's ``cryptography``);
- :mod:`~datapredict.secure.graph`: the SecAgg+ neighbour graph;
- :mod:`~datapredict.secure.protocol`: a round's public setup;
- :mod:`~datapredict.secure.client`, :mod:`~datapredict.secure.server`: each side;
- :mod:`~datapredict.secure.rounds`: a job's secure rounds, next to its coordinator.
"""

from datapredict.secure.client import SecAggClient, mask_block
from datapredict.secure.fixed_point import FixedPoint
from datapredict.secure.options import SecureAggregation
from datapredict.secure.protocol import RoundSetup
from datapredict.secure.rounds import SecureJob, SecureRounds, secure_job
from datapredict.secure.server import SecAggServer

__all__ = [
    "FixedPoint",
    "RoundSetup",
    "SecAggClient",
    "SecAggServer",
    "SecureAggregation",
    "SecureJob",
    "SecureRounds",
    "mask_block",
    "secure_job",
]
