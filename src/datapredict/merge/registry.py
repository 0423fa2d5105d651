"""One registry helper for the named steps of :mod:`datapredict.merge`.

Merge rules (``merge_type``), server optimizers (``server_optimizer``) and staleness
weights (``staleness``) are each chosen by a string name or by an instance. A
:class:`Registry` holds one kind's names and turns what a user passed into an object,
with one error template that lists the valid names:

>>> registry = Registry("colour", {"red": str}, "a str instance", lambda value: True)
>>> registry.resolve("RED", owner="demo")
''
>>> registry.expected()
"one of 'red' (any case), or a str instance"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from datapredict._validation import option_error

__all__ = ["Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Registry(Generic[T]):
    """The names of one kind of step and how a user's value becomes one.

    Parameters
    ----------
    option : str
        The option's name in error messages (``"merge_type"``).
    names : mapping of str to callable
        Lower-case name -> zero-argument factory (the class, built with its defaults). The
        mapping is read at each call, so names added to it later are found.
    instance : str
        What else is accepted, for the error message
        (``"a merge rule instance (a callable rule(stacked, weights=None))"``).
    is_instance : callable
        ``is_instance(value) -> bool``: whether a non-string, non-class value is accepted
        as it is.
    default : callable or None, default=None
        Factory for the value ``None``; with None, ``None`` is refused like any other value.
    """

    option: str
    names: Mapping[str, Callable[[], T]]
    instance: str
    is_instance: Callable[[Any], bool]
    default: Callable[[], T] | None = None

    def resolve(self, value: Any, *, owner: str) -> T:
        """Return the step named or given by ``value``.

        Parameters
        ----------
        value : None, str or instance
            A registered name (case-insensitive, surrounding spaces ignored), an instance
            accepted by ``is_instance`` (returned as it is), or None when there is a default.
        owner : str
            Who asks, for the error message (``"DistributedGradients"``).

        Raises
        ------
        InvalidOptionError
            For an unknown name, a class instead of an instance, or any other value; the
            message lists the valid names.
        """
        if value is None:
            if self.default is not None:
                return self.default()
        elif isinstance(value, str):
            factory = self.names.get(value.strip().lower())
            if factory is not None:
                return factory()
        elif not isinstance(value, type) and self.is_instance(value):
            return value
        raise option_error(owner, self.option, self.expected(), value)

    def expected(self) -> str:
        """The accepted values, as the error message words them."""
        names = ", ".join(map(repr, self.names))
        none = "None, " if self.default is not None else ""
        return f"{none}one of {names} (any case), or {self.instance}"
