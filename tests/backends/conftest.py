"""Fixtures for the backend tests: one shared local Ray instance, and a two-node cluster.

Starting Ray costs seconds (``ray.init`` 2.5-6 s, ``ray.shutdown`` ~1.3 s on two cores),
so the tests share one instance, started on first use with two CPUs and no dashboard
and shut down at the end of the session. ``ray_local`` re-starts it if a test shut it
down (``ray_cluster`` and the tests of a backend that owns its instance do), so the
tests pass in any order; test_ray.py puts those tests last so that Ray starts only once
for the rest.

The tests start their own instances whatever else runs on the machine: ``ray.init`` gets
``address="local"`` (a new instance; ``ray.init()`` would join the cluster named by
``RAY_ADDRESS`` or the last one ``ray start`` started here, and then refuse ``num_cpus``),
and ``RAY_ADDRESS`` is unset for the session, so that a ``RayBackend()`` of a test does
not join another cluster either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

RAY_INIT = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}


@pytest.fixture(scope="session", autouse=True)
def _no_ray_address() -> Iterator[None]:
    """Unset ``RAY_ADDRESS`` for the session: no test joins a cluster by accident."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("RAY_ADDRESS", raising=False)
        yield


@pytest.fixture(scope="session")
def _ray_session():
    """Start the shared instance on demand; shut down whatever is left at the end."""
    ray = pytest.importorskip("ray")

    def ensure():
        if not ray.is_initialized():
            ray.init(address="local", **RAY_INIT)
        return ray

    yield ensure
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def ray_local(_ray_session):
    """The ``ray`` module, connected to the shared two-CPU local instance."""
    return _ray_session()


@contextlib.contextmanager
def _machine_address_kept() -> Iterator[Callable[[], None]]:
    """Leave the machine's "latest Ray cluster" file as it was.

    ``ray.cluster_utils.Cluster`` writes its head's address to
    ``<temp dir>/ray/ray_current_cluster`` (where ``ray.init()`` on this machine looks
    for a cluster to join) and deletes the file at shutdown. Restoring it at once keeps
    the test's cluster from being joined by other programs on the machine, and keeps
    their cluster's entry. Yields the function that restores it.
    """
    from ray._private.utils import get_ray_address_file

    path = Path(get_ray_address_file(None))
    before = path.read_text() if path.exists() else None

    def restore() -> None:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(before)

    try:
        yield restore
    finally:
        restore()


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
    with _machine_address_kept() as restore:
        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "include_dashboard": False},
        )
        restore()
        try:
            node2 = cluster.add_node(num_cpus=1, resources={"node2": 1})
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, log_to_driver=False)
            yield cluster, node2
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
