"""Shared fixtures. Models: gradients against central differences; bad input changes
nothing. Examples: the scripts in ``examples/`` loaded as modules."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest


def _central_differences(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.empty_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2.0 * eps)
    return grad


@pytest.fixture
def assert_gradient_matches() -> Callable[..., None]:
    """Check a model's gradient, penalties included, against central differences.

    ``assert_gradient_matches(model, X, y, seed=0)`` initialises ``model`` on ``(X, y)``,
    moves it to random parameters (away from the L1 kink at zero), and compares the
    gradient its training loop uses (``model._objective``) with central differences of
    the cost it reports at the same point.
    """

    def check(model: Any, X: np.ndarray, y: np.ndarray, seed: int = 0) -> None:
        from datapredict.parameters import Layout

        model.set_parameters(1)
        model.train(X, y)
        Y = model._encode_targets(np.asarray(y))
        layout = Layout.from_template(model.get_model_parameters())
        point = np.random.default_rng(seed).uniform(0.1, 0.6, layout.size)
        point *= np.random.default_rng(seed + 1).choice([-1.0, 1.0], layout.size)

        def cost(vector: np.ndarray) -> float:
            model.set_model_parameters(layout.unflatten(vector))
            return model._objective(X, Y)[0]

        expected = _central_differences(cost, point, eps=1e-6)
        model.set_model_parameters(layout.unflatten(point))
        np.testing.assert_allclose(model._objective(X, Y)[1], expected, rtol=1e-6, atol=1e-8)

    return check


def _assert_same_parameters(got: Any, expected: Any) -> None:
    if expected is None:
        assert got is None
        return
    if isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(got, expected)
        return
    assert type(got) is type(expected) and len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def assert_rejected_unchanged() -> Callable[..., pytest.ExceptionInfo]:
    """Check that a bad call raises and leaves a model exactly as it was.

    ``assert_rejected_unchanged(make_model, X, y, bad_call, error, *fragments, train_first=True)``
    builds two identical models with ``make_model()`` (trained once on ``(X, y)`` when
    ``train_first``), expects ``bad_call(model)`` to raise ``error`` with every fragment in
    its message, then checks that the model's parameters are unchanged and that it trains
    on ``(X, y)`` exactly like its twin that never saw the bad call (same costs, same
    parameters: options, classes, optimizer and random state were untouched too).
    """

    def check(
        make_model: Callable[[], Any],
        X: np.ndarray,
        y: np.ndarray,
        bad_call: Callable[[Any], Any],
        error: type[Exception],
        *fragments: str,
        train_first: bool = True,
    ) -> pytest.ExceptionInfo:
        model, twin = make_model(), make_model()
        if train_first:
            np.testing.assert_array_equal(model.train(X, y), twin.train(X, y))
        before = model.get_model_parameters()
        with pytest.raises(error) as info:
            bad_call(model)
        message = str(info.value)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in {message!r}"
        _assert_same_parameters(model.get_model_parameters(), before)
        np.testing.assert_array_equal(model.train(X, y), twin.train(X, y))
        _assert_same_parameters(model.get_model_parameters(), twin.get_model_parameters())
        return info

    return check


@pytest.fixture
def load_example() -> Callable[[str], ModuleType]:
    """``load_example("seed_tutorial")`` imports ``examples/seed_tutorial.py``."""

    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def split_standardised() -> Callable[[Callable], tuple[np.ndarray, ...]]:
    """``split_standardised(load_digits)``: scikit-learn's dataset split 70/30 (stratified,
    seed 0) and standardised on the training part: X_train, X_test, y_train, y_test."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    def split(loader: Callable) -> tuple[np.ndarray, ...]:
        X, y = loader(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=0, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test

    return split
