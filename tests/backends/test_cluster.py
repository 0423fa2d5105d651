"""Where RayBackend connects: its own instance, the connected one, or a cluster it joins.

The first tests use :class:`FakeRay`, a stand-in for the ``ray`` module, to check which
address reaches ``ray.init`` and which options are refused before it is called. The
tests marked ``ray`` start a second, real Ray instance (``ray start --head``) beside the
test's, as another user of the machine would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from datapredict.backends.ray.cluster import NEW_INSTANCE_ONLY, connect
from datapredict.errors import InvalidOptionError


class FakeRay:
    """What :func:`connect` uses of the ``ray`` module, recording each ``ray.init`` call.

    ``FakeRay(connected_to="HOST:PORT")`` is a process already connected there;
    ``init(address=...)`` connects to ``address`` (a new instance for ``"local"``).
    """

    NEW_INSTANCE = "127.0.0.1:6380"

    def __init__(self, connected_to: str | None = None) -> None:
        self.gcs_address = connected_to
        self.inits: list[tuple[str | None, dict]] = []

    def is_initialized(self) -> bool:
        return self.gcs_address is not None

    def get_runtime_context(self) -> SimpleNamespace:
        return SimpleNamespace(gcs_address=self.gcs_address)

    def init(self, address: str | None = None, **options) -> None:
        self.inits.append((address, options))
        self.gcs_address = self.NEW_INSTANCE if address == "local" else address


@pytest.fixture
def listening() -> Iterator[str]:
    """The ``HOST:PORT`` of a socket that accepts connections (a head node's port)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"127.0.0.1:{server.getsockname()[1]}"


def test_none_starts_a_new_local_instance_with_every_option(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray = FakeRay()
    assert connect(ray, None, {"num_cpus": 2, "include_dashboard": False}, 1.0) is True
    assert ray.inits == [("local", {"num_cpus": 2, "include_dashboard": False})]


@pytest.mark.parametrize("address", [None, "auto"])
def test_the_connected_instance_is_reused(monkeypatch, listening, address):
    monkeypatch.setenv("RAY_ADDRESS", listening)  # the connected instance comes first
    ray = FakeRay(connected_to="10.0.0.1:6379")
    assert connect(ray, address, {"include_dashboard": False}, 1.0) is False
    assert ray.inits == []


def test_none_joins_the_cluster_ray_address_names(monkeypatch, listening):
    monkeypatch.setenv("RAY_ADDRESS", listening)
    ray = FakeRay()
    assert connect(ray, None, {"log_to_driver": False}, 1.0) is True
    assert ray.inits == [(listening, {"log_to_driver": False})]


def test_local_ignores_ray_address(monkeypatch, listening):
    monkeypatch.setenv("RAY_ADDRESS", listening)
    ray = FakeRay()
    assert connect(ray, "local", {"num_cpus": 1}, 1.0) is True
    assert ray.inits == [("local", {"num_cpus": 1})]


@pytest.mark.parametrize("option", NEW_INSTANCE_ONLY)
@pytest.mark.parametrize("address", ["auto", "listening", None])
def test_sizing_an_instance_that_is_joined_is_refused_before_ray_is_called(
    monkeypatch, listening, address, option
):
    monkeypatch.setenv("RAY_ADDRESS", listening)
    address = listening if address == "listening" else address
    ray = FakeRay()
    options = {option: 1, "include_dashboard": False}
    with pytest.raises(InvalidOptionError) as info:
        connect(ray, address, options, 1.0)
    assert ray.inits == []
    message = str(info.value)
    for fragment in ("init_options", repr(option), "only a new Ray instance", f"{address!r}"):
        assert fragment in message
    assert ("RAY_ADDRESS" in message) == (address is None)


def test_sizing_the_connected_instance_is_refused():
    ray = FakeRay(connected_to="10.0.0.1:6379")
    with pytest.raises(InvalidOptionError, match=r"'num_gpus'.*reuses .*'10\.0\.0\.1:6379'"):
        connect(ray, None, {"num_gpus": 1}, 1.0)


def test_a_new_instance_while_connected_is_refused():
    ray = FakeRay(connected_to="10.0.0.1:6379")
    with pytest.raises(InvalidOptionError, match=r"new local Ray instance.*already connected"):
        connect(ray, "local", {}, 1.0)
    assert ray.inits == []


def test_ray_address_pointing_nowhere_names_the_variable(monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("RAY_ADDRESS", nowhere)
    ray = FakeRay()
    with pytest.raises(InvalidOptionError, match=f"address={nowhere!r}.*failed within"):
        connect(ray, None, {}, 1.0)
    assert ray.inits == []


def test_the_backend_tests_run_without_ray_address():
    assert "RAY_ADDRESS" not in os.environ  # conftest's session fixture


# ------------------------------------------------ a second, real Ray instance
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def other_instance():
    """A Ray instance started by ``ray start --head`` (1 CPU), as another user would.

    Its temp dir is its own (short: Ray's socket paths must fit 107 characters), so the
    file naming it as this machine's latest cluster (``ray_current_cluster``) is there,
    not in /tmp/ray: ``ray.init(_temp_dir=...)`` sees it, other programs do not. Yields
    ``(temp_dir, address)``; stopped by SIGTERM to its ``ray start --block`` process,
    which stops the processes it started (its process group is killed if it hangs);
    its temp dir is removed.
    """
    pytest.importorskip("ray")
    temp_dir = tempfile.mkdtemp(prefix="dp-ray-")
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "ray"),
        "start",
        "--head",
        f"--port={port}",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        "--num-cpus=1",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
        "--block",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    address_file = Path(temp_dir) / "ray_current_cluster"
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and process.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail("ray start --head did not come up within 60 s")
            time.sleep(0.2)
        if process.poll() is not None:
            pytest.fail(f"ray start --head failed: {process.stderr.read().decode()[-2000:]}")
        yield temp_dir, address_file.read_text().strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.ray
def test_backend_starts_its_own_instance_beside_a_running_one(other_instance):
    """``ray.init(num_cpus=...)`` would join the running instance, then fail."""
    from datapredict.backends.ray import RayBackend

    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()  # a process without Ray, as a user's script starts
    temp_dir, other = other_instance
    backend = RayBackend(
        init_options={"_temp_dir": temp_dir, "num_cpus": 1, "log_to_driver": False}
    )
    backend.connect()
    try:
        assert ray.get_runtime_context().gcs_address != other
        assert ray.cluster_resources()["CPU"] == 1
    finally:
        backend.close()
    assert not ray.is_initialized()  # the backend's own instance, shut down at close


@pytest.mark.ray
def test_auto_joins_the_running_instance_and_refuses_to_size_it(other_instance):
    from datapredict.backends.ray import RayBackend

    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    temp_dir, other = other_instance
    sized = RayBackend(address="auto", init_options={"_temp_dir": temp_dir, "num_cpus": 2})
    with pytest.raises(InvalidOptionError, match="'num_cpus', which only a new Ray instance"):
        sized.connect()
    assert not ray.is_initialized()
    backend = RayBackend(address="auto", init_options={"_temp_dir": temp_dir})
    backend.connect()
    try:
        assert ray.get_runtime_context().gcs_address == other
    finally:
        backend.close()
    assert not ray.is_initialized()  # this process's connection ends; the instance runs on
