"""PyTorch modules as children: :class:`TorchChild`.

The module is built from a factory where the child lives (on each worker, in each Ray
actor), and its parameters are moved once into ONE flat tensor: every parameter (and,
with ``buffers="merge"``, every floating-point buffer such as batch norm's running
statistics) becomes a view into it, as ``torch.nn.utils.vector_to_parameters`` does.
On the CPU that tensor shares its memory with a numpy vector (``torch.from_numpy``), so

- :meth:`TorchChild.set_model_parameters` is one ``np.copyto`` into the module's memory;
- the optimizer's in-place updates land in that vector; nothing is gathered afterwards;
- :meth:`TorchChild.get_model_parameters` is one copy of it.

Layout: ``module.parameters()`` in order, then (``buffers="merge"``) the floating-point
``module.buffers()`` in order, each flattened; integer buffers (``num_batches_tracked``)
always stay with the child. One iteration is one epoch over the shard in shuffled
mini-batches. ``import torch`` happens only here: install it with
``pip install 'datapredict[torch]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from datapredict._validation import (
    check_bool,
    check_choice,
    check_features,
    check_int,
    check_random_state,
    option_error,
)
from datapredict.adapters._child import SavedStep, settable_options
from datapredict.errors import (
    DataTypeError,
    InvalidDataError,
    MissingDependencyError,
    NotInitializedError,
)
from datapredict.parameters import Layout, check_finite

try:
    import torch
except ImportError as error:
    raise MissingDependencyError(
        "TorchChild needs PyTorch, which is not installed: pip install 'datapredict[torch]'"
    ) from error

__all__ = ["TorchChild"]

_OWNER = "TorchChild"
_SETTABLE = ("max_iterations", "random_state", "batch_size")


def _check_callable(name: str, value: Any, expected: str) -> Callable:
    if not callable(value):
        raise option_error(_OWNER, name, expected, value)
    return value


def _flatten_into_one(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Copy ``tensors`` into one new flat tensor and make each a view into it."""
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    for tensor, view in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
        tensor.data = view.view_as(tensor)
    return flat


class TorchChild(SavedStep):
    """A PyTorch module as a child model, its parameters one flat vector.

    Parameters
    ----------
    module_factory : callable
        Zero-argument callable returning a new ``torch.nn.Module``; called in
        :meth:`initialize` with torch's generator seeded from ``random_state``.
    loss : callable
        ``loss(output, target) -> scalar tensor``, e.g. ``torch.nn.CrossEntropyLoss()``.
    optimizer_factory : callable
        ``optimizer_factory(parameters) -> torch.optim.Optimizer``, e.g.
        ``lambda p: torch.optim.SGD(p, lr=0.1)``. Its state (momentum, Adam's moments)
        stays with the child from one round to the next.
    batch_size : int, default=32
        Mini-batch size.
    max_iterations : int, default=1
        Epochs per :meth:`train`.
    task : {"classification", "regression"}, default="classification"
        Classification: targets are class indices 0..C-1 (int64), predictions the
        argmax of the output, ``score`` the accuracy. Regression: targets are floats of
        the output's shape (1-D targets become one column), ``score`` is R².
    buffers : {"merge", "local"}, default="merge"
        Floating-point buffers (batch norm's running statistics) are part of the
        parameters and merged with them ("merge"), or stay with each child ("local",
        as in FedBN; the main model then keeps its initial statistics).
    device : str or torch.device, default="cpu"
        Where the module trains. The zero-copy numpy view exists on the CPU only;
        elsewhere parameters are copied to and from the device.
    deterministic : bool, default=False
        Also make torch's kernels deterministic and single-threaded
        (``torch.use_deterministic_algorithms(True)``, ``torch.set_num_threads(1)``;
        both are process-wide settings in torch, made in :meth:`initialize`). The
        initialisation and the batch order are always seeded from ``random_state``; with
        this, a sync job gives the same parameters, to the last bit, on every backend.
        Random layers (dropout) draw from torch's global generator and are not covered.
    random_state : None, int, SeedSequence or Generator, default=None
        Seeds the module's initialisation and the batch order.

    Attributes
    ----------
    module_ : torch.nn.Module or None
        The module, once :meth:`initialize` ran.
    """

    def __init__(
        self,
        module_factory: Callable[[], Any],
        *,
        loss: Callable[[Any, Any], Any],
        optimizer_factory: Callable[[Any], Any],
        batch_size: int = 32,
        max_iterations: int = 1,
        task: str = "classification",
        buffers: str = "merge",
        device: Any = "cpu",
        deterministic: bool = False,
        random_state: Any = None,
    ) -> None:
        self.module_factory = _check_callable(
            "module_factory", module_factory, "a zero-argument callable returning a Module"
        )
        self.loss = _check_callable("loss", loss, "a callable loss(output, target)")
        self.optimizer_factory = _check_callable(
            "optimizer_factory", optimizer_factory, "a callable optimizer_factory(parameters)"
        )
        self.batch_size = check_int(_OWNER, "batch_size", batch_size, minimum=1)
        self.max_iterations = check_int(_OWNER, "max_iterations", max_iterations, minimum=1)
        self.task = check_choice(_OWNER, "task", task, ("classification", "regression"))
        self.buffers = check_choice(_OWNER, "buffers", buffers, ("merge", "local"))
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError):
            raise option_error(_OWNER, "device", "a torch device such as 'cpu'", device) from None
        self.deterministic = check_bool(_OWNER, "deterministic", deterministic)
        self.random_state = random_state
        self._rng = check_random_state(random_state)
        self.module_: Any = None
        self._flat_tensor: torch.Tensor | None = None
        self._flat: np.ndarray | None = None
        self._layout: Layout | None = None
        self._data: tuple[Any, Any, torch.Tensor, torch.Tensor] | None = None
        self._are_gradients_saved = False
        self._saved_step: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"TorchChild({self.module_factory!r}, batch_size={self.batch_size}, "
            f"max_iterations={self.max_iterations}, task={self.task!r}, "
            f"buffers={self.buffers!r}, device={str(self.device)!r})"
        )

    # ----------------------------------------------------------------- options
    # Each child's options by name, spelled out as in the other adapter (alike on purpose).
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options (``random_state`` among them, so the runner seeds each child)."""
        return {
            "module_factory": self.module_factory,
            "loss": self.loss,
            "optimizer_factory": self.optimizer_factory,
            "batch_size": self.batch_size,
            "max_iterations": self.max_iterations,
            "task": self.task,
            "buffers": self.buffers,
            "device": self.device,
            "deterministic": self.deterministic,
            "random_state": self.random_state,
        }

    def set_parameters(self, max_iterations: int | None = None, **options: Any) -> None:
        """Change ``max_iterations`` (first positional, as in the seed), ``batch_size``
        or ``random_state`` (the batch order's generator). All are validated first."""
        options = settable_options(_OWNER, _SETTABLE, max_iterations, options)
        checked = {
            name: check_int(_OWNER, name, options[name], minimum=1)
            for name in ("max_iterations", "batch_size")
            if name in options
        }
        if "random_state" in options:
            self._rng = check_random_state(options["random_state"])
            self.random_state = options["random_state"]
        for name, value in checked.items():
            setattr(self, name, value)

    # -------------------------------------------------------------- parameters
    def initialize(self, n_features: int | None = None, labels: Any = None) -> None:
        """Build the module (torch's generator seeded from ``random_state``), move its
        parameters into one flat vector and create the optimizer.

        ``n_features`` and ``labels`` are accepted for the child protocol; the module's
        shape comes from its factory.
        """
        if self.deterministic:
            torch.use_deterministic_algorithms(True)
            torch.set_num_threads(1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self._rng.integers(2**63)))
            module = self.module_factory()
        if not isinstance(module, torch.nn.Module):
            raise DataTypeError(
                f"{_OWNER}: module_factory must return a torch.nn.Module; "
                f"got {type(module).__name__}"
            )
        module.to(self.device)
        tensors = list(module.parameters())
        if self.buffers == "merge":
            tensors += [b for b in module.buffers() if b.is_floating_point()]
        if not tensors:
            raise DataTypeError(f"{_OWNER}: the module has no parameters")
        dtypes = {t.dtype for t in tensors}
        if len(dtypes) > 1:
            raise DataTypeError(
                f"{_OWNER}: every parameter must have one dtype; "
                f"the module has {sorted(map(str, dtypes))}"
            )
        flat = _flatten_into_one(tensors)
        self.module_, self._flat_tensor = module, flat
        self._flat = flat.numpy() if flat.device.type == "cpu" else None
        self._layout = Layout.from_template(self.get_model_parameters())
        self._optimizer = self.optimizer_factory(module.parameters())
        self._data, self._saved_step = None, None

    @property
    def flat_parameters(self) -> np.ndarray | None:
        """The live flat vector the module trains in (CPU only; None elsewhere or before
        :meth:`initialize`). Writing to it changes the module."""
        return self._flat

    def get_model_parameters(self) -> np.ndarray | None:
        """A copy of the flat vector (see the module docstring for its layout), or None
        before :meth:`initialize`."""
        if self._flat_tensor is None:
            return None
        return self._flat_tensor.detach().cpu().numpy().copy()

    def set_model_parameters(self, params: np.ndarray) -> None:
        """Validate ``params`` (shape, dtype, finiteness) and copy them into the module."""
        if self._layout is None:
            raise NotInitializedError(
                f"{_OWNER}.set_model_parameters: no parameters yet; call initialize() or "
                "train first"
            )
        self._layout.check(params, "params")
        check_finite(params, "params")
        if self._flat is not None:
            np.copyto(self._flat, params)
        else:
            self._flat_tensor.copy_(torch.tensor(params))

    # ---------------------------------------------------------------- training
    def _tensors(self, X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(X, y)`` as tensors on the device; the last shard's are kept (a child's
        shard is the same object every round)."""
        if self._data is not None and self._data[0] is X and self._data[1] is y:
            return self._data[2], self._data[3]
        features = check_features(X)
        targets = np.asarray(y)
        if targets.shape[0] != features.shape[0]:
            raise InvalidDataError(
                f"X and y must have the same number of rows; X has {features.shape[0]}, "
                f"y has {targets.shape[0]}"
            )
        dtype = self._flat_tensor.dtype
        X_t = torch.tensor(features, dtype=dtype, device=self.device)
        if self.task == "classification":
            y_t = torch.tensor(targets, dtype=torch.int64, device=self.device)
        else:
            y_t = torch.tensor(targets.reshape(len(targets), -1), dtype=dtype, device=self.device)
        self._data = (X, y, X_t, y_t)
        return X_t, y_t

    def train(self, X: Any, y: Any) -> np.ndarray:
        """Run ``max_iterations`` epochs of shuffled mini-batches from the current parameters.

        Returns
        -------
        costs : ndarray of shape (max_iterations,)
            Each epoch's mean loss over its mini-batches, each taken before its step.
        """
        if self.module_ is None:
            self.initialize(np.shape(X)[1] if np.ndim(X) == 2 else None, y)
        X_t, y_t = self._tensors(X, y)
        n = len(X_t)
        before = self.get_model_parameters() if self._are_gradients_saved else None
        costs = np.empty(self.max_iterations)
        self.module_.train()
        for epoch in range(self.max_iterations):
            total = torch.zeros((), dtype=torch.float64)
            for batch in torch.from_numpy(self._rng.permutation(n)).split(self.batch_size):
                self._optimizer.zero_grad(set_to_none=True)
                loss = self.loss(self.module_(X_t[batch]), y_t[batch])
                loss.backward()
                self._optimizer.step()
                total += loss.detach().double() * len(batch)
            costs[epoch] = total.item() / n
        if before is not None:
            before -= self.get_model_parameters()
            self._saved_step = before
        return costs

    def predict(self, X: Any) -> np.ndarray:
        """Class indices (classification) or outputs (regression; one column: 1-D)."""
        if self.module_ is None:
            raise NotInitializedError(f"{_OWNER}.predict: the model holds no parameters yet")
        self.module_.eval()
        with torch.no_grad():
            inputs = torch.tensor(check_features(X), dtype=self._flat_tensor.dtype)
            output = self.module_(inputs.to(self.device)).cpu()
        if self.task == "classification":
            return output.argmax(dim=1).numpy()
        output = output.double().numpy()
        return output[:, 0] if output.shape[1] == 1 else output

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification) or R² (regression) on ``(X, y)``."""
        predicted, y = self.predict(X), np.asarray(y)
        if self.task == "classification":
            return float(np.mean(predicted == y))
        residual = np.sum((y - predicted.reshape(y.shape)) ** 2)
        return float(1.0 - residual / np.sum((y - y.mean(axis=0)) ** 2))

    # --------------------------------------------------------------- gradients
    def get_gradients(self) -> np.ndarray:
        """A copy of the step of the last :meth:`train`, ``before - after`` (flat), so a
        parameter server in descent mode (``main -= step``) lands where the child did."""
        return self._last_step().copy()
