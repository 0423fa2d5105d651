"""Who masks with whom: the SecAgg+ neighbour graph.

Bell, Bonawitz, Gascón, Lepoint and Raykova, "Secure Single-Server Aggregation with
(Poly)Logarithmic Overhead", CCS 2020: instead of every pair of children (classic
SecAgg, Bonawitz et al. 2017), each child agrees masks and shares its secrets only with
its ``k`` neighbours in a random ``k``-regular graph, ``k = O(log n)``. Here the graph is
a Harary graph (a ring where each node links to its ``k / 2`` nearest nodes on each
side) over a random permutation of the participants, drawn from the round's seed: so a
child's cost is O(k P) and the server's O(n k) keys and O(n P) vector work.

>>> import numpy as np
>>> graph = neighbour_graph(range(10), 4, np.random.SeedSequence(0))
>>> sorted(len(v) for v in graph.values()) == [4] * 10
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["degree", "neighbour_graph"]


def degree(n: int, neighbours: str | int) -> int:
    """The graph's degree for ``n`` participants.

    Parameters
    ----------
    n : int
        Participants of the round.
    neighbours : "log", "all" or int
        "log": ``2 * ceil(log2 n)`` (SecAgg+); "all": ``n - 1`` (classic SecAgg); an
        int: that many. Odd degrees are rounded up to even (a Harary graph of even
        degree exists for every n), and any degree is capped at ``n - 1``.
    """
    if neighbours == "all":
        wanted = n - 1
    elif neighbours == "log":
        wanted = 2 * math.ceil(math.log2(n)) if n > 1 else 0
    else:
        wanted = int(neighbours)
    wanted += wanted % 2
    return max(0, min(wanted, n - 1))


def neighbour_graph(
    participants: Iterable[int], k: int, seed: np.random.SeedSequence
) -> dict[int, tuple[int, ...]]:
    """Each participant's neighbours (sorted), along a random ``k``-regular Harary graph.

    Parameters
    ----------
    participants : iterable of int
        The round's children (distinct).
    k : int
        The degree (from :func:`degree`): even, or ``len(participants) - 1``.
    seed : numpy.random.SeedSequence
        The round's public seed, which fixes the permutation.

    Returns
    -------
    dict
        ``{child: neighbours}``, symmetric: ``v`` in ``graph[u]`` iff ``u`` in ``graph[v]``.
    """
    nodes = sorted(participants)
    n = len(nodes)
    if k >= n - 1:
        return {u: tuple(v for v in nodes if v != u) for u in nodes}
    ring = np.random.default_rng(seed).permutation(nodes).tolist()
    graph: dict[int, set[int]] = {u: set() for u in nodes}
    for i, u in enumerate(ring):
        for step in range(1, k // 2 + 1):
            v = ring[(i + step) % n]
            graph[u].add(v)
            graph[v].add(u)
    return {u: tuple(sorted(graph[u])) for u in nodes}
