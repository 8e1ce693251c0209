"""What :func:`~deeprnn.training.keras.trainer.fit` trains and returns: the
:class:`FitModule` (a user's ``nn.Module`` with a loss, metrics and an optimizer, as a
LightningModule) and Keras' :class:`History`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from deeprnn.layers.regularizers import apply_constraints, regularization_loss
from deeprnn.training.keras.compile import get_loss, get_metrics
from deeprnn.training.keras.data import batch_size_of, first_output, unpack_batch


class History:
    """What :func:`fit` returns, as Keras' ``History``: per-epoch values of the loss and the
    metrics, training (``"loss"``, ``"accuracy"``) and validation (``"val_loss"`` ...).

    Attributes:
        history: ``{key: [value per epoch]}`` (floats). ``history["loss"]`` indexes it too.
        epoch: the epoch numbers ``[0, 1, ...]`` (shorter than ``epochs`` after early stopping).
        params: ``epochs``, ``steps`` (batches per epoch), ``batch_size``, ``loss``, ``metrics``.
        model: the trained ``nn.Module`` (the one passed to :func:`fit`).
    """

    def __init__(self, model: nn.Module | None = None, params: dict | None = None):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = dict(params or {})
        self.model = model

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(
                f"{key!r} is not in this History; it has {sorted(self.history)}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class _Recorder(pl.Callback):
    """Appends each epoch's logged values to a :class:`History` (after validation ran)."""

    def __init__(self, history: History, keys: Sequence[str]):
        self.history, self.keys = history, tuple(keys)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.history.epoch.append(trainer.current_epoch)
        for key in self.keys:
            if key in trainer.callback_metrics:
                value = float(trainer.callback_metrics[key])
                self.history.history.setdefault(key, []).append(value)


class FitModule(pl.LightningModule):
    """The LightningModule :func:`fit`, :func:`evaluate` and :func:`predict` train and run: the
    user's ``model`` (its weights are trained in place), a loss, metrics and an optimizer.

    Args:
        model: the ``nn.Module``; ``forward(x, **kwargs)`` returns predictions (N, *) or a
            tuple whose first element they are (``(out, states)`` of deeprnn layers).
        loss: a loss name or a callable ``(pred, y) -> scalar`` (:func:`fit` lists the names).
        metrics: metric names / callables, as in :func:`fit`.
        optimizer: the ``torch.optim.Optimizer`` ``configure_optimizers`` returns (training).
        progress_bar: show the loss and metrics in Lightning's progress bar.

    A batch is anything :func:`~deeprnn.training.keras.data.unpack_batch` reads: ``x`` (N, ...),
    targets ``y`` (N, ...) and keyword arguments of ``forward`` (``lengths`` (N,), ``mask``
    (N, T)). Logs ``loss`` and each metric per epoch (the mean over samples), with ``val_`` /
    ``test_`` in front for the validation / evaluation data (Keras' names).
    """

    def __init__(
        self,
        model: nn.Module,
        loss: str | Callable = "mse",
        metrics: Any = None,
        optimizer: torch.optim.Optimizer | None = None,
        progress_bar: bool = True,
    ):
        super().__init__()
        self.model = model
        self.loss_fn = get_loss(loss)
        self.metric_fns = get_metrics(metrics, self.loss_fn)
        self._optimizer = optimizer
        self._prog_bar = progress_bar

    def forward(self, x: Any, **kwargs: Any) -> Tensor:
        out = self.model(*x, **kwargs) if isinstance(x, tuple | list) else self.model(x, **kwargs)
        return first_output(out)

    def _step(self, batch: Any, prefix: str) -> Tensor:
        x, y, kwargs = unpack_batch(batch)
        if y is None:
            raise ValueError("training and evaluation batches need targets y, got a batch without")
        pred = self(x, **kwargs)
        # as Keras: the layers' weight and activity penalties are part of the reported loss
        loss = self.loss_fn(pred, y) + regularization_loss(self.model)
        n = batch_size_of(x)
        log = {"on_step": False, "on_epoch": True, "batch_size": n}
        self.log(f"{prefix}loss", loss, prog_bar=self._prog_bar, **log)
        with torch.no_grad():
            for name, fn in self.metric_fns.items():
                value = fn(pred.detach(), y)
                self.log(f"{prefix}{name}", value, prog_bar=self._prog_bar, **log)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "")

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        apply_constraints(self.model)  # after the optimizer step, as Keras applies them

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val_")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test_")

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, _, kwargs = unpack_batch(batch)
        return self(x, **kwargs)

    def configure_optimizers(self):
        if self._optimizer is None:
            raise ValueError("FitModule needs an optimizer to train, got None")
        return self._optimizer
