"""backends/base.py: the seeds of a job's children, made on demand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from datapredict.backends import Shards
from datapredict.backends.base import SpawnedSeeds


def _state(seed: np.random.SeedSequence) -> list[int]:
    return seed.generate_state(4).tolist()


@pytest.mark.parametrize("entropy", [0, 12345, None])
def test_spawned_seeds_are_the_seeds_spawn_gives(entropy):
    parent = np.random.SeedSequence(entropy)
    lazy = SpawnedSeeds.of(parent, start=1, count=5)
    spawned = np.random.SeedSequence(parent.entropy).spawn(6)[1:]
    assert len(lazy) == 5
    assert [_state(s) for s in lazy] == [_state(s) for s in spawned]
    assert _state(lazy[-1]) == _state(spawned[-1])
    again = pickle.loads(pickle.dumps(lazy))
    assert _state(again[3]) == _state(spawned[3])


def test_spawned_seeds_refuse_an_index_out_of_range():
    seeds = SpawnedSeeds.of(np.random.SeedSequence(0), start=0, count=2)
    with pytest.raises(IndexError):
        seeds[2]
    with pytest.raises(IndexError):
        seeds[-3]


def test_spawned_seeds_of_a_child_sequence_keep_its_key():
    child = np.random.SeedSequence(3).spawn(2)[1]
    lazy = SpawnedSeeds.of(child, start=0, count=3)
    assert [_state(s) for s in lazy] == [_state(s) for s in child.spawn(3)]


def test_shards_keep_spawned_seeds_as_they_are():
    seeds = SpawnedSeeds.of(np.random.SeedSequence(0), start=1, count=1)
    shards = Shards.of([(np.ones((2, 1)), np.zeros(2))], seeds)
    assert shards.seeds is seeds
