"""Class labels for the classifiers: validation, encoding and the ``classes`` option."""

from __future__ import annotations

from typing import Any

import numpy as np

from datapredict._validation import _plain, check_labels, option_error
from datapredict.errors import DataPredictError, InvalidDataError, ParameterStructureError
from datapredict.models._losses import probabilities
from datapredict.models._sklearn import available_if


def check_classes_option(owner: str, value: Any) -> tuple | None:
    """Validate the ``classes`` option: ``None`` or at least two distinct class labels."""
    if value is None:
        return None
    expected = "None or a sequence of at least 2 distinct class labels (integers or strings)"
    try:
        classes = np.unique(check_labels(value, "classes"))
    except DataPredictError:
        raise option_error(owner, "classes", expected, value) from None
    if classes.size < 2:
        raise option_error(owner, "classes", expected, value)
    return tuple(classes.tolist())


def resolve_classes(known: np.ndarray | None, option: Any, y: np.ndarray | None) -> np.ndarray:
    """Return the model's classes: already known, given by the option, or found in ``y``."""
    if known is not None:
        return known
    if option is not None:
        classes = np.unique(check_labels(option, "classes"))
    elif y is None:
        raise InvalidDataError("classes are unknown: pass y or set the 'classes' option")
    else:
        classes = np.unique(check_labels(y))
    if classes.size < 2:
        raise InvalidDataError(
            f"y holds {classes.size} class ({classes.tolist()}); a classifier needs at least "
            "2 classes (pass classes=[...] when a shard holds a single class)"
        )
    return classes


def outputs_for(classes: np.ndarray) -> int:
    """One sigmoid output for two classes, one softmax output per class otherwise."""
    return 1 if classes.size == 2 else int(classes.size)


def _class_index(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Index of each label in ``classes`` (for two classes: whether it is the second).

    Raises :class:`InvalidDataError` for a label that is not one of ``classes``.
    """
    try:
        if classes.size == 2:
            index = labels == classes[1]
            known = labels == classes[0]
            known |= index
        else:
            index = np.clip(np.searchsorted(classes, labels), 0, classes.size - 1)
            known = classes[index] == labels
    except (TypeError, np.exceptions.DTypePromotionError):
        known, index = np.zeros(labels.shape, dtype=bool), None
    known = np.asarray(known, dtype=bool)
    if not known.all():
        raise InvalidDataError(
            f"y holds the label {_plain(labels[~known][0])!r}, which is not one of the "
            f"model's classes {classes.tolist()}"
        )
    return index


def _in_consecutive_integer_classes(labels: np.ndarray, classes: np.ndarray) -> bool:
    """Whether integer ``labels`` all lie within consecutive integer ``classes`` (0, 1, 2...).

    Then every label is known and its index is ``label - classes[0]``: two fast
    reductions prove it, where comparisons or a search over the labels would be needed.
    """
    return (
        labels.size > 0
        and labels.dtype.kind in "biu"
        and classes.dtype.kind in "biu"
        and int(classes[-1]) - int(classes[0]) == classes.size - 1
        and labels.min() >= classes[0]
        and labels.max() <= classes[-1]
    )


def encode(labels: np.ndarray, classes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Targets matrix: (n, 1) of 0/1 for two classes, one-hot (n, K) otherwise.

    ``out``, a float64 array of that shape, receives the matrix if given.
    """
    if _in_consecutive_integer_classes(labels, classes):
        index = labels - classes[0] if classes[0] else labels
    else:
        index = _class_index(labels, classes)
    Y = np.empty((labels.size, outputs_for(classes))) if out is None else out
    if classes.size == 2:
        np.copyto(Y[:, 0], index)
        return Y
    Y.fill(0.0)
    Y[np.arange(labels.size), index] = 1.0
    return Y


def check_outputs(n_outputs: int, classes: np.ndarray, owner: str) -> None:
    """Raise if existing parameters have a different output count than ``classes`` need."""
    if n_outputs != outputs_for(classes):
        raise ParameterStructureError(
            f"{owner}'s parameters have {n_outputs} outputs but the {classes.size} classes "
            f"{classes.tolist()} need {outputs_for(classes)}; pass classes=[...] to the model"
        )


class ClassifierMixin:
    """Label handling and prediction shared by the classifiers.

    The host class defines ``_logits(X)`` and the ``classes`` option; ``classes_`` is
    learned from the first labels seen (or from ``initialize``) unless the option fixes it.
    """

    classes_: np.ndarray | None = None
    _is_classifier = True
    # Whether one-hot targets are laid out classes first, (K, n) in memory, for a host
    # whose loss works with the classes along the rows.
    _targets_by_class = False

    def _targets_known(self) -> bool:
        return not self._is_classifier or self.classes_ is not None

    def _known_classes(self) -> np.ndarray | None:
        """The classes learned or fixed by the ``classes`` option; ``None`` while unknown."""
        if self.classes_ is not None:
            return self.classes_
        option = self._options["classes"]
        return None if option is None else np.asarray(option)

    def _check_classifier_outputs(self, n_outputs: int) -> None:
        """Raise if new parameters with ``n_outputs`` columns cannot fit the classes."""
        owner = type(self).__name__
        classes = self._known_classes()
        if classes is not None and n_outputs != outputs_for(classes):
            raise ParameterStructureError(
                f"params for {owner} must have {outputs_for(classes)} output column(s) for "
                f"the classes {classes.tolist()}; got {n_outputs}"
            )
        if n_outputs == 2:
            raise ParameterStructureError(
                f"params for {owner} must have 1 output column (two classes, sigmoid) or one "
                "per class for 3 or more classes (softmax); got 2"
            )

    def _n_outputs_for(self, y: np.ndarray | None) -> int:
        self.classes_ = resolve_classes(self.classes_, self._options["classes"], y)
        return outputs_for(self.classes_)

    def _encode_targets(self, labels: np.ndarray) -> np.ndarray:
        classes = resolve_classes(self.classes_, self._options["classes"], labels)
        if self._flat is not None:
            check_outputs(self._output_count(), classes, type(self).__name__)
        n, k = labels.size, outputs_for(classes)
        if self._targets_by_class and k > 1:  # an (n, K) view of a (K, n) buffer
            Y = encode(labels, classes, self._scratch("targets", (k, n)).T)
        else:
            Y = encode(labels, classes, self._scratch("targets", (n, k)))
        if self._flat is not None:
            self.classes_ = classes
        return Y

    @available_if(lambda model: model._is_classifier)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        return probabilities(self._logits(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, shape (n_samples,), taken from ``classes_``."""
        Z = self._logits(X)
        classes = self._known_classes()
        if classes is None:  # parameters set, no labels seen and no ``classes`` option
            classes = np.arange(max(2, Z.shape[1]))
        index = (Z[:, 0] > 0).astype(int) if Z.shape[1] == 1 else Z.argmax(axis=1)
        return classes[index]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == check_labels(y)))
