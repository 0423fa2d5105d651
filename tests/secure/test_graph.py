"""The SecAgg+ neighbour graph: degree, symmetry, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from datapredict.secure.graph import degree, neighbour_graph


@pytest.mark.parametrize(
    ("n", "neighbours", "expected"),
    [
        (100, "log", 14),  # 2 * ceil(log2 100) = 2 * 7
        (16, "log", 8),
        (5, "log", 4),  # capped at n - 1
        (1, "log", 0),
        (10, "all", 9),
        (10, 3, 4),  # odd degrees round up to even
        (10, 20, 9),
    ],
)
def test_degree(n, neighbours, expected):
    assert degree(n, neighbours) == expected


@pytest.mark.parametrize(("n", "k"), [(100, 14), (17, 4), (8, 2), (6, 5), (30, 28)])
def test_the_graph_is_k_regular_symmetric_and_without_loops(n, k):
    children = [3 * c + 1 for c in range(n)]  # any child indices
    graph = neighbour_graph(children, k, np.random.SeedSequence(5))
    assert sorted(graph) == children
    for u, neighbours in graph.items():
        assert len(neighbours) == len(set(neighbours)) == k
        assert u not in neighbours
        assert all(u in graph[v] for v in neighbours)


def test_the_graph_depends_only_on_the_seed():
    first = neighbour_graph(range(50), 8, np.random.SeedSequence([1, 2]))
    assert first == neighbour_graph(range(50), 8, np.random.SeedSequence([1, 2]))
    assert first != neighbour_graph(range(50), 8, np.random.SeedSequence([1, 3]))
