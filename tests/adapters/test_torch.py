"""TorchChild: torch itself is the reference; these tests run wherever the test extra is
installed (torch is in it), never skipped."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import datapredict as dp
from datapredict.adapters import TorchChild, check_child
from datapredict.errors import (
    DataTypeError,
    InvalidOptionError,
    MissingDependencyError,
    ParameterStructureError,
)

torch.set_num_threads(1)


def mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))


def normalised_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(64, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 10)
    )


def make_child(factory=mlp, **options) -> TorchChild:
    options = {
        "loss": torch.nn.CrossEntropyLoss(),
        "optimizer_factory": lambda p: torch.optim.SGD(p, lr=0.1),
        "batch_size": 64,
        **options,
    }
    return TorchChild(factory, **options)


def test_parameters_are_one_flat_vector_the_module_and_numpy_share(digits):
    X, y = digits
    child = make_child(normalised_mlp, random_state=0)
    child.initialize(64, y)
    module, flat = child.module_, child.flat_parameters
    bn = module[1]
    tensors = [*module.parameters(), bn.running_mean, bn.running_var]
    assert all(np.shares_memory(flat, t.detach().numpy()) for t in tensors)
    expected = torch.cat([t.detach().reshape(-1) for t in tensors]).numpy()  # torch's order
    np.testing.assert_array_equal(child.get_model_parameters(), expected)
    assert not np.shares_memory(child.get_model_parameters(), flat)  # the push is a copy

    new = np.random.default_rng(0).standard_normal(flat.size).astype(np.float32)
    child.set_model_parameters(new)
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), new[:1024].reshape(16, 64))
    child.train(X[:200], y[:200])  # the optimizer and batch norm write into the vector
    np.testing.assert_array_equal(
        torch.nn.utils.parameters_to_vector(module.parameters()).detach().numpy(),
        flat[: flat.size - 32],
    )
    np.testing.assert_array_equal(bn.running_mean.numpy(), flat[-32:-16])
    assert not np.array_equal(flat, new)


def test_training_is_torchs_own_loop(digits):
    """Full-batch SGD: the child's epochs equal a plain torch loop from the same init."""
    X, y = digits
    X, y = X[:256], y[:256]
    child = make_child(batch_size=256, max_iterations=5, random_state=np.random.default_rng(3))
    child.initialize(64, y)
    torch.manual_seed(int(np.random.default_rng(3).integers(2**63)))
    reference = mlp()
    np.testing.assert_array_equal(
        child.get_model_parameters(),
        torch.nn.utils.parameters_to_vector(reference.parameters()).detach().numpy(),
    )
    costs = child.train(X, y)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    inputs, targets = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    expected_costs = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(reference(inputs), targets)
        expected_costs.append(loss.item())
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(costs, expected_costs, rtol=1e-6)
    np.testing.assert_allclose(
        child.get_model_parameters(),
        torch.nn.utils.parameters_to_vector(reference.parameters()).detach().numpy(),
        rtol=1e-6,
        atol=1e-7,
    )
    assert child.score(X, y) == pytest.approx(
        float((reference(inputs).argmax(1) == targets).float().mean())
    )


def test_one_child_gradients_job_tracks_the_local_model(digits):
    """The pushed step is ``before - after``: main -= step lands where the child went."""
    X, y = digits
    X, y = X[:300], y[:300]
    rounds = 4
    result = dp.train_distributed(
        lambda: make_child(batch_size=300), [(X, y)], strategy="gradients", rounds=rounds,
        random_state=0,
    )  # fmt: skip
    main_seed = np.random.SeedSequence(0).spawn(2)[0]  # the runner's seeding of the main model
    local = make_child(batch_size=300, max_iterations=rounds)
    local.set_parameters(random_state=np.random.default_rng(main_seed))
    local.initialize(64, y)
    start = local.get_model_parameters()
    local.train(X, y)
    np.testing.assert_allclose(result.main_parameters, local.get_model_parameters(), atol=1e-6)
    assert np.abs(result.main_parameters - start).max() > 1e-2


@pytest.mark.parametrize("strategy", ["model_parameters", "gradients"])
def test_deterministic_sync_jobs_are_bit_identical_inline_and_on_threads(strategy, digits):
    X, y = digits
    shards = dp.datasets.split(X[:800], y[:800], 4, how="dirichlet", alpha=0.5, random_state=0)
    runs = [
        dp.train_distributed(
            lambda: make_child(normalised_mlp, batch_size=32, deterministic=True),
            shards,
            strategy=strategy,
            rounds=3,
            backend=backend,
            random_state=0,
            local_iterations=2,
            eval_data=(X[800:], y[800:]),
        )
        for backend in ("inline", "threads")
    ]
    np.testing.assert_array_equal(runs[0].main_parameters, runs[1].main_parameters)
    assert runs[0].history["metric"][-1] > 0.5


def _job(buffers: str, X, y):
    shards = dp.datasets.split(X[:600], y[:600], 3, random_state=0)
    return dp.train_distributed(
        lambda: make_child(normalised_mlp, buffers=buffers),
        shards,
        strategy="model_parameters",
        rounds=3,
        random_state=0,
        local_iterations=2,
        eval_data=(X[600:], y[600:]),
    )


def test_merged_buffers_travel_with_the_parameters(digits):
    X, y = digits
    result = _job("merge", X, y)
    n_parameters = sum(p.numel() for p in normalised_mlp().parameters())
    assert result.main_parameters.shape == (n_parameters + 32,)
    bn = result.model.module_[1]
    np.testing.assert_array_equal(bn.running_mean.numpy(), result.main_parameters[-32:-16])
    assert result.history["metric"][-1] > 0.5


def test_one_round_of_fedavg_averages_the_childrens_batch_norm_statistics(digits):
    """Children rebuilt by hand with the runner's seeds: the main vector, running
    statistics included, is the mean of what they trained."""
    X, y = digits
    shards = [(X[:200], y[:200]), (X[200:400], y[200:400])]
    result = dp.train_distributed(
        lambda: make_child(normalised_mlp), shards, strategy="model_parameters", rounds=1,
        random_state=0, local_iterations=2,
    )  # fmt: skip
    main_seed, *child_seeds = np.random.SeedSequence(0).spawn(3)
    main = make_child(normalised_mlp, random_state=np.random.default_rng(main_seed))
    main.initialize(64, y)
    trained = []
    for (X_i, y_i), seed in zip(shards, child_seeds, strict=True):
        child = make_child(normalised_mlp, max_iterations=2)
        child.set_parameters(random_state=np.random.default_rng(seed))
        child.initialize(64, y)
        child.set_model_parameters(main.get_model_parameters())
        child.train(X_i, y_i)
        trained.append(child.get_model_parameters())
    expected = (trained[0] + trained[1]) / 2
    np.testing.assert_allclose(result.main_parameters, expected, rtol=1e-6, atol=1e-7)
    statistics = result.main_parameters[-32:]
    assert np.abs(statistics - np.r_[np.zeros(16), np.ones(16)]).max() > 0.1  # they moved


def test_local_buffers_stay_with_each_child(digits):
    X, y = digits
    child = make_child(normalised_mlp, buffers="local", random_state=0)
    child.initialize(64, y)
    bn = child.module_[1]
    n_parameters = sum(p.numel() for p in child.module_.parameters())
    assert child.get_model_parameters().shape == (n_parameters,)
    child.train(X[:200], y[:200])
    trained_mean = bn.running_mean.clone()
    child.set_model_parameters(np.zeros(n_parameters, dtype=np.float32))
    torch.testing.assert_close(bn.running_mean, trained_mean, rtol=0, atol=0)

    result = _job("local", X, y)
    assert result.main_parameters.shape == (n_parameters,)
    main_bn = result.model.module_[1]  # the main model never trains: initial statistics
    np.testing.assert_array_equal(main_bn.running_mean.numpy(), np.zeros(16))
    np.testing.assert_array_equal(main_bn.running_var.numpy(), np.ones(16))


def test_regression_scores_r2_as_scikit_learn_does(diabetes):
    from sklearn.metrics import r2_score

    X, y = diabetes
    y = (y - y.mean()) / y.std()
    child = make_child(
        lambda: torch.nn.Linear(10, 1),
        loss=torch.nn.MSELoss(),
        task="regression",
        max_iterations=20,
        random_state=0,
    )
    costs = child.train(X, y)
    assert costs[-1] < costs[0]
    assert child.predict(X).shape == (442,)
    assert child.score(X, y) == pytest.approx(r2_score(y, child.predict(X)), rel=1e-9)
    assert child.score(X, y) > 0.4


def test_conforms_and_rejects_bad_options_and_parameters(digits):
    _, y = digits
    check_child(make_child(), "gradients")
    with pytest.raises(InvalidOptionError, match="'buffers' option of TorchChild"):
        make_child(buffers="shared")
    with pytest.raises(InvalidOptionError, match="'loss' option of TorchChild"):
        make_child(loss="cross_entropy")
    with pytest.raises(InvalidOptionError, match="'device' option of TorchChild"):
        make_child(device="abacus")
    with pytest.raises(DataTypeError, match=r"must return a torch\.nn\.Module"):
        make_child(lambda: "a module").initialize(64, y)
    child = make_child(random_state=0)
    child.initialize(64, y)
    size = child.get_model_parameters().size
    with pytest.raises(ParameterStructureError, match=rf"\({size},\)"):
        child.set_model_parameters(np.zeros(size + 1, dtype=np.float32))
    with pytest.raises(ParameterStructureError, match="float64"):
        child.set_model_parameters(np.zeros(size))  # float64 does not fit float32 losslessly


def test_without_torch_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    monkeypatch.delitem(sys.modules, "datapredict.adapters.torch")
    with pytest.raises(MissingDependencyError, match=r"pip install 'datapredict\[torch\]'"):
        from datapredict.adapters import TorchChild  # noqa: F401
    import datapredict.adapters  # the rest of the package does not need torch

    assert callable(datapredict.adapters.check_child)
