"""The exception hierarchy of datapredict.

Every error raised on bad input derives from :class:`DataPredictError` and from the
builtin exception a Python user would catch (``ValueError``, ``TypeError``, ...), so
``except ValueError`` keeps working. Messages name the argument, what was expected
and what was received.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CheckpointError",
    "ChildFailureError",
    "ComplexDataError",
    "DataConversionWarning",  # noqa: F822 (made on first use by __getattr__)
    "DataPredictError",
    "DataTypeError",
    "InvalidDataError",
    "InvalidOptionError",
    "MissingDependencyError",
    "ModelIndexError",
    "NonFiniteError",
    "NotFittedError",  # noqa: F822 (made on first use by __getattr__)
    "NotInitializedError",
    "ParameterStructureError",
    "QueueFullError",
    "SecureAggregationError",
]


class DataPredictError(Exception):
    """Root of every exception raised by datapredict."""


class InvalidOptionError(DataPredictError, ValueError):
    """An option (constructor or ``set_parameters`` keyword) has an unsupported value."""


class InvalidDataError(DataPredictError, ValueError):
    """Training or validation data have inconsistent shapes or unusable values."""


class DataTypeError(DataPredictError, TypeError):
    """Data or parameters are of a type that cannot be used (non-numeric, ragged, ...)."""


class ComplexDataError(DataTypeError, ValueError):
    """Data hold complex numbers: "Complex data not supported".

    A :class:`DataTypeError` (so a ``TypeError``, as for every unusable dtype) that is
    also a ``ValueError``, which scikit-learn's estimator checks expect for complex data.
    """


class ParameterStructureError(DataPredictError, ValueError):
    """Parameters differ from the expected structure, shape or dtype."""


class NonFiniteError(DataPredictError, ValueError):
    """Data or parameters contain NaN or infinity."""


class NotInitializedError(DataPredictError, RuntimeError):
    """An operation needs state (main parameters, a merger, data) that was never set."""


# ``NotFittedError`` and ``DataConversionWarning`` are also scikit-learn's exceptions of
# those names when scikit-learn is installed, so that scikit-learn's tools catch them.
# scikit-learn is optional and slow to import (about a second), so each class is made
# on first use, by the module ``__getattr__`` below, rather than when datapredict is
# imported.


def _sklearn_exception(name: str) -> tuple[type, ...]:
    """scikit-learn's exception ``name`` as a one-class tuple, or ``()`` without scikit-learn."""
    try:
        from sklearn import exceptions
    except ImportError:
        return ()
    return (getattr(exceptions, name),)


def _not_fitted_error() -> type:
    sklearn_error = _sklearn_exception("NotFittedError")

    class NotFittedError(NotInitializedError, *sklearn_error, ValueError, AttributeError):
        """A model was used (``predict``, ``score``) before it had parameters.

        Also a ``ValueError`` and an ``AttributeError``, as scikit-learn's
        ``NotFittedError`` is, and that very class when scikit-learn is installed.
        """

    return NotFittedError


def _data_conversion_warning() -> type:
    sklearn_warning = _sklearn_exception("DataConversionWarning")

    class DataConversionWarning(*sklearn_warning, UserWarning):
        """Data were accepted in a form scikit-learn warns about (a column-vector ``y``
        given to a classifier's ``fit``); scikit-learn's warning of that name when
        scikit-learn is installed."""

    return DataConversionWarning


_MADE_ON_FIRST_USE = {
    "NotFittedError": _not_fitted_error,
    "DataConversionWarning": _data_conversion_warning,
}


def __getattr__(name: str) -> Any:
    """Make ``NotFittedError`` or ``DataConversionWarning`` on first use (see above)."""
    make = _MADE_ON_FIRST_USE.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = globals()[name] = make()
    made.__qualname__ = name  # found here by pickle, as a class defined at the top level
    return made


class ModelIndexError(DataPredictError, IndexError):
    """A child model index is out of range."""


class MissingDependencyError(DataPredictError, ImportError):
    """An optional dependency (an extra such as ``ray``) is not installed."""


class ChildFailureError(DataPredictError, RuntimeError):
    """A child model failed while training and no result could be collected."""


class CheckpointError(InvalidDataError):
    """A checkpoint file is missing, corrupt, or holds entries that cannot be restored."""


class QueueFullError(DataPredictError, RuntimeError):
    """A background queue is full and its ``when_full`` option refuses to wait."""


class SecureAggregationError(DataPredictError, RuntimeError):
    """Secure aggregation cannot go on: too few share holders survived to reconstruct a
    secret (more dropouts than the threshold allows), or a client was asked to reveal
    both secrets of one child."""
