"""What a user sees while a model trains: one line per epoch (Keras' ``verbose=2``) and a
progress bar that counts epochs from 1 (``Epoch 3/20``), as Keras does.

:class:`EpochLines` is used by ``deeprnn train`` when the progress bar is off
(``trainer.progress_bar: false``) or stdout is not a terminal (a log file, a pipe: there it
replaces the bar, whose redrawing would garble the file), and by ``deeprnn.fit`` with
``verbose=2`` (or ``verbose=1`` when stdout is not a terminal)::

    epoch 3/20 - 1.2s - train_loss 0.512 - val_loss 0.498 - val_acc 0.81
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import convert_inf

SKIPPED = ("grad_norm", "train_penalty")  # per-step diagnostics, not an epoch's numbers


def stdout_is_terminal() -> bool:
    """Whether a progress bar can redraw itself: stdout is a terminal, or a Jupyter kernel's
    (which draws Lightning's bar as a widget)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def epoch_values(metrics: dict[str, Any]) -> dict[str, float]:
    """The epoch's numbers of Lightning's ``callback_metrics``: ``*_step`` values dropped,
    ``*_epoch`` shown by their plain name, learning rates and per-step diagnostics left out;
    training values first, then validation ones."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key.endswith("_step") or key.startswith("lr-") or key in SKIPPED:
            continue
        name = key.removesuffix("_epoch")
        if name in out and not key.endswith("_epoch"):
            continue  # the _epoch value of the same name wins
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    train = {k: v for k, v in out.items() if not k.startswith(("val_", "test_"))}
    return {**train, **{k: v for k, v in out.items() if k.startswith("val_")}}


def epoch_line(epoch: int, max_epochs: int | None, seconds: float, values: dict) -> str:
    """``epoch 3/20 - 1.2s - train_loss 0.512 - val_loss 0.498`` (``epoch`` counted from 1)."""
    of = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
    parts = [f"epoch {epoch}{of}", f"{seconds:.1f}s"]
    parts += [f"{k} {v:.4g}" for k, v in values.items()]
    return " - ".join(parts)


class EpochLines(pl.Callback):
    """Print one line per epoch, after its validation: the epoch (from 1) of ``max_epochs``,
    its wall time, and the epoch's training and validation values (rank zero only)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self._start: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.monotonic()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        seconds = time.monotonic() - self._start if self._start is not None else 0.0
        values = epoch_values(dict(trainer.callback_metrics))
        line = epoch_line(trainer.current_epoch + 1, trainer.max_epochs, seconds, values)
        print(line, file=self.stream or sys.stdout, flush=True)


class EpochProgressBar(TQDMProgressBar):
    """Lightning's progress bar, its epochs counted from 1 of ``max_epochs`` (``Epoch 3/20``;
    Lightning's own shows ``Epoch 2``)."""

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if getattr(self, "_leave", False):
            self.train_progress_bar = self.init_train_tqdm()
        bar = self.train_progress_bar  # TQDMProgressBar's own steps, its description ours
        bar.reset()
        bar.total = convert_inf(self.total_train_batches)
        bar.initial = 0
        of = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        bar.set_description(f"Epoch {trainer.current_epoch + 1}{of}")
