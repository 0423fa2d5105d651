"""train_distributed(compression=...): bytes per round, the same result on every
in-process backend, resuming, async mode, accuracy on digits, the worker's residuals,
what a Ray worker returns, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import datapredict as dp
from datapredict.backends.base import JobSpec, Shards
from datapredict.backends.threads import ThreadsBackend
from datapredict.backends.worker import PoolWorker
from datapredict.compression import (
    Payload,
    StochasticQuantizer,
    TopK,
    decode_push,
    encode_push,
    push_seed,
    resolve_compressor,
)
from datapredict.datasets import load_dataset, split, train_test_split
from datapredict.errors import InvalidOptionError
from datapredict.parameters import Layout

CLASSES = np.arange(10)
P = 65 * 10  # digits' logistic regression: (64 features + intercept) x 10 classes, float64


@pytest.fixture(scope="module")
def digits():
    """Five IID shards of digits' training part, and its test part."""
    data = load_dataset("digits")
    X, X_test, y, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0)
    return split(X, y, 5, how="iid", random_state=0), (X_test, y_test)


def _factory():
    return dp.LogisticRegression(learning_rate=0.5, classes=CLASSES)


# ------------------------------------------------------------------------ the names
def test_names_resolve_to_compressors_and_objects_pass_through():
    assert resolve_compressor(None) is None
    assert resolve_compressor("INT8") == StochasticQuantizer(8)
    assert resolve_compressor("int4") == StochasticQuantizer(4)
    assert resolve_compressor("topk") == TopK(0.01)
    assert resolve_compressor(" topk:0.05 ") == TopK(0.05)
    mine = TopK(0.2, error_feedback=False)
    assert resolve_compressor(mine) is mine
    assert [resolve_compressor(n).name for n in ("int8", "int4", "topk:0.01")] == [
        "int8",
        "int4",
        "topk:0.01",
    ]


@pytest.mark.parametrize(
    "value", ["int16", "topk:0", "topk:1.5", "topk:x", "topk:", "top", 8, object()]
)
def test_bad_compression_is_refused_before_any_work_naming_the_option(digits, value):
    with pytest.raises(InvalidOptionError, match="'compression' option of train_distributed"):
        dp.train_distributed(_factory, digits[0], compression=value)


def test_compression_with_secure_aggregation_is_refused(digits):
    with pytest.raises(InvalidOptionError, match="None with secure_aggregation"):
        dp.train_distributed(
            _factory, digits[0], compression="int8", secure_aggregation=True, merger="fedavg"
        )


# ------------------------------------------------------------------- the push helpers
def test_push_seeds_depend_on_the_child_and_the_version_only():
    first, second = np.random.SeedSequence(7).spawn(2)
    draw = lambda seed: np.random.default_rng(seed).integers(2**62)  # noqa: E731
    assert draw(push_seed(first, 3)) == draw(push_seed(np.random.SeedSequence(7).spawn(2)[0], 3))
    seen = {draw(push_seed(s, v)) for s in (first, second) for v in range(5)}
    assert len(seen) == 10
    assert draw(push_seed(first, 0)) != draw(first.spawn(1)[0])  # not the child's own stream


def test_an_update_is_sent_from_main_and_main_is_added_back():
    rng = np.random.default_rng(0)
    main, params = rng.standard_normal(100), rng.standard_normal(100)
    payload, residual = encode_push(TopK(1.0), params, main, None, push_seed(1, 0))
    np.testing.assert_array_equal(payload.decode(), params - main)
    np.testing.assert_allclose(decode_push(payload, main), params, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(residual, 0.0)
    payload, _ = encode_push(StochasticQuantizer(8), params, None, None, push_seed(1, 0))
    assert np.abs(decode_push(payload, None) - params).max() <= np.abs(params).max() / 127


# ----------------------------------------------------------------- bytes per round
@pytest.mark.parametrize(
    ("compression", "per_push"),
    [(None, P * 8), ("int8", P + 8), ("int4", P // 2 + 8), ("topk:0.01", 6 * (4 + 8))],
)
@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_bytes_sent_per_round_are_the_pushes_bytes(digits, strategy, compression, per_push):
    result = dp.train_distributed(
        _factory,
        digits[0],
        strategy=strategy,
        rounds=3,
        random_state=0,
        compression=compression,
        children_per_round=3,
        local_iterations=2,
    )
    assert list(result.history["bytes_sent"]) == [3 * per_push] * 3
    assert result.history.as_dicts()[0]["bytes_sent"] == 3 * per_push


# ------------------------------------------------------------- the same everywhere
@pytest.mark.parametrize("compression", ["int8", "int4", "topk:0.01"])
@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_inline_and_threads_give_the_same_parameters_to_the_last_bit(digits, strategy, compression):
    options = dict(
        strategy=strategy,
        rounds=6,
        random_state=3,
        compression=compression,
        children_per_round=0.6,
        local_iterations=3,
    )
    inline = dp.train_distributed(_factory, digits[0], **options)
    threads = dp.train_distributed(
        _factory, digits[0], backend=ThreadsBackend(num_workers=2), **options
    )
    plain = dp.train_distributed(_factory, digits[0], **{**options, "compression": None})
    np.testing.assert_array_equal(inline.main_parameters, threads.main_parameters)
    assert not np.array_equal(inline.main_parameters, plain.main_parameters)  # it compressed
    assert [r.children for r in inline.history] == [r.children for r in plain.history]


def test_a_resumed_quantised_job_equals_the_uninterrupted_one(tmp_path, digits):
    """The rounding's randomness comes from (child's seed, version): a resumed job
    draws what the uninterrupted one drew."""
    options = dict(strategy="gradients", rounds=6, random_state=0, compression="int4")
    uninterrupted = dp.train_distributed(_factory, digits[0], **options)

    class Crash(Exception):
        pass

    def crash_after_round_3(record):
        if record.round == 3:
            raise Crash

    with pytest.raises(Crash):
        dp.train_distributed(
            _factory, digits[0], checkpoint=tmp_path, callback=crash_after_round_3, **options
        )
    resumed = dp.train_distributed(
        _factory, digits[0], checkpoint=dp.Checkpointing(tmp_path, resume_from=tmp_path), **options
    )
    assert [r.round for r in resumed.history] == [4, 5]
    np.testing.assert_array_equal(resumed.main_parameters, uninterrupted.main_parameters)


@pytest.mark.parametrize("strategy", ["gradients", "model_parameters"])
def test_async_jobs_compress_and_count_their_bytes(digits, strategy):
    result = dp.train_distributed(
        _factory,
        digits[0],
        strategy=strategy,
        mode="async",
        rounds=4,
        random_state=0,
        compression="int8",
        backend=ThreadsBackend(num_workers=2),
        local_iterations=2,
        eval_data=digits[1],
    )
    assert list(result.history["bytes_sent"]) == [5 * (P + 8)] * 4
    assert result.history[-1].metric > 0.8


# ------------------------------------------------------------------------ accuracy
def test_digits_accuracy_within_a_point_at_8_bits_and_two_at_top_1_percent(digits):
    """Against the same uncompressed job: 8 bits within 1 point, top-1 % with error
    feedback within 2 points (the issue's bars); top-1 % without error feedback loses
    several points, which is what error feedback is for."""
    shards, (X_test, y_test) = digits
    scores = {}
    for strategy, rounds in (("gradients", 100), ("model_parameters", 30)):
        for compression in (None, "int8", "topk:0.01", TopK(0.01, error_feedback=False)):
            result = dp.train_distributed(
                _factory,
                shards,
                strategy=strategy,
                rounds=rounds,
                random_state=0,
                compression=compression,
                local_iterations=10,
            )
            name = getattr(compression, "name", compression) or "none"
            if isinstance(compression, TopK):
                name += " (no error feedback)"
            scores[strategy, name] = result.model.score(X_test, y_test)
    print("\ndigits test accuracy:", {f"{s} {n}": round(v, 4) for (s, n), v in scores.items()})
    for strategy in ("gradients", "model_parameters"):
        plain = scores[strategy, "none"]
        assert abs(scores[strategy, "int8"] - plain) <= 0.01
        assert scores[strategy, "topk:0.01"] >= plain - 0.02
        assert scores[strategy, "topk:0.01 (no error feedback)"] < plain - 0.02


# ------------------------------------------------------------------------ the worker
def _worker(digits, compression, strategy="gradients"):
    main = _factory()
    main.initialize(64, CLASSES)
    layout = Layout.from_template(main.get_model_parameters())
    job = JobSpec(_factory, strategy, 2, 64, CLASSES, layout, compression)
    shards = Shards.of(digits[0], np.random.SeedSequence(0).spawn(5))
    return PoolWorker(job, shards), layout.flatten(main.get_model_parameters())


def test_the_worker_keeps_each_childs_residual_and_forgets_it_with_the_child(digits):
    worker, main = _worker(digits, TopK(0.01))
    results = worker.work([0, 2], main, 0)
    assert sorted(worker.residuals) == [0, 2]
    assert all(isinstance(r.vector(), Payload) for r in results)
    assert [r.nbytes for r in results] == [6 * 12, 6 * 12]
    residual = worker.residuals[0]
    worker.work([0], main, 1)
    assert worker.residuals[0] is not residual and np.abs(worker.residuals[0]).sum() > 0
    worker.forget(0)
    assert sorted(worker.residuals) == [2]


def test_what_a_ray_worker_returns_for_the_coordinator_is_the_payloads(digits):
    """The Ray actor's body, without Ray: the block it returns (the object that goes to
    the coordinator's actor) is the list of payloads, not a float array."""
    from datapredict.backends.ray.actor import WorkerActor

    worker, main = _worker(digits, StochasticQuantizer(4), "model_parameters")
    actor = WorkerActor(0)
    actor._worker, actor._job_id = worker, "job"

    class Ref:
        def hex(self):
            return "job"

    metas, block = actor.work([Ref(), Ref()], [1, 3], main, 0)
    assert all(m.payload is None for m in metas)
    assert isinstance(block, list) and all(isinstance(p, Payload) for p in block)
    assert sum(p.nbytes for p in block) == 2 * (P // 2 + 8) == sum(m.nbytes for m in metas)
