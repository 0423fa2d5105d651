"""Robust rules survive hostile children on a real task (scikit-learn digits).

Ten children, all started from the same initial parameters, train a softmax
LogisticRegression on IID shards of the standardised digits. Three of them then send
hostile parameters: one scaled by 100, one sign-flipped, one pure noise N(0, 100²). The
clean reference is the plain average of the seven honest children.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from datapredict import Layout, LogisticRegression
from datapredict.merge import (
    Average,
    Bulyan,
    GeometricMedian,
    Krum,
    Median,
    MultiKrum,
    NormClip,
    TrimmedMean,
)

N_CHILDREN, N_HOSTILE = 10, 3
CLASSES = tuple(range(10))


class Federation:
    """The stacked children (honest rows first) and a scorer for merged vectors."""

    def __init__(self, seed: int = 0) -> None:
        X, y = load_digits(return_X_y=True)
        X_train, self.X_test, y_train, self.y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        X_train, self.X_test = scaler.transform(X_train), scaler.transform(self.X_test)
        rng = np.random.default_rng(seed)
        shards = np.array_split(rng.permutation(len(X_train)), N_CHILDREN)

        start = LogisticRegression(classes=CLASSES, random_state=seed)
        start.initialize(X_train.shape[1], y_train)
        initial = start.get_model_parameters()
        self.layout = Layout.from_template(initial)
        rows = []
        for shard in shards:
            child = LogisticRegression(max_iterations=150, learning_rate=0.5, classes=CLASSES)
            child.set_model_parameters(initial)
            child.train(X_train[shard], y_train[shard])
            rows.append(self.layout.flatten(child.get_model_parameters()))
        honest = np.stack(rows[: N_CHILDREN - N_HOSTILE])
        self.honest_scores = [self.score(row) for row in honest]
        self.clean = self.score(Average()(honest))

        self.stacked = np.stack(rows)
        self.stacked[7] *= 100.0
        self.stacked[8] *= -1.0
        self.stacked[9] = rng.normal(0.0, 100.0, self.stacked.shape[1])

    def score(self, flat: np.ndarray) -> float:
        model = LogisticRegression(classes=CLASSES)
        model.set_model_parameters(self.layout.unflatten(flat))
        return model.score(self.X_test, self.y_test)


@pytest.fixture(scope="module")
def federation() -> Federation:
    return Federation()


def test_clean_run_is_a_good_model(federation):
    assert federation.clean > 0.9
    assert federation.stacked.shape == (N_CHILDREN, federation.layout.size)


def test_average_collapses(federation):
    assert federation.score(Average()(federation.stacked)) < federation.clean - 0.20


@pytest.mark.parametrize(
    "rule",
    [
        Median(),
        TrimmedMean(beta=0.3),
        GeometricMedian(),
        MultiKrum(num_malicious=3),
        Bulyan(num_malicious=1),  # K = 10 < 4f + 3 for f = 3: the 3 hostile exceed its f
        NormClip(10.0),  # honest norms are about 6: clipping alone tames the attack here
    ],
    ids=repr,
)
def test_robust_rule_keeps_clean_accuracy(federation, rule):
    merged = rule(federation.stacked)
    assert np.isfinite(merged).all()
    assert federation.score(merged) >= federation.clean - 0.02


def test_krum_picks_an_honest_child(federation):
    """Krum returns one child, so it matches a single honest child, not their average.

    (A single child trained on a tenth of the data scores about 3 points below the
    average of seven; the comparison is therefore with the honest children's mean score.)
    """
    rule = Krum(num_malicious=3)
    chosen = int(np.argmin(rule.scores(federation.stacked)))
    assert chosen < N_CHILDREN - N_HOSTILE
    merged = rule(federation.stacked)
    np.testing.assert_array_equal(merged, federation.stacked[chosen])
    assert federation.score(merged) >= np.mean(federation.honest_scores) - 0.02
