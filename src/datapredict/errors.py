"""The exception hierarchy of datapredict.

Every error raised on bad input derives from :class:`DataPredictError` and from the
builtin exception a Python user would catch (``ValueError``, ``TypeError``, ...), so
``except ValueError`` keeps working. Messages name the argument, what was expected
and what was received.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ChildFailureError",
    "DataPredictError",
    "DataTypeError",
    "InvalidDataError",
    "InvalidOptionError",
    "MissingDependencyError",
    "ModelIndexError",
    "NonFiniteError",
    "NotInitializedError",
    "ParameterStructureError",
    "QueueFullError",
]


class DataPredictError(Exception):
    """Root of every exception raised by datapredict."""


class InvalidOptionError(DataPredictError, ValueError):
    """An option (constructor or ``set_parameters`` keyword) has an unsupported value."""


class InvalidDataError(DataPredictError, ValueError):
    """Training or validation data have inconsistent shapes or unusable values."""


class DataTypeError(DataPredictError, TypeError):
    """Data or parameters are of a type that cannot be used (non-numeric, ragged, ...)."""


class ParameterStructureError(DataPredictError, ValueError):
    """Parameters differ from the expected structure, shape or dtype."""


class NonFiniteError(DataPredictError, ValueError):
    """Data or parameters contain NaN or infinity."""


class NotInitializedError(DataPredictError, RuntimeError):
    """An operation needs state (main parameters, a merger, data) that was never set."""


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
