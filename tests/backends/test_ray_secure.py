"""Secure aggregation on Ray: only masked blocks travel, and the result is inline's to the bit."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from datapredict import LogisticRegression, SecureAggregation, train_distributed
from datapredict.datasets import load_dataset, split

pytestmark = pytest.mark.ray

# Importable by Ray's workers (this test module is not): a partial of datapredict's class.
factory = partial(LogisticRegression, learning_rate=0.5)


def test_secure_rounds_on_ray_equal_inline_to_the_last_bit(ray_local):
    from datapredict.backends.ray import RayBackend

    data = load_dataset("digits")
    shards = split(data.X[:600], data.y[:600], 5, how="iid", random_state=0)
    options = dict(
        strategy="model_parameters",
        merger="fedavg",
        rounds=3,
        random_state=0,
        local_iterations=2,
        children_per_round=4,
        secure_aggregation=SecureAggregation(neighbours="log"),
    )
    inline = train_distributed(factory, shards, backend="inline", **options)
    on_ray = train_distributed(
        factory, shards, backend=RayBackend(num_workers=2, num_cpus=0.5), **options
    )
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)
    assert [r.children for r in on_ray.history] == [r.children for r in inline.history]
    assert on_ray.version == inline.version == 4
