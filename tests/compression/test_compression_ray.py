"""Compression on the Ray backend: the payloads travel to the coordinator's actor, and a
sync job ends with the inline job's parameters to the last bit (one Ray instance)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import datapredict as dp
from datapredict.datasets import load_dataset, split

pytestmark = pytest.mark.ray

# Importable by Ray's workers (this test module is not): a partial of datapredict's class.
factory = partial(dp.LogisticRegression, learning_rate=0.5, classes=np.arange(10))


@pytest.fixture(scope="module")
def ray_instance():
    """A local two-CPU Ray instance (this module's own unless one is already running)."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def test_compressed_sync_jobs_on_ray_equal_inline(ray_instance, monkeypatch):
    from datapredict.backends.ray import RayBackend

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    data = load_dataset("digits")
    shards = split(data.X[:600], data.y[:600], 4, how="iid", random_state=0)
    jobs = [
        dict(strategy="model_parameters", compression="topk:0.01", children_per_round=3),
        dict(strategy="gradients", compression="int4"),
    ]
    with RayBackend(num_workers=2) as backend:
        for job in jobs:
            options = dict(rounds=4, random_state=1, local_iterations=3, **job)
            on_ray = dp.train_distributed(factory, shards, backend=backend, **options)
            inline = dp.train_distributed(factory, shards, **options)
            np.testing.assert_array_equal(on_ray.main_parameters, inline.main_parameters)
            assert list(on_ray.history["bytes_sent"]) == list(inline.history["bytes_sent"])
