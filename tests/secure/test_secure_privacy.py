"""Differential privacy under secure aggregation (distributed noise): the unmasked mean is
the clipped sum plus the children's noise shares over the fixed m, the noise's variance
(chi-square), the clip on the worker, what the server holds, ε as central DP, backends,
resume, dropouts and refused combinations."""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("dp_accounting")

import datapredict as dp
from datapredict.backends import ThreadsBackend
from datapredict.datasets import load_dataset
from datapredict.errors import InvalidOptionError, SecureAggregationError
from datapredict.privacy import DifferentialPrivacy, epsilon
from datapredict.secure import SecAggClient, SecureAggregation, SecureJob, SecureRounds
from datapredict.secure.client import mask_block
from datapredict.secure.distributed_dp import distributed_noise

ALPHA = 1e-6  # the chi-square tests' false-alarm rate


def _expected_share(seed: np.random.SeedSequence, round_index: int, std: float, size: int):
    """A child's noise share, derived here from the documented seed: the child's seed
    branched by (0x5EC466, round, 1), numpy's standard normals times ``std``."""
    branch = np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, 0x5EC466, round_index, 1)
    )
    return np.random.default_rng(branch).standard_normal(size) * std


def _clip(x: np.ndarray, c: float) -> np.ndarray:
    norm = np.sqrt(np.sum(x.astype(np.float64) ** 2))
    return x * min(1.0, c / norm) if norm > 0 else x.copy()


def _round(X, dropped=(), z=1.5, c=1.0, round_index=3, option=None):
    """One secure private round over the rows of X (updates, m = len(X)), masked by the
    worker's :func:`mask_block`; returns (mean, weight, seeds, noise, rounds)."""
    option = option or SecureAggregation(neighbours="all")  # m=5: 3 survivors needed
    m = len(X)
    noise = distributed_noise(option, clip_norm=c, noise_multiplier=z, per_round=m, min_children=m)
    seeds = tuple(np.random.SeedSequence(11).spawn(m))
    job = SecureJob(option, seeds, np.random.SeedSequence(12), False, None, noise)
    rounds = SecureRounds(job)
    setup = rounds.begin(round_index, range(m))
    results = [
        SimpleNamespace(child=k, row=k, error=None, n_samples=1, payload=None, nbytes=0)
        for k in range(m)
    ]
    masked = mask_block(X, results, np.zeros(X.shape[1]), setup, seeds)
    alive = [
        SimpleNamespace(child=k, vector=lambda k=k: masked[k]) for k in range(m) if k not in dropped
    ]
    mean, weight = rounds.finish(alive)
    return mean, weight, seeds, noise, rounds


def test_the_mean_is_the_clipped_sum_plus_the_noise_shares_over_the_fixed_m():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 40)) * np.array([[0.01], [1.0], [0.05], [3.0], [0.3]])
    mean, weight, seeds, noise, _ = _round(X, dropped={1, 3})
    assert noise.min_survivors == 3 and noise.tolerated == 2
    assert noise.share_std == 1.5 * 1.0 / np.sqrt(3)
    alive = [0, 2, 4]
    expected = sum(
        _clip(X[k], 1.0) + _expected_share(seeds[k], 3, noise.share_std, 40) for k in alive
    )
    expected /= 5  # DP-FedAvg's fixed denominator, not the 3 survivors
    assert weight == 3
    # each of the 3 summed values is rounded by at most 2**-33, then divided by m
    bound = 3 * 2.0 ** -(32 + 1) / 5 + 1e-13
    assert np.abs(mean - expected).max() <= bound
    # the shares were really there: without them the mean is far off
    assert np.abs(mean - sum(_clip(X[k], 1.0) for k in alive) / 5).max() > 0.1


def _chi_square_passes(noise_on_sum: np.ndarray, std: float) -> bool:
    """Two-sided chi-square test of H0: the values are i.i.d. N(0, std²), at ALPHA:
    Σ (x/std)² ~ χ²(P) under H0, rejected outside its ALPHA/2 and 1 − ALPHA/2 quantiles."""
    statistic = float(np.sum((noise_on_sum / std) ** 2))
    size = noise_on_sum.size
    return stats.chi2.ppf(ALPHA / 2, size) <= statistic <= stats.chi2.isf(ALPHA / 2, size)


def test_the_noise_of_m_minus_t_shares_has_the_accounted_std():
    """m = 5, t = 2: the sum of the 3 survivors' shares must have std σ = z C exactly
    (zero updates, so the unmasked sum is the noise); fixed seeds, false alarm 1e-6.
    Leaving one survivor's share out (variance 2σ²/3) must fail the same test."""
    z, c, size = 1.5, 1.0, 20_000
    mean, _, seeds, noise, _ = _round(np.zeros((5, size)), dropped={0, 2}, z=z, c=c)
    noise_on_sum = mean * 5
    assert _chi_square_passes(noise_on_sum, z * c)
    one_left_out = noise_on_sum - _expected_share(seeds[4], 3, noise.share_std, size)
    assert not _chi_square_passes(one_left_out, z * c)


def test_a_round_short_of_noise_is_refused_by_the_setup_and_the_server():
    X = np.ones((5, 4))
    with pytest.raises(SecureAggregationError, match="the noise needs at least 3 shares"):
        _round(X, dropped={1, 2, 3})
    _, _, _, _, rounds = _round(X, dropped={1, 3})
    setup = rounds.setup
    assert "2 of 5 children survived; the noise needs at least 3 shares" in (
        setup.unrecoverable([0, 4])
    )
    assert setup.unrecoverable([0, 2, 4]) is None
    plain = dataclasses.replace(setup, private=None)  # the same round without DP
    assert "the noise" not in plain.unrecoverable([0, 4])


def _held(value, seen):
    """Every array reachable from ``value``'s attributes (as tests/secure/test_protocol.py
    walks the server object)."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for item in (*value.keys(), *value.values()):
            yield from _held(item, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _held(item, seen)
    elif hasattr(value, "__dict__"):
        yield from _held(vars(value), seen)


def test_the_server_object_holds_no_update_no_noisy_update_and_no_encoding():
    X = np.random.default_rng(3).normal(size=(5, 30))
    _, _, seeds, noise, rounds = _round(X, dropped={2})
    codec = rounds.setup.codec
    arrays = list(_held(rounds.server, set()))
    assert any(a is rounds.server.total for a in arrays)  # the walk reaches the sum
    for k in range(5):
        clipped = _clip(X[k], 1.0)
        noisy = clipped + _expected_share(seeds[k], 3, noise.share_std, 30)
        for secret in (X[k], clipped, noisy):
            assert not any(a.shape == secret.shape and np.allclose(a, secret) for a in arrays)
        encoded = codec.encode(np.append(noisy, 1.0))
        assert not any(np.array_equal(a, encoded) for a in arrays)


@pytest.fixture(scope="module")
def shards():
    data = load_dataset("digits")
    cuts = [0, 101, 301, 551, 700, 900]
    return [(data.X[a:b], data.y[a:b]) for a, b in itertools.pairwise(cuts)]


def _factory():
    return dp.LogisticRegression(learning_rate=0.5, classes=np.arange(10))


PRIVACY = DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.2)


def _job(shards, **options):
    settings = dict(
        strategy="model_parameters",
        rounds=3,
        random_state=0,
        local_iterations=2,
        privacy=PRIVACY,
        secure_aggregation=True,
    )
    settings.update(options)
    return dp.train_distributed(_factory, shards, **settings)


def test_the_worker_masks_clipped_updates_and_the_job_applies_their_noisy_mean(shards, monkeypatch):
    """One round: every vector the client masks has norm <= C; the new main parameters
    are main + (Σ masked inputs + Σ noise shares) / m, to the fixed-point precision."""
    import datapredict.secure.client as client_module

    inputs, mains = {}, []
    original_mask, original_block = SecAggClient.mask, client_module.mask_block

    def spy_mask(self, update, weight, setup):
        inputs[self.child] = np.array(update, dtype=np.float64)
        assert weight == 1.0
        return original_mask(self, update, weight, setup)

    def spy_block(block, results, main, setup, seeds):
        mains.append(main.copy())
        return original_block(block, results, main, setup, seeds)

    monkeypatch.setattr(SecAggClient, "mask", spy_mask)
    monkeypatch.setattr(client_module, "mask_block", spy_block)
    result = _job(shards, rounds=1, children_per_round=4)
    children = result.history[0].children
    assert sorted(inputs) == children and len(children) == 4
    norms = [np.linalg.norm(u) for u in inputs.values()]
    assert max(norms) <= 0.5 * (1 + 1e-12) and min(norms) > 0.49  # digits' updates are large
    seeds = np.random.SeedSequence(0).spawn(len(shards) + 1)[1:]
    std = 1.2 * 0.5 / np.sqrt(SecureAggregation().shares_needed(4))
    size = mains[0].size
    total = sum(inputs[k] + _expected_share(seeds[k], 0, std, size) for k in children)
    expected = mains[0] + total / 4
    assert np.abs(result.main_parameters.ravel() - expected).max() <= 4 * 2.0**-33 / 4 + 1e-12


def test_the_server_holds_only_masked_vectors(shards, monkeypatch):
    from datapredict.coordinators.host import LocalCoordinator

    received, servers = [], []
    original_apply, original_finish = LocalCoordinator._apply_secure, SecureRounds.finish

    def spy_apply(self, results):
        received.extend(r.vector().copy() for r in results)
        return original_apply(self, results)

    def spy_finish(self, results):
        out = original_finish(self, results)
        servers.append(self.server)
        return out

    monkeypatch.setattr(LocalCoordinator, "_apply_secure", spy_apply)
    monkeypatch.setattr(SecureRounds, "finish", spy_finish)
    result = _job(shards, rounds=1)
    assert len(received) == 5
    for vector in received:
        assert vector.dtype == np.uint64 and vector.shape == (result.main_parameters.size + 1,)
        top = (vector >> np.uint64(56)).astype(int)  # unmasked small values: 0 or 255
        assert len(np.unique(top)) > 64
    server = servers[0]
    assert set(vars(server)) == {
        "round", "participants", "graph", "threshold", "codec", "public", "mask_keys",
        "share_keys", "mailbox", "total", "received", "result",
    }  # fmt: skip
    arrays = [server.total, server.result]
    assert server.total.dtype == np.uint64 and server.result.size == server.total.size
    assert all(a.shape == received[0].shape for a in arrays)  # sums, not one child's
    assert not any(np.array_equal(server.total, v) for v in received)


def test_epsilon_and_calibration_equal_the_central_runs(shards):
    options = dict(children_per_round=4, rounds=3)
    secure = _job(shards, **options)
    central = _job(shards, secure_aggregation=None, **options)
    expected = [epsilon(1.2, 5, 4, r + 1, 1e-5) for r in range(3)]
    np.testing.assert_array_equal(secure.history["epsilon"], expected)
    np.testing.assert_array_equal(central.history["epsilon"], expected)
    assert secure.privacy == central.privacy
    target = DifferentialPrivacy(clip_norm=0.5, target_epsilon=30.0)
    calibrated = _job(shards, privacy=target, strategy="gradients", **options)
    central = _job(shards, privacy=target, strategy="gradients", secure_aggregation=None, **options)
    assert calibrated.privacy == central.privacy and calibrated.privacy.epsilon <= 30.0
    stopping = DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.2, target_epsilon=expected[1])
    stopped = _job(shards, privacy=stopping, **options)
    assert len(stopped.history) == 2 and stopped.privacy.stopped is not None


def test_inline_and_threads_agree_to_the_last_bit(shards):
    options = dict(strategy="gradients", children_per_round=4)
    inline = _job(shards, **options)
    threads = _job(shards, backend=ThreadsBackend(3), **options)
    np.testing.assert_array_equal(inline.main_parameters, threads.main_parameters)
    assert [r.children for r in inline.history] == [r.children for r in threads.history]


def test_a_resumed_job_equals_the_uninterrupted_one(shards, tmp_path):
    options = dict(rounds=4, children_per_round=4)
    uninterrupted = _job(shards, **options)

    class Crash(Exception):
        pass

    def crash_after_round_1(record):
        if record.round == 1:
            raise Crash

    with pytest.raises(Crash):
        _job(shards, checkpoint=tmp_path, callback=crash_after_round_1, **options)
    resumed = _job(shards, checkpoint=dp.Checkpointing(tmp_path, resume_from=tmp_path), **options)
    assert [r.round for r in resumed.history] == [2, 3]
    np.testing.assert_array_equal(resumed.main_parameters, uninterrupted.main_parameters)
    np.testing.assert_array_equal(resumed.history["epsilon"], uninterrupted.history["epsilon"][2:])


class _Failing(dp.LogisticRegression):
    """Fails in train() on shards of 101 rows (after the round's setup)."""

    def train(self, X, y):
        if len(X) == 101:
            raise RuntimeError("battery died")
        return super().train(X, y)


def test_dropouts_up_to_t_are_applied_and_beyond_t_refused(shards):
    def failing():
        return _Failing(learning_rate=0.5, classes=np.arange(10))

    option = SecureAggregation(neighbours="all")  # m = 5: t = 2
    one = dp.train_distributed(
        failing, shards, strategy="model_parameters", rounds=1, privacy=PRIVACY,
        secure_aggregation=option,
    )  # fmt: skip
    assert one.history[0].children == [1, 2, 3, 4] and one.version == 2
    cut = [(X[:101], y[:101]) for X, y in shards[1:3]] + list(shards[3:])
    two = dp.train_distributed(
        failing, cut, strategy="model_parameters", rounds=1, privacy=PRIVACY,
        secure_aggregation=option,
    )  # fmt: skip
    assert two.version == 1  # 2 of 4 dropped out (t = 1): not applied
    assert "the noise needs at least 3 shares" in two.history[0].failures[-1]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"privacy": DifferentialPrivacy(noise_multiplier=1.0, adaptive=dp.AdaptiveClipping())},
            "'adaptive' option of DifferentialPrivacy",
        ),
        ({"mode": "async"}, "'mode' option of train_distributed"),
        ({"merger": "fedavg"}, "'merger' option of train_distributed"),
        (
            {"secure_aggregation": SecureAggregation(noise_std=0.1)},
            "'noise_std' option of SecureAggregation",
        ),
        (
            {"quorum": dp.Quorum(min_children=2, round_timeout=1.0)},
            "'min_children' option of Quorum",
        ),
        (
            {"secure_aggregation": SecureAggregation(range=1.0)},  # C + 10 std > 1
            "'range' option of SecureAggregation",
        ),
    ],
)
def test_bad_combinations_are_refused_naming_the_option(shards, options, match, monkeypatch):
    from datapredict import training

    def no_backend(*args):
        raise AssertionError("work started")

    monkeypatch.setattr(training, "_make_backend", no_backend)
    with pytest.raises(InvalidOptionError, match=match):
        _job(shards, **options)
