"""Children that wrap a user's own model, and the check that any child conforms.

- :class:`SklearnChild`: a scikit-learn estimator with ``partial_fit`` (SGD models,
  perceptrons, passive-aggressive models, MLPs); needs scikit-learn.
- :class:`TorchChild`: a PyTorch module from a factory; needs the ``torch`` extra.
- :func:`check_child`: does an object have what ``train_distributed`` calls on a child?

scikit-learn and PyTorch are imported only when their adapter is first used
(``from datapredict.adapters import TorchChild``), so the core stays numpy-only; a
missing one raises :class:`~datapredict.errors.MissingDependencyError` naming its extra.
The child protocol itself is described in :mod:`datapredict.models.protocol`.
"""

from __future__ import annotations

import importlib
from typing import Any

from datapredict.adapters._check import check_child

__all__ = ["SklearnChild", "TorchChild", "check_child"]

_LAZY = {"SklearnChild": "datapredict.adapters.sklearn", "TorchChild": "datapredict.adapters.torch"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
