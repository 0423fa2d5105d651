"""``check_child``: does a model have what ``train_distributed`` calls on a child?

The runner calls a child's methods in a fixed order (see
:mod:`datapredict.models.protocol`); a missing one would otherwise surface as an
``AttributeError`` from a worker thread or a Ray actor, rounds into the job. This check
runs once, before anything starts, and names what is missing.
"""

from __future__ import annotations

import inspect
from typing import Any

from datapredict._validation import check_choice
from datapredict.errors import DataTypeError
from datapredict.models.protocol import accepts_random_state

__all__ = ["check_child"]

_REQUIRED = ("train", "get_model_parameters", "set_model_parameters", "set_parameters")
_GRADIENTS = ("set_are_gradients_saved", "get_gradients")


def _accepts(method: Any, *args: Any, **kwargs: Any) -> bool:
    """Whether ``method(*args, **kwargs)`` would bind (True when there is no signature)."""
    try:
        inspect.signature(method).bind(*args, **kwargs)
    except TypeError:
        return False
    except ValueError:  # builtins without a signature
        return True
    return True


def check_child(model: Any, strategy: str = "model_parameters") -> None:
    """Check once that ``model`` can be a child of a job with this ``strategy``.

    Parameters
    ----------
    model : object
        What the job's ``model_factory`` returns.
    strategy : {"model_parameters", "gradients"}, default="model_parameters"
        The job's strategy; "gradients" also needs ``set_are_gradients_saved`` and
        ``get_gradients``.

    Raises
    ------
    DataTypeError
        Naming the first missing method, or a method whose signature cannot take the
        runner's call: ``set_parameters(max_iterations=N)`` (and ``random_state=`` when
        ``get_params()`` lists one) and ``initialize(n_features, labels)``; also when the
        model holds no parameters (``get_model_parameters()`` is None) and has no
        ``initialize``.
    InvalidOptionError
        For an unknown ``strategy``.

    Examples
    --------
    >>> import datapredict as dp
    >>> check_child(dp.LogisticRegression(), "gradients")
    >>> check_child(object())
    Traceback (most recent call last):
    ...
    datapredict.errors.DataTypeError: check_child: a child needs the method train(X, y); \
object has none (strategy='model_parameters' needs train, get_model_parameters, \
set_model_parameters, set_parameters)
    """
    strategy = check_choice("check_child", "strategy", strategy, ("model_parameters", "gradients"))
    needed = _REQUIRED + (_GRADIENTS if strategy == "gradients" else ())
    kind = type(model).__name__
    calls = {
        "train": "train(X, y)",
        "get_model_parameters": "get_model_parameters()",
        "set_model_parameters": "set_model_parameters(params)",
        "set_parameters": "set_parameters(max_iterations=N)",
        "set_are_gradients_saved": "set_are_gradients_saved(True)",
        "get_gradients": "get_gradients()",
    }
    for name in needed:
        if not callable(getattr(model, name, None)):
            raise DataTypeError(
                f"check_child: a child needs the method {calls[name]}; {kind} has none "
                f"(strategy={strategy!r} needs {', '.join(needed)})"
            )
    options: dict[str, Any] = {"max_iterations": 1}
    if accepts_random_state(model):
        options["random_state"] = None
    if not _accepts(model.set_parameters, **options):
        raise DataTypeError(
            f"check_child: {kind}.set_parameters must accept the keywords "
            f"{', '.join(options)} (the runner calls set_parameters({', '.join(options)}=...))"
        )
    initialize = getattr(model, "initialize", None)
    if initialize is None:
        if model.get_model_parameters() is None:
            raise DataTypeError(
                f"check_child: {kind} holds no parameters (get_model_parameters() is None) "
                "and has no initialize(n_features, labels) to create them"
            )
    elif not callable(initialize) or not _accepts(initialize, 1, None):
        raise DataTypeError(
            f"check_child: {kind}.initialize must be a method taking (n_features, labels)"
        )
