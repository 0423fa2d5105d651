"""train_distributed(privacy=...): ε in the history, the stop at a target, the fixed
denominator under a quorum, resume, backends to the last bit, and digits accuracy at
ε = 8 against the same job without privacy."""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
import pytest

pytest.importorskip("dp_accounting")

import datapredict as dp
from datapredict.backends import ThreadsBackend
from datapredict.datasets import load_dataset, split, train_test_split
from datapredict.privacy import (
    AdaptiveClipping,
    DifferentialPrivacy,
    PrivateMean,
    epsilon,
    gaussian_noise,
    release_seed,
)


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X, X_test, y, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0)
    return X, y, X_test, y_test


def _factory(classes):
    return partial(dp.LogisticRegression, learning_rate=0.5, classes=classes)


def _small_job(digits, **options):
    X, y, _, _ = digits
    shards = split(X[:400], y[:400], 40, random_state=0)
    settings = dict(rounds=4, children_per_round=10, random_state=0, local_iterations=2)
    settings.update(options)
    return dp.train_distributed(_factory(np.unique(y)), shards, **settings)


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_history_records_epsilon_after_every_round(digits, strategy):
    privacy = DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.3)
    result = _small_job(digits, strategy=strategy, privacy=privacy)
    expected = [epsilon(1.3, 40, 10, r + 1, 1e-5) for r in range(4)]
    np.testing.assert_array_equal(result.history["epsilon"], expected)
    assert result.privacy.epsilon == expected[-1] and result.privacy.delta == 1e-5
    assert result.privacy.rounds == 4 and result.privacy.stopped is None
    plain = _small_job(digits, strategy=strategy)
    assert np.isnan(plain.history["epsilon"]).all() and plain.privacy is None
    assert not np.array_equal(plain.main_parameters, result.main_parameters)


def test_calibrated_noise_keeps_the_target(digits):
    result = _small_job(digits, privacy=DifferentialPrivacy(target_epsilon=5.0))
    assert result.privacy.epsilon <= 5.0
    assert len(result.history) == 4
    z = result.privacy.noise_multiplier
    assert epsilon(z * 0.999, 40, 10, 4, 1e-5) > 5.0


def test_training_stops_before_the_round_that_would_exceed_the_target(digits):
    target = epsilon(1.0, 40, 10, 2, 1e-5) * 1.0001  # two rounds fit, not three
    privacy = DifferentialPrivacy(noise_multiplier=1.0, target_epsilon=target)
    result = _small_job(digits, privacy=privacy, rounds=6)
    assert [r.round for r in result.history] == [0, 1]
    assert result.privacy.rounds == 2 and result.privacy.epsilon <= target
    assert "round 2 would take epsilon" in result.privacy.stopped


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
@pytest.mark.parametrize("adaptive", [None, AdaptiveClipping(count_noise=2.0)])
def test_threads_equal_inline_to_the_last_bit(digits, strategy, adaptive):
    privacy = DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.0, adaptive=adaptive)
    inline = _small_job(digits, strategy=strategy, privacy=privacy)
    threads = _small_job(
        digits,
        strategy=strategy,
        privacy=privacy,
        backend=ThreadsBackend(num_workers=3),
    )
    np.testing.assert_array_equal(threads.main_parameters, inline.main_parameters)
    np.testing.assert_array_equal(threads.history["epsilon"], inline.history["epsilon"])


class _Crash(Exception):
    pass


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_resume_continues_like_an_uninterrupted_job(digits, tmp_path, strategy):
    """With adaptive clipping: the clip norm and the noise's release index come back
    from the checkpoint, so the resumed job ends on the same parameters."""
    privacy = DifferentialPrivacy(
        clip_norm=0.3, noise_multiplier=1.0, adaptive=AdaptiveClipping(count_noise=2.0)
    )
    options = dict(strategy=strategy, privacy=privacy, rounds=5)
    uninterrupted = _small_job(digits, **options)

    def crash_after_round_2(record):
        if record.round == 2:
            raise _Crash

    with pytest.raises(_Crash):
        _small_job(digits, checkpoint=tmp_path, callback=crash_after_round_2, **options)
    resumed = _small_job(
        digits, checkpoint=dp.Checkpointing(tmp_path, resume_from=tmp_path), **options
    )
    assert [r.round for r in resumed.history] == [3, 4]
    np.testing.assert_array_equal(resumed.main_parameters, uninterrupted.main_parameters)
    np.testing.assert_array_equal(resumed.history["epsilon"], uninterrupted.history["epsilon"][3:])
    assert resumed.privacy.epsilon == uninterrupted.privacy.epsilon
    again = _small_job(
        digits, checkpoint=dp.Checkpointing(tmp_path, resume_from=tmp_path), **options
    )  # nothing left to run: the report still counts the rounds done before
    assert len(again.history) == 0 and again.privacy.rounds == 5
    assert again.privacy.epsilon == uninterrupted.privacy.epsilon


def test_a_quorum_round_still_divides_by_the_children_per_round():
    """Two of four expected steps arrive: the mean is their sum over 4, plus the noise
    of release 0 (the coordinator's core, as a quorum's close_round drives it)."""
    seed = np.random.SeedSequence(1)
    server = dp.DistributedGradients(aggregation="sync", num_children=4)
    private = PrivateMean(clip_norm=1.0, noise_multiplier=0.5, per_round=4, seed=seed)
    core = server.core
    core.configure(chain=dataclasses.replace(core.chain, privacy=private))
    server.set_model_parameters(np.zeros(3))
    server.add_gradients(np.array([3.0, 4.0, 0.0]))  # clipped to (0.6, 0.8, 0)
    server.add_gradients(np.array([0.0, 0.0, 0.5]))
    assert server.apply_pending()
    noise = gaussian_noise(3, 0.5 * 1.0 / 4, release_seed(seed, 0))
    expected = -(np.array([0.6, 0.8, 0.5]) / 4 + noise)
    np.testing.assert_allclose(server.get_model_parameters(), expected, rtol=1e-14)
    assert core.privacy_state.releases == 1


def test_digits_accuracy_at_epsilon_8_against_the_non_private_job(digits):
    """300 children of ~4.5 rows each, 60 sampled per round (q = 0.2), 30 rounds of
    FedAvg (5 local steps); ε = 8 at δ = 1e-5 calibrates z ≈ 3.2. Measured: 0.931
    without privacy, 0.876 with it; the test allows a gap of 8 points."""
    X, y, X_test, y_test = digits
    shards = split(X, y, 300, random_state=0)
    options = dict(
        strategy="model_parameters",
        rounds=30,
        children_per_round=60,
        local_iterations=5,
        random_state=0,
    )
    plain = dp.train_distributed(_factory(np.unique(y)), shards, **options)
    private = dp.train_distributed(
        _factory(np.unique(y)),
        shards,
        privacy=DifferentialPrivacy(clip_norm=1.0, target_epsilon=8.0, delta=1e-5),
        **options,
    )
    plain_accuracy = plain.model.score(X_test, y_test)
    private_accuracy = private.model.score(X_test, y_test)
    print(
        f"digits: accuracy {plain_accuracy:.4f} without privacy, {private_accuracy:.4f} at "
        f"epsilon={private.privacy.epsilon:.3f} (z={private.privacy.noise_multiplier:.3f})"
    )
    assert 7.9 < private.privacy.epsilon <= 8.0
    assert plain_accuracy > 0.9
    assert private_accuracy > plain_accuracy - 0.08


def test_a_server_optimizer_post_processes_the_private_mean():
    """FedAvgM after DP-FedAvg: its pseudo-gradient is the private target minus main,
    checked on the core against the optimizer applied by hand."""
    seed = np.random.SeedSequence(2)
    optimizer = dp.merge.server_optimizers.FedAvgM(learning_rate=0.5, momentum=0.9)
    coordinator = dp.DistributedModelParameters(2, server_optimizer=optimizer)
    private = PrivateMean(clip_norm=1.0, noise_multiplier=0.7, per_round=2, seed=seed)
    core = coordinator.core
    core.configure(chain=dataclasses.replace(core.chain, privacy=private))
    main = np.array([1.0, 2.0, 3.0])
    coordinator.set_main_model_parameters(main)
    state = optimizer.init(main)
    pushes = [main + np.array([3.0, 4.0, 0.0]), main + np.array([0.0, 0.1, 0.0])]
    target, _ = private.aggregate(np.array(pushes), private.init(), main)
    expected, _ = optimizer.update(target, state, main)
    for push in pushes:
        coordinator.add_model_parameters(push)
    np.testing.assert_array_equal(coordinator.get_main_model_parameters(), expected)


def test_privacy_composes_with_compression(digits):
    """Compressed updates are decoded before the private mean clips and noises them."""
    privacy = DifferentialPrivacy(clip_norm=0.5, noise_multiplier=1.0)
    kwargs = dict(strategy="model_parameters", privacy=privacy)
    compressed = _small_job(digits, compression="int8", **kwargs)
    plain = _small_job(digits, **kwargs)
    assert compressed.history["bytes_sent"][0] < plain.history["bytes_sent"][0] / 4
    np.testing.assert_array_equal(compressed.history["epsilon"], plain.history["epsilon"])
    assert np.abs(compressed.main_parameters - plain.main_parameters).max() < 0.05
