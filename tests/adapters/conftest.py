"""Fixtures for the adapter tests: small real datasets, standardised."""

from __future__ import annotations

import numpy as np
import pytest

from datapredict.datasets import load_dataset


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits, standardised: X (1797, 64), y in 0..9."""
    data = load_dataset("digits")
    return data.X, data.y


@pytest.fixture(scope="session")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes, standardised features: X (442, 10), y float."""
    data = load_dataset("diabetes")
    return data.X, data.y
