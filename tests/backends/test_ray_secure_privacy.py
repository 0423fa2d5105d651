"""Differential privacy under secure aggregation on Ray: the children's noise is drawn on
the actors from their seeds, and the result is inline's to the last bit."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from datapredict import DifferentialPrivacy, LogisticRegression, train_distributed
from datapredict.datasets import load_dataset, split

pytestmark = pytest.mark.ray
pytest.importorskip("dp_accounting")

# Importable by Ray's workers (this test module is not): a partial of datapredict's class.
factory = partial(LogisticRegression, learning_rate=0.5)


def test_private_secure_rounds_on_ray_equal_inline_to_the_last_bit(ray_local):
    from datapredict.backends.ray import RayBackend

    data = load_dataset("digits")
    shards = split(data.X[:600], data.y[:600], 5, how="iid", random_state=0)
    options = dict(
        strategy="gradients",
        rounds=3,
        random_state=0,
        children_per_round=4,
        secure_aggregation=True,
        privacy=DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.1),
    )
    inline = train_distributed(factory, shards, backend="inline", **options)
    on_ray = train_distributed(
        factory, shards, backend=RayBackend(num_workers=2, num_cpus=0.5), **options
    )
    assert np.array_equal(on_ray.main_parameters, inline.main_parameters)
    np.testing.assert_array_equal(on_ray.history["epsilon"], inline.history["epsilon"])
    assert on_ray.privacy == inline.privacy
