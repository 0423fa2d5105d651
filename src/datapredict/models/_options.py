"""A model's options: stored as given, validated when they are used.

scikit-learn's convention: the constructor and ``set_params`` only store values (so
``GridSearchCV(..., error_score=np.nan)`` can skip one bad value instead of stopping),
and ``fit`` validates them. :meth:`ModelOptions._check_options` is that validation; the
models call it first in every method that uses the options (``train``, ``fit``,
``initialize``, ``set_model_parameters``, ``predict``). The seed's ``set_parameters``
validates what it is given at once, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

from datapredict._validation import check_random_state
from datapredict.errors import InvalidOptionError

__all__ = ["ModelOptions"]

OptionCheck = Callable[[str, Any], Any]
"""``check(owner, value) -> validated value``, raising :class:`InvalidOptionError`."""


class ModelOptions:
    """Options stored as given and validated on use (see the module docstring).

    The host class lists its options in ``_OPTIONS`` (name -> check), names the
    structural ones (fixed once parameters exist) in ``_STRUCTURAL``, holds its
    parameters in ``_flat`` (``None`` before any exist) and defines
    ``_reset_training_state()``.

    Attributes
    ----------
    _options : dict or None
        The options as last validated; ``None`` until :meth:`_check_options` first runs.
    """

    _OPTIONS: ClassVar[dict[str, OptionCheck]] = {}
    _STRUCTURAL: ClassVar[frozenset[str]] = frozenset()

    def _store_options(self, options: dict[str, Any]) -> None:
        """Keep ``options`` unvalidated (the constructor's part)."""
        self._given = dict(options)
        self._options: dict[str, Any] | None = None
        self._changed = frozenset(options)

    def _check_options(self) -> dict[str, Any]:
        """Validate the options changed since the last call; return them all, validated.

        The first call validates every option; later ones only those set since.

        Raises :class:`InvalidOptionError` naming the first bad option, changing nothing.
        A new ``random_state`` reseeds the model's generator; a new ``optimizer``
        restarts the step rule's state.
        """
        if not self._changed:
            return self._options
        owner = type(self).__name__
        check = self._OPTIONS
        names = self._changed if self._options is not None else self._given.keys()
        validated = {**(self._options or {})}
        validated.update({name: check[name](owner, self._given[name]) for name in names})
        if not self._STRUCTURAL.isdisjoint(names):
            self._refuse_structural_change(validated)
        self._options, changed, self._changed = validated, self._changed, frozenset()
        if "random_state" in changed:
            self._rng = check_random_state(validated["random_state"])
        if "optimizer" in changed and self._flat is not None:
            self._reset_training_state()
        return validated

    def _refuse_structural_change(self, validated: dict[str, Any]) -> None:
        if self._flat is None or self._options is None:
            return
        owner = type(self).__name__
        for name in sorted(self._STRUCTURAL & validated.keys()):
            if validated[name] != self._options[name]:
                raise InvalidOptionError(
                    f"The {name!r} option of {owner} cannot change once the parameters "
                    f"exist; create a new {owner} instead (or call fit, which starts over)"
                )

    def _refuse_unknown(self, options: dict[str, Any]) -> None:
        unknown = options.keys() - self._OPTIONS.keys()
        if unknown:
            unknown = sorted(unknown)
            raise InvalidOptionError(
                f"{type(self).__name__} has no option {unknown[0]!r}; the options are "
                f"{sorted(self._OPTIONS)}"
            )

    def set_parameters(self, max_iterations: int | None = None, **options: Any) -> None:
        """Change options; the first positional argument is ``max_iterations`` (as in the seed).

        Unlike :meth:`set_params`, the values are validated now, all before any is
        applied, so a bad value raises :class:`InvalidOptionError` and changes nothing.
        """
        if max_iterations is not None:
            options["max_iterations"] = max_iterations
        self._refuse_unknown(options)
        owner = type(self).__name__
        validated = {name: self._OPTIONS[name](owner, value) for name, value in options.items()}
        if self._options is not None and not self._STRUCTURAL.isdisjoint(validated):
            self._refuse_structural_change({**self._options, **validated})
        self._given = {**self._given, **options}
        self._changed = self._changed | options.keys()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options, as given to the constructor or set since (scikit-learn's
        ``get_params``; a model holds no other estimator, so ``deep`` changes nothing)."""
        return dict(self._given)

    def set_params(self, **options: Any) -> Self:
        """scikit-learn's ``set_params``: store options, validated when next used; return self.

        Unknown names raise :class:`InvalidOptionError` at once; bad values raise it
        from the next ``fit`` or ``train``.
        """
        self._refuse_unknown(options)
        self._given = {**self._given, **options}
        self._changed = self._changed | options.keys()
        return self

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self._given.items())
        return f"{type(self).__name__}({shown})"
