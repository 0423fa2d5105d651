"""Tests for datapredict.merge.server_optimizers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datapredict.errors import InvalidOptionError, ParameterStructureError
from datapredict.merge.server_optimizers import (
    SERVER_OPTIMIZERS,
    FedAdagrad,
    FedAdam,
    FedAvgM,
    FedAvgMState,
    FedOptState,
    FedYogi,
    Replace,
    ReplaceState,
    ServerOptimizer,
    resolve_server_optimizer,
)

ALL_OPTIMIZERS = [
    Replace(),
    FedAvgM(learning_rate=0.7, momentum=0.8),
    FedAdagrad(learning_rate=0.3, tau=0.05, beta1=0.4),
    FedAdam(learning_rate=0.2, beta1=0.8, beta2=0.95, tau=0.01),
    FedYogi(learning_rate=0.1, beta1=0.85, beta2=0.9, tau=0.02),
]
IDS = [type(optimizer).__name__ for optimizer in ALL_OPTIMIZERS]


def run(optimizer, params, merged_sequence):
    """Apply ``optimizer`` to each merged vector in turn; return (params, state)."""
    state = optimizer.init(params)
    for merged in merged_sequence:
        params, state = optimizer.update(np.asarray(merged, dtype=float), state, params)
    return params, state


def sign(value: float) -> float:
    return float((value > 0) - (value < 0))


def reference_run(optimizer, x0, merged_sequence):
    """Independent element-by-element implementation of Reddi et al. / Hsu et al."""
    x = [float(value) for value in x0]
    merged_sequence = [[float(value) for value in merged] for merged in merged_sequence]
    size = len(x)
    name = type(optimizer).__name__
    if name == "Replace":
        return [float(value) for value in merged_sequence[-1]]
    if name == "FedAvgM":
        velocity = [0.0] * size
        for merged in merged_sequence:
            for i in range(size):
                delta = merged[i] - x[i]
                velocity[i] = optimizer.momentum * velocity[i] + delta
                x[i] = x[i] + optimizer.learning_rate * velocity[i]
        return x
    tau, beta1 = optimizer.tau, optimizer.beta1
    m = [0.0] * size
    v = [tau * tau] * size
    for merged in merged_sequence:
        for i in range(size):
            delta = merged[i] - x[i]
            m[i] = beta1 * m[i] + (1 - beta1) * delta
            if name == "FedAdagrad":
                v[i] = v[i] + delta * delta
            elif name == "FedAdam":
                v[i] = optimizer.beta2 * v[i] + (1 - optimizer.beta2) * delta * delta
            else:
                v[i] = v[i] - (1 - optimizer.beta2) * delta * delta * sign(v[i] - delta * delta)
            x[i] = x[i] + optimizer.learning_rate * m[i] / (math.sqrt(v[i]) + tau)
    return x


# Hand-computed sequences -------------------------------------------------------------


def test_replace_returns_merged():
    params = np.array([1.0, 2.0])
    merged = np.array([3.0, -4.0])
    new_params, state = Replace().update(merged, Replace().init(params), params)
    np.testing.assert_array_equal(new_params, merged)
    assert state == ReplaceState(count=1)


def test_fedavgm_hand_computed():
    optimizer = FedAvgM(learning_rate=0.5, momentum=0.5)
    params = np.array([0.0, 1.0])
    state = optimizer.init(params)
    # delta = [2, 1] - [0, 1] = [2, 0]; v = 0.5 * 0 + [2, 0] = [2, 0]; x = [0, 1] + 0.5 * v
    params, state = optimizer.update(np.array([2.0, 1.0]), state, params)
    np.testing.assert_array_equal(params, [1.0, 1.0])
    np.testing.assert_array_equal(state.momentum, [2.0, 0.0])
    # delta = [1, 0]; v = 0.5 * [2, 0] + [1, 0] = [2, 0]; x = [1, 1] + 0.5 * [2, 0]
    params, state = optimizer.update(np.array([2.0, 1.0]), state, params)
    np.testing.assert_array_equal(params, [2.0, 1.0])
    # delta = [0, 2]; v = 0.5 * [2, 0] + [0, 2] = [1, 2]; x = [2, 1] + 0.5 * [1, 2]
    params, state = optimizer.update(np.array([2.0, 3.0]), state, params)
    np.testing.assert_array_equal(params, [2.5, 2.0])
    np.testing.assert_array_equal(state.momentum, [1.0, 2.0])
    assert state.count == 3


def test_fedadagrad_hand_computed():
    # tau = 3 so v starts at 9; deltas 4, 12, 84 keep sqrt(v) whole: 5, 13, 85.
    optimizer = FedAdagrad(learning_rate=2.0, tau=3.0)  # beta1 = 0: m = delta
    params = np.array([0.0, 1.0])
    state = optimizer.init(params)
    np.testing.assert_array_equal(state.v, [9.0, 9.0])
    # delta = [4, 0]; v = [9 + 16, 9] = [25, 9]; x = [0, 1] + 2 * [4 / (5 + 3), 0]
    params, state = optimizer.update(np.array([4.0, 1.0]), state, params)
    np.testing.assert_array_equal(params, [1.0, 1.0])
    np.testing.assert_array_equal(state.v, [25.0, 9.0])
    # delta = [12, 0]; v = [25 + 144, 9] = [169, 9]; x = [1, 1] + 2 * [12 / (13 + 3), 0]
    params, state = optimizer.update(np.array([13.0, 1.0]), state, params)
    np.testing.assert_array_equal(params, [2.5, 1.0])
    # delta = [84, 0]; v = [169 + 7056, 9] = [7225, 9]; x = [2.5, 1] + 2 * [84 / (85 + 3), 0]
    params, state = optimizer.update(np.array([86.5, 1.0]), state, params)
    np.testing.assert_allclose(params, [2.5 + 2 * 84 / 88, 1.0], rtol=1e-15)
    np.testing.assert_array_equal(state.m, [84.0, 0.0])
    np.testing.assert_array_equal(state.v, [7225.0, 9.0])


def test_fedadam_hand_computed():
    # tau = 1 so v starts at 1; beta2 = 0.5 and deltas 7, 35 keep sqrt(v) whole: 5, 25.
    optimizer = FedAdam(learning_rate=1.0, beta1=0.5, beta2=0.5, tau=1.0)
    params = np.array([0.0, 0.0])
    state = optimizer.init(params)
    # delta = [7, 0]; m = 0.5 * [7, 0] = [3.5, 0]; v = 0.5 * [1, 1] + 0.5 * [49, 0] = [25, 0.5]
    # x = [3.5 / (5 + 1), 0]
    params, state = optimizer.update(np.array([7.0, 0.0]), state, params)
    np.testing.assert_allclose(params, [7 / 12, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(state.m, [3.5, 0.0])
    np.testing.assert_array_equal(state.v, [25.0, 0.5])
    # delta = [35, 0]; m = [1.75 + 17.5, 0] = [19.25, 0]; v = [12.5 + 612.5, 0.25] = [625, 0.25]
    # x = [7/12 + 19.25 / (25 + 1), 0]
    params, state = optimizer.update(np.array([7 / 12 + 35.0, 0.0]), state, params)
    np.testing.assert_allclose(params, [7 / 12 + 19.25 / 26, 0.0], rtol=1e-14)
    np.testing.assert_allclose(state.m, [19.25, 0.0], rtol=1e-14)
    np.testing.assert_allclose(state.v, [625.0, 0.25], rtol=1e-14)
    assert state.count == 2


def test_fedyogi_hand_computed():
    optimizer = FedYogi(learning_rate=1.0, beta1=0.5, beta2=0.5, tau=1.0)
    params = np.array([0.0, 0.0])
    state = optimizer.init(params)
    # delta = [4, 1]; m = [2, 0.5]
    # v0 = 1: coord 0: 1 - 0.5 * 16 * sign(1 - 16) = 9; coord 1: delta**2 == v, sign 0, v = 1
    # x = [2 / (3 + 1), 0.5 / (1 + 1)] = [0.5, 0.25]
    params, state = optimizer.update(np.array([4.0, 1.0]), state, params)
    np.testing.assert_array_equal(params, [0.5, 0.25])
    np.testing.assert_array_equal(state.m, [2.0, 0.5])
    np.testing.assert_array_equal(state.v, [9.0, 1.0])
    # delta = [2, 0]; m = [1 + 1, 0.25] = [2, 0.25]
    # v: coord 0: 9 - 0.5 * 4 * sign(9 - 4) = 7 (v shrinks towards delta**2); coord 1: 1
    # x = [0.5 + 2 / (sqrt(7) + 1), 0.25 + 0.25 / 2]
    params, state = optimizer.update(np.array([2.5, 0.25]), state, params)
    np.testing.assert_allclose(params, [0.5 + 2 / (math.sqrt(7) + 1), 0.375], rtol=1e-15)
    np.testing.assert_array_equal(state.v, [7.0, 1.0])


def test_fedavgm_without_momentum_equals_replace():
    rng = np.random.default_rng(0)
    params = rng.normal(size=20)
    sequence = rng.normal(size=(5, 20))
    momentumless, _ = run(FedAvgM(learning_rate=1.0, momentum=0.0), params, sequence)
    replaced, _ = run(Replace(), params, sequence)
    np.testing.assert_allclose(momentumless, replaced, rtol=0, atol=1e-15)


# Against the independent reference ------------------------------------------------


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=IDS)
def test_matches_loop_reference_over_50_steps(optimizer):
    rng = np.random.default_rng(42)
    params = rng.normal(size=7)
    params_now = params.copy()
    sequence = []
    state = optimizer.init(params_now)
    for _ in range(50):
        merged = params_now + rng.normal(scale=rng.uniform(0.01, 2.0), size=7)
        sequence.append(merged)
        params_now, state = optimizer.update(merged, state, params_now)
    expected = reference_run(optimizer, params, sequence)
    np.testing.assert_allclose(params_now, expected, rtol=1e-12, atol=1e-12)
    assert state.count == 50


def test_descent_step_through_merged():
    # The gradients path: merged = params - step.
    params = np.array([1.0, 2.0])
    step = np.array([0.25, -0.5])
    new_params, _ = Replace().update(params - step, Replace().init(params), params)
    np.testing.assert_array_equal(new_params, [0.75, 2.5])
    optimizer = FedAvgM(learning_rate=1.0, momentum=0.5)
    new_params, state = optimizer.update(params - step, optimizer.init(params), params)
    np.testing.assert_array_equal(state.momentum, -step)


# Properties ----------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=IDS)
def test_update_is_pure(optimizer):
    rng = np.random.default_rng(1)
    params = rng.normal(size=6)
    merged = rng.normal(size=6)
    state = optimizer.init(params)
    assert not any(np.shares_memory(field, params) for field in state[1:])
    params_copy, merged_copy = params.copy(), merged.copy()
    state_copy = [np.copy(field) for field in state]
    new_params, new_state = optimizer.update(merged, state, params)
    np.testing.assert_array_equal(params, params_copy)
    np.testing.assert_array_equal(merged, merged_copy)
    for field, field_copy in zip(state, state_copy, strict=True):
        np.testing.assert_array_equal(field, field_copy)
    for output in (new_params, *new_state[1:]):
        for source in (params, merged, *state[1:]):
            assert not np.shares_memory(output, source)
    assert isinstance(new_state.count, int)
    assert new_state.count == 1


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=IDS)
def test_state_round_trips_through_savez(optimizer, tmp_path):
    rng = np.random.default_rng(2)
    params = rng.normal(size=5)
    sequence = params + rng.normal(size=(6, 5))
    straight, straight_state = run(optimizer, params, sequence)

    halfway, state = run(optimizer, params, sequence[:3])
    path = tmp_path / "state.npz"
    np.savez(path, params=halfway, **state._asdict())
    with np.load(path) as saved:
        params_loaded = saved["params"]
        state = type(state)(**{name: saved[name] for name in type(state)._fields})
    for merged in sequence[3:]:
        params_loaded, state = optimizer.update(merged, state, params_loaded)

    np.testing.assert_array_equal(params_loaded, straight)
    assert state.count == straight_state.count == 6
    for field, expected in zip(state[1:], straight_state[1:], strict=True):
        np.testing.assert_array_equal(field, expected)


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=IDS)
def test_float32_params_stay_float32(optimizer):
    params = np.linspace(-1, 1, 4, dtype=np.float32)
    merged = np.linspace(0, 2, 4)  # float64
    new_params, state = optimizer.update(merged, optimizer.init(params), params)
    assert new_params.dtype == np.float32
    assert all(field.dtype == np.float32 for field in state[1:])
    new_params, state = optimizer.update(merged, state, new_params)
    assert new_params.dtype == np.float32


def test_initial_states():
    params = np.ones(3)
    assert Replace().init(params) == ReplaceState(count=0)
    fedavgm_state = FedAvgM().init(params)
    assert isinstance(fedavgm_state, FedAvgMState)
    np.testing.assert_array_equal(fedavgm_state.momentum, np.zeros(3))
    state = FedAdam(tau=0.01).init(params)
    assert isinstance(state, FedOptState)
    assert state.count == 0
    np.testing.assert_array_equal(state.m, np.zeros(3))
    np.testing.assert_allclose(state.v, np.full(3, 1e-4), rtol=1e-15)


def test_mismatched_shapes_rejected():
    params = np.zeros(3)
    with pytest.raises(ParameterStructureError, match=r"merged has shape \(4,\)"):
        FedAdam().update(np.zeros(4), FedAdam().init(params), params)
    with pytest.raises(ParameterStructureError, match="state returned by init"):
        FedAdam().update(np.zeros(3), FedAdam().init(np.zeros(2)), params)
    with pytest.raises(TypeError, match=r"Replace.update: params must be a float ndarray"):
        Replace().update(np.zeros(3), Replace().init(params), np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match=r"FedYogi.init: params must be a float ndarray; got list"):
        FedYogi().init([1.0, 2.0])


# Options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (
            lambda: FedAdam(beta1=1.5),
            r"The 'beta1' option of FedAdam must be a float in [0, 1). Got 1.5 instead.",
        ),
        (
            lambda: FedYogi(beta2=1.0),
            r"The 'beta2' option of FedYogi must be a float in [0, 1). Got 1.0 instead.",
        ),
        (
            lambda: FedAvgM(learning_rate=0.0),
            r"The 'learning_rate' option of FedAvgM must be a float in (0, inf). Got 0.0 instead.",
        ),
        (
            lambda: FedAvgM(momentum=-0.1),
            r"The 'momentum' option of FedAvgM must be a float in [0, 1). Got -0.1 instead.",
        ),
        (
            lambda: FedAdagrad(tau=0),
            r"The 'tau' option of FedAdagrad must be a float in (0, inf). Got 0 instead.",
        ),
        (
            lambda: FedAdagrad(beta1=1),
            r"The 'beta1' option of FedAdagrad must be a float in [0, 1). Got 1 instead.",
        ),
        (
            lambda: FedAdam(learning_rate="0.1"),
            "The 'learning_rate' option of FedAdam must be a float in (0, inf). Got '0.1' instead.",
        ),
    ],
)
def test_bad_options_rejected(factory, message):
    with pytest.raises(InvalidOptionError) as info:
        factory()
    assert str(info.value) == message


def test_repr_and_options_are_floats():
    assert repr(FedAvgM(learning_rate=1, momentum=0)) == "FedAvgM(learning_rate=1.0, momentum=0.0)"
    assert repr(FedAdagrad()) == "FedAdagrad(learning_rate=0.1, tau=0.001, beta1=0.0)"
    assert repr(FedYogi()) == "FedYogi(learning_rate=0.01, beta1=0.9, beta2=0.99, tau=0.001)"
    assert repr(Replace()) == "Replace()"


def test_optimizers_are_immutable():
    optimizer = FedAdam()
    with pytest.raises(AttributeError):
        optimizer.beta1 = 0.5


# Registry ------------------------------------------------------------------------


def test_registry_names():
    assert set(SERVER_OPTIMIZERS) == {"replace", "fedavgm", "fedadagrad", "fedadam", "fedyogi"}
    for cls in SERVER_OPTIMIZERS.values():
        assert isinstance(cls(), ServerOptimizer)


def test_resolve_server_optimizer():
    assert resolve_server_optimizer(None) == Replace()
    assert resolve_server_optimizer("FedYogi") == FedYogi()
    custom = FedAdam(learning_rate=0.5)
    assert resolve_server_optimizer(custom) is custom


@pytest.mark.parametrize("value", ["adam", FedAdam, 3])
def test_resolve_server_optimizer_rejects(value):
    with pytest.raises(InvalidOptionError) as info:
        resolve_server_optimizer(value, owner="DistributedModelParameters")
    message = str(info.value)
    assert message.startswith("The 'server_optimizer' option of DistributedModelParameters")
    assert "'replace', 'fedavgm', 'fedadagrad', 'fedadam', 'fedyogi'" in message
