"""train_distributed(secure_aggregation=...): equal to the plain job within the precision,
the same on every backend, dropouts, failed rounds, resume, bad inputs."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

import datapredict as dp
from datapredict.backends import ThreadsBackend
from datapredict.datasets import load_dataset
from datapredict.errors import InvalidOptionError


@pytest.fixture(scope="module")
def shards():
    data = load_dataset("digits")
    cuts = [0, 101, 301, 551, 700, 900]  # unequal shards: FedAvg weights matter
    return [(data.X[a:b], data.y[a:b]) for a, b in itertools.pairwise(cuts)]


def _factory():
    return dp.LogisticRegression(learning_rate=0.5, classes=np.arange(10))


class _Failing(dp.LogisticRegression):
    """Fails in train() on shards of exactly 101 rows (after the round's setup)."""

    def train(self, X, y):
        if len(X) == 101:
            raise RuntimeError("battery died")
        return super().train(X, y)


def _failing():
    return _Failing(learning_rate=0.5, classes=np.arange(10))


def _bound(option, shards, strategy, merger, children):
    """The fixed-point bound on one round's averaged update: each of the n summed
    coordinates is rounded by at most 2**-(f + 1), and the sum is divided by the total
    weight W (sample counts over the power of two above the largest, or n)."""
    counts = np.array([len(shards[c][1]) for c in children], dtype=float)
    if strategy == "gradients" or merger == "fedavg":
        scale = 2.0 ** np.ceil(np.log2(max(len(y) for _, y in shards)))
        weight = counts.sum() / scale
    else:
        weight = len(children)
    return len(children) * 2.0 ** -(option.fraction_bits + 1) / weight + 1e-12


@pytest.mark.parametrize(
    ("strategy", "merger"),
    [("model_parameters", "fedavg"), ("model_parameters", "average"), ("gradients", "average")],
)
@pytest.mark.parametrize("backend", ["inline", "threads"])
def test_one_round_equals_plain_fedavg_within_the_precision(shards, strategy, merger, backend):
    option = dp.SecureAggregation(fraction_bits=20)  # coarse, so that the bound is tight
    options = dict(strategy=strategy, merger=merger, rounds=1, random_state=0, local_iterations=3)
    plain = dp.train_distributed(_factory, shards, backend=backend, **options)
    secure = dp.train_distributed(
        _factory, shards, backend=backend, secure_aggregation=option, **options
    )
    difference = np.abs(secure.main_parameters - plain.main_parameters).max()
    assert 0 < difference <= _bound(option, shards, strategy, merger, range(5))
    assert secure.history[0].children == plain.history[0].children == [0, 1, 2, 3, 4]


def test_inline_and_threads_agree_to_the_last_bit_and_stay_near_plain(shards):
    options = dict(
        strategy="model_parameters",
        merger="fedavg",
        rounds=4,
        random_state=3,
        local_iterations=2,
        children_per_round=4,
        server_optimizer="fedavgm",
    )
    inline = dp.train_distributed(_factory, shards, secure_aggregation=True, **options)
    threads = dp.train_distributed(
        _factory, shards, backend=ThreadsBackend(2), secure_aggregation=True, **options
    )
    plain = dp.train_distributed(_factory, shards, **options)
    assert np.array_equal(inline.main_parameters, threads.main_parameters)
    assert [r.children for r in inline.history] == [r.children for r in plain.history]
    np.testing.assert_allclose(inline.main_parameters, plain.main_parameters, rtol=0, atol=1e-7)


@pytest.mark.parametrize("strategy", ["model_parameters", "gradients"])
def test_a_child_failing_after_the_setup_is_a_dropout_and_the_sum_survives(shards, strategy):
    option = dp.SecureAggregation(neighbours="all", fraction_bits=20)  # 3 of 5 holders
    options = dict(strategy=strategy, merger="fedavg", rounds=1, random_state=0)
    plain = dp.train_distributed(_failing, shards, **options)
    secure = dp.train_distributed(_failing, shards, secure_aggregation=option, **options)
    assert "battery died" in secure.history[0].failures[0]
    assert secure.history[0].children == [1, 2, 3, 4] and secure.version == 2
    difference = np.abs(secure.main_parameters - plain.main_parameters).max()
    assert difference <= _bound(option, shards, strategy, "fedavg", [1, 2, 3, 4])


def test_more_dropouts_than_the_threshold_fail_the_round_and_keep_main(shards, caplog):
    failing = [(X[:101], y[:101]) for X, y in shards[1:3]] + list(shards[3:])  # 2 fail of 4
    option = dp.SecureAggregation(neighbours="all", threshold=0.75)  # 3 of 4 holders
    result = dp.train_distributed(
        _failing, failing, strategy="model_parameters", rounds=2, secure_aggregation=option
    )
    first, second = result.history
    assert len(first.failures) == 3 and "battery died" in first.failures[0]
    assert "2 of 4 children dropped out ([0, 1])" in first.failures[2]
    assert "the round is not applied" in first.failures[2]
    assert first.version == 1  # the initial parameters' version: nothing applied
    assert first.dropped == 0  # the two failures are failures, not late pushes
    assert second.version == 2 and second.children == [2, 3] and not second.failures
    assert "secure aggregation of round 0" in caplog.text


def test_a_resumed_job_equals_the_uninterrupted_one(shards, tmp_path):
    options = dict(strategy="gradients", rounds=4, random_state=1, secure_aggregation=True)
    uninterrupted = dp.train_distributed(_factory, shards, **options)

    class Crash(Exception):
        pass

    def crash_after_round_1(record):
        if record.round == 1:
            raise Crash

    with pytest.raises(Crash):
        dp.train_distributed(
            _factory, shards, checkpoint=tmp_path, callback=crash_after_round_1, **options
        )
    resumed = dp.train_distributed(
        _factory, shards, checkpoint=dp.Checkpointing(tmp_path, resume_from=tmp_path), **options
    )
    assert [r.round for r in resumed.history] == [2, 3]
    np.testing.assert_array_equal(resumed.main_parameters, uninterrupted.main_parameters)


class _OldBackend:
    """A backend whose submit() does not take a secure round's setup."""

    hosts_coordinator = False

    def open(self, job, shards): ...
    def broadcast(self, main, version): ...
    def submit(self, children, handle): ...
    def wait(self, timeout): ...
    def release(self): ...
    def close(self): ...


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"mode": "async"}, "'mode'"),
        ({"merger": "median"}, "'merger'"),
        ({"merger": dp.merge.Krum(num_malicious=1)}, "'merger'"),
        ({"aggregation": dp.Aggregation(max_norm=1.0)}, "'max_norm'"),
        ({"secure_aggregation": "yes"}, "'secure_aggregation'"),
        ({"secure_aggregation": dp.SecureAggregation(threshold=2)}, "'threshold'"),  # of 5
        ({"backend": _OldBackend()}, "'backend'"),
    ],
)
def test_bad_combinations_are_refused_before_any_work(shards, options, match):
    options = {"secure_aggregation": True, "strategy": "model_parameters", **options}
    with pytest.raises(InvalidOptionError, match=match):
        dp.train_distributed(_factory, shards, **options)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"threshold": 0.5}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"neighbours": "some"}, "neighbours"),
        ({"neighbours": 0}, "neighbours"),
        ({"range": -1.0}, "range"),
        ({"range": float("inf")}, "range"),
        ({"fraction_bits": -1}, "fraction_bits"),
        ({"fraction_bits": 50}, "fraction_bits"),  # 1024 * 2**50 > 2**53
        ({"noise_std": -0.1}, "noise_std"),
    ],
)
def test_bad_options_name_the_argument(options, name):
    with pytest.raises(InvalidOptionError, match=f"'{name}' option of SecureAggregation"):
        dp.SecureAggregation(**options)


class _Slow(dp.LogisticRegression):
    """Sleeps in train() on the shard of 101 rows: late for the quorum."""

    def train(self, X, y):
        if len(X) == 101:
            time.sleep(1.0)
        return super().train(X, y)


def test_a_child_late_for_the_quorum_is_a_dropout(shards):
    option = dp.SecureAggregation(neighbours="all", fraction_bits=20)
    options = dict(
        strategy="model_parameters",
        merger="fedavg",
        rounds=1,
        random_state=0,
        quorum=dp.Quorum(min_children=4, round_timeout=0.05),
    )

    def run(**extra):
        factory = lambda: _Slow(learning_rate=0.5, classes=np.arange(10))  # noqa: E731
        return dp.train_distributed(factory, shards, backend=ThreadsBackend(5), **options, **extra)

    plain, secure = run(), run(secure_aggregation=option)
    assert secure.history[0].children == plain.history[0].children == [1, 2, 3, 4]
    difference = np.abs(secure.main_parameters - plain.main_parameters).max()
    assert difference <= _bound(option, shards, "model_parameters", "fedavg", [1, 2, 3, 4])


def test_updates_beyond_the_range_are_clipped_with_a_warning(shards, caplog):
    option = dp.SecureAggregation(range=1e-3)
    dp.train_distributed(
        _factory, shards[:3], strategy="model_parameters", rounds=1, secure_aggregation=option
    )
    assert "beyond range=0.001; it is clipped" in caplog.text


def test_the_host_receives_only_masked_uint64_vectors(shards, monkeypatch):
    from datapredict.coordinators.host import LocalCoordinator

    received = []
    original = LocalCoordinator._apply_secure

    def spy(self, results):
        received.extend(r.vector().copy() for r in results)
        return original(self, results)

    monkeypatch.setattr(LocalCoordinator, "_apply_secure", spy)
    result = dp.train_distributed(
        _factory, shards, strategy="model_parameters", rounds=1, secure_aggregation=True
    )
    size = result.main_parameters.size
    assert len(received) == 5
    for vector in received:
        assert vector.dtype == np.uint64 and vector.shape == (size + 1,)
        top = (vector >> np.uint64(56)).astype(int)  # unmasked small updates: 0 or 255 only
        assert len(np.unique(top)) > 64
