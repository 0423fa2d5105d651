"""Secure rounds of a training job: the option resolved for the job, and the host's harness.

:class:`SecureJob` is :class:`~datapredict.secure.options.SecureAggregation` fixed for
one job (the children's seeds, what they mask, their weights); it travels with the
job's coordinator factory (to a Ray actor too). :class:`SecureRounds` runs each round's
protocol next to the coordinator:

- :meth:`SecureRounds.begin` (before the round's work is sent): each participant
  advertises its public keys and sends its encrypted shares through a fresh
  :class:`~datapredict.secure.server.SecAggServer`; returns the public
  :class:`~datapredict.secure.protocol.RoundSetup` that the workers mask with;
- the workers mask their children's updates (:func:`~datapredict.secure.client.mask_block`);
- :meth:`SecureRounds.finish`: the server sums the survivors' masked vectors, the
  survivors reveal the shares it asks for, and the server unmasks the sum; the result is
  the round's averaged update, which the coordinator applies as one push.

Simulation: the children's steps 1, 2 and 4 (:class:`~datapredict.secure.client.SecAggClient`)
run here, beside the server object but apart from it, with secrets derived from each
child's seed as on the worker; the server object receives only what a real server would.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from datapredict._validation import option_error
from datapredict.errors import SecureAggregationError
from datapredict.secure.client import SecAggClient
from datapredict.secure.graph import degree
from datapredict.secure.options import SecureAggregation
from datapredict.secure.protocol import RoundSetup
from datapredict.secure.server import SecAggServer

__all__ = ["SecureJob", "SecureRounds", "check_backend", "secure_job"]

_OWNER = "train_distributed"
_AVERAGES = ("average", "fedavg")


@dataclass(frozen=True)
class SecureJob:
    """Secure aggregation fixed for one job.

    Attributes
    ----------
    option : SecureAggregation
        The user's option.
    seeds : tuple of numpy.random.SeedSequence
        Every child's seed (their per-round secrets derive from it).
    graph_seed : numpy.random.SeedSequence
        The job's public seed of the neighbour graphs (round ``r``: ``spawn_key + (r,)``).
    delta : bool
        Children mask ``params - main`` (strategy "model_parameters").
    weight_scale : float or None
        Children weigh ``n_samples / weight_scale``; None: uniformly.
    private : DistributedNoise, optional
        Differential privacy done by the children
        (:mod:`~datapredict.secure.distributed_dp`): the round's sum is divided by the
        fixed ``private.per_round``, not by the survivors' weight.
    """

    option: SecureAggregation
    seeds: tuple[np.random.SeedSequence, ...]
    graph_seed: np.random.SeedSequence
    delta: bool
    weight_scale: float | None
    private: Any = None

    def server(self, round_index: int, participants: Sequence[int]) -> SecAggServer:
        """A fresh server for round ``round_index``."""
        k = degree(len(participants), self.option.neighbours)
        seed = np.random.SeedSequence(
            self.graph_seed.entropy, spawn_key=(*self.graph_seed.spawn_key, round_index)
        )
        return SecAggServer(
            round_index,
            participants,
            k,
            self.option.shares_needed(k + 1),
            seed,
            self.option.codec,
            clip=self.option.range,
            delta=self.delta,
            weight_scale=self.weight_scale,
            noise_std=self.option.noise_std,
            private=self.private,
        )


class SecureRounds:
    """The protocol of each secure round, next to the coordinator (see the module)."""

    def __init__(self, job: SecureJob) -> None:
        self.job = job
        self.server: SecAggServer | None = None
        self.clients: dict[int, SecAggClient] = {}
        self.setup: RoundSetup | None = None

    def begin(self, round_index: int, participants: Sequence[int]) -> RoundSetup:
        """Steps 1 and 2 of round ``round_index``; returns its public setup."""
        server = self.job.server(round_index, participants)
        clients = {c: SecAggClient(c, self.job.seeds[c], round_index) for c in server.participants}
        for child, client in clients.items():
            server.advertise(child, *client.public_keys())
        setup = server.setup()
        for child, client in clients.items():
            server.route(child, client.share_secrets(setup))
        self.server, self.clients, self.setup = server, clients, setup
        return setup

    def finish(self, results: Sequence[Any]) -> tuple[np.ndarray, float]:
        """Steps 3 and 4: the survivors' average update (float64, P values) and their
        total weight, from their masked pushes (``result.vector()``). With distributed
        differential privacy the "average" is the noisy sum over the fixed denominator m
        (DP-FedAvg's estimate), not over the survivors."""
        server, setup = self.server, self.setup
        if server is None:
            raise SecureAggregationError(
                "secure aggregation: no round was begun here (did the coordinator restart "
                "during the round?); the round cannot be unmasked"
            )
        for result in results:
            server.receive(result.child, result.vector())
        responses = {
            v: self.clients[v].reveal(request, server.inbox(v), setup)
            for v, request in server.requests().items()
        }
        total = server.unmask(responses)
        denominator = total[-1] if self.job.private is None else self.job.private.per_round
        return total[:-1] / denominator, float(total[-1])


def secure_job(
    option: Any,
    *,
    strategy: str,
    mode: str,
    merger: Any,
    max_norm: float | None,
    per_round: int,
    seeds: Sequence[np.random.SeedSequence],
    graph_seed: np.random.SeedSequence,
    sample_counts: Sequence[int],
) -> SecureJob | None:
    """``train_distributed``'s ``secure_aggregation`` resolved for the job (None: off).

    Raises
    ------
    InvalidOptionError
        For a value that is not None, a bool or a :class:`SecureAggregation`; for async
        mode, a merge that needs each child's vector, or clipping on the server.
    """
    if option is None or option is False:
        return None
    if option is True:
        option = SecureAggregation()
    if not isinstance(option, SecureAggregation):
        raise option_error(
            _OWNER, "secure_aggregation", "None, a bool or a SecureAggregation", option
        )
    if mode != "sync":
        raise option_error(
            _OWNER, "mode", "'sync' with secure_aggregation (rounds are unmasked whole)", mode
        )
    name = _merge_name(merger)
    if name not in _AVERAGES:
        raise option_error(
            _OWNER,
            "merger",
            "an averaging merge ('average' or 'fedavg') with secure_aggregation: the server "
            "only learns the sum, and other rules need each child's vector",
            merger,
        )
    if max_norm is not None:
        raise option_error(
            "Aggregation",
            "max_norm",
            "None with secure_aggregation (the server cannot clip vectors it cannot see; "
            "SecureAggregation(range=...) clips each coordinate on the child)",
            max_norm,
        )
    holders = degree(per_round, option.neighbours) + 1
    if isinstance(option.threshold, int) and not holders / 2 < option.threshold:
        raise option_error(
            "SecureAggregation",
            "threshold",
            f"more than half of each child's {holders} share holders at {per_round} "
            "children per round",
            option.threshold,
        )
    option.codec.check_capacity(per_round)
    weighted = strategy == "gradients" or name == "fedavg"
    scale = 2.0 ** math.ceil(math.log2(max(sample_counts))) if weighted else None
    return SecureJob(option, tuple(seeds), graph_seed, strategy == "model_parameters", scale)


def check_backend(backend: Any) -> None:
    """Raise unless ``backend.submit`` takes a secure round's ``setup``."""
    try:
        accepts = "setup" in inspect.signature(backend.submit).parameters
    except (TypeError, ValueError):
        accepts = False
    if not accepts:
        raise option_error(
            _OWNER,
            "backend",
            "a backend whose submit() takes setup= (inline, threads, ray) with secure_aggregation",
            backend,
        )


def _merge_name(merger: Any) -> str | None:
    """The name of an averaging ``merger`` (None for any other merge)."""
    from datapredict.merge.mean_rules import Average, FedAvg

    if merger is None:
        return "average"
    if isinstance(merger, str):
        return merger.lower()
    if type(merger) in (Average, FedAvg):
        return merger.name
    return getattr(merger, "merge_type", None)  # a ModelParametersMerger's
