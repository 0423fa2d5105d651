"""The arithmetic of the splits: class codes, largest-remainder rounding, row drawing."""

from __future__ import annotations

import numpy as np

from datapredict.errors import DataTypeError, InvalidDataError

Shards = list[tuple[np.ndarray, np.ndarray]]
"""One ``(X_i, y_i)`` pair per child."""


def has_class_labels(y: np.ndarray) -> bool:
    """Whether ``y``'s dtype holds class labels (integers, booleans or strings), not floats."""
    return y.dtype.kind in "biuUS"


def class_codes(owner: str, y: np.ndarray) -> np.ndarray:
    """Return class labels as codes 0..n_classes-1, one per row."""
    if not has_class_labels(y):
        raise DataTypeError(
            f"{owner} needs class labels: y of integer, boolean or string dtype; got dtype "
            f"{y.dtype}. Cast labels with y.astype(int), or split regression targets with "
            "how='iid' or how='quantity'."
        )
    if y.ndim == 2 and y.shape[1] != 1:
        raise InvalidDataError(
            f"{owner} needs one label per row: y of shape (n,) or (n, 1); got shape {y.shape}"
        )
    return np.unique(y.ravel(), return_inverse=True)[1].ravel()


def allocate(proportions: np.ndarray, total: int) -> np.ndarray:
    """Round ``proportions * total`` to integers summing to ``total`` (largest remainder)."""
    exact = proportions / proportions.sum() * total
    counts = np.floor(exact).astype(np.int64)
    shortfall = total - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:shortfall]] += 1
    return counts


def stratified_sample(codes: np.ndarray, n_sample: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_sample`` row indices keeping each class's share."""
    class_counts = np.bincount(codes)
    quotas = allocate(class_counts.astype(np.float64), n_sample)
    chosen = [
        rng.choice(np.flatnonzero(codes == label), size=quota, replace=False)
        for label, quota in enumerate(quotas)
    ]
    return np.concatenate(chosen)


def dirichlet_parts(
    codes: np.ndarray, n_children: int, alpha: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """One draw of the label-skew split: row indices for each child."""
    parts: list[list[np.ndarray]] = [[] for _ in range(n_children)]
    for label in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == label))
        counts = allocate(rng.dirichlet(np.full(n_children, alpha)), len(members))
        for child, chunk in enumerate(np.split(members, np.cumsum(counts)[:-1])):
            parts[child].append(chunk)
    return [np.concatenate(chunks) for chunks in parts]


def take(X: np.ndarray, y: np.ndarray, parts: list[np.ndarray], rng: np.random.Generator) -> Shards:
    """Copy each child's rows, in random order."""
    shards = []
    for part in parts:
        rows = rng.permutation(part)
        shards.append((X[rows], y[rows]))
    return shards
