"""Differential privacy on Ray: the coordinator's actor draws the same noise as inline,
to the last bit (one small job; Ray is shared with test_ray.py through ``ray_local``)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from datapredict import LogisticRegression, train_distributed
from datapredict.datasets import load_dataset, split
from datapredict.privacy import AdaptiveClipping, DifferentialPrivacy

pytest.importorskip("dp_accounting")
pytestmark = pytest.mark.ray


def test_private_sync_ray_equals_inline_to_the_last_bit(ray_local):
    from datapredict.backends.ray import RayBackend

    data = load_dataset("digits")
    shards = split(data.X[:300], data.y[:300], 12, random_state=0)
    factory = partial(LogisticRegression, learning_rate=0.5, classes=np.unique(data.y))
    privacy = DifferentialPrivacy(
        clip_norm=0.5, noise_multiplier=1.0, adaptive=AdaptiveClipping(count_noise=2.0)
    )
    options = dict(
        strategy="model_parameters",
        rounds=3,
        children_per_round=6,
        local_iterations=2,
        random_state=0,
        privacy=privacy,
    )
    inline = train_distributed(factory, shards, backend="inline", **options)
    on_ray = train_distributed(factory, shards, backend=RayBackend(num_cpus=0.5), **options)
    np.testing.assert_array_equal(on_ray.main_parameters, inline.main_parameters)
    np.testing.assert_array_equal(on_ray.history["epsilon"], inline.history["epsilon"])
