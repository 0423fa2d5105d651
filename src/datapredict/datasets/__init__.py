"""Real datasets and ways to split them among children.

:func:`load_dataset` loads one of scikit-learn's bundled datasets (scikit-learn is
needed only here, through the ``demo`` extra). The split functions share one contract:
they take ``X`` of shape ``(n_samples, n_features)`` and ``y`` of shape
``(n_samples,)`` or ``(n_samples, n_outputs)``, and return ``n_children`` pairs
``(X_i, y_i)`` that partition the rows (every row goes to exactly one child, rows are
copied, row order within a child is random). The same ``random_state`` gives the same
split.

- :func:`split_iid`: a random permutation cut into near-equal shards.
- :func:`split_dirichlet`: label skew; each class is shared among children in
  proportions drawn from Dirichlet(alpha) (Hsu, Qi, Brown, 2019; the "label
  distribution skew" of Li et al., NIID-Bench, ICDE 2022). Small ``alpha``: most
  children see few classes; large ``alpha``: close to IID.
- :func:`split_quantity_skew`: shard sizes drawn from Dirichlet(alpha), labels IID
  (NIID-Bench's "quantity skew").

Examples
--------
>>> import numpy as np
>>> X = np.arange(20.0).reshape(10, 2)
>>> y = np.array([0, 1] * 5)
>>> shards = split(X, y, 3, random_state=0)
>>> [len(y_i) for _, y_i in shards]
[4, 3, 3]
"""

from datapredict.datasets.loading import DATASETS, Dataset, load_dataset, standardize_features
from datapredict.datasets.splitting import (
    split,
    split_dirichlet,
    split_iid,
    split_quantity_skew,
    train_test_split,
)

__all__ = [
    "DATASETS",
    "Dataset",
    "load_dataset",
    "split",
    "split_dirichlet",
    "split_iid",
    "split_quantity_skew",
    "standardize_features",
    "train_test_split",
]
