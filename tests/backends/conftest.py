"""Fixtures for the backend tests: one shared local Ray instance, and a two-node cluster.

Starting Ray costs seconds (``ray.init`` 2.5-6 s, ``ray.shutdown`` ~1.3 s on two cores),
so the tests share one instance, started on first use with two CPUs and no dashboard
and shut down at the end of the session. ``ray_local`` re-starts it if a test shut it
down (``ray_cluster`` and the tests of a backend that owns its instance do), so the
tests pass in any order; test_ray.py puts those tests last so that Ray starts only once
for the rest.
"""

from __future__ import annotations

import pytest

RAY_INIT = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}


@pytest.fixture(scope="session")
def _ray_session():
    """Start the shared instance on demand; shut down whatever is left at the end."""
    ray = pytest.importorskip("ray")

    def ensure():
        if not ray.is_initialized():
            ray.init(**RAY_INIT)
        return ray

    yield ensure
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def ray_local(_ray_session):
    """The ``ray`` module, connected to the shared two-CPU local instance."""
    return _ray_session()


@pytest.fixture
def ray_cluster(_ray_session):
    """A simulated two-node cluster (1 CPU each; the second tagged ``node2``), connected.

    Ray can be connected to one cluster per process, so the shared instance is shut
    down first; ``ray_local`` starts it again if a later test needs it.
    """
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    try:
        node2 = cluster.add_node(num_cpus=1, resources={"node2": 1})
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster, node2
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
