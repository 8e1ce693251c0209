"""A run checks itself: the warnings :func:`~deeprnn.training.runner.run.fit_run` writes to
``metrics.json`` (``"warnings"``), the log and the report, one line each.

* too few optimizer steps: fewer than 100 in all, or fewer than 4 per epoch;
* the best validation score at the first epoch of more than two (nothing after it helped);
* training stopped by ``trainer.max_time`` (after how many epochs of ``max_epochs``);
* batches a ``trainer.nonfinite: skip`` run dropped;
* a probabilistic forecast whose prediction interval covers the test values far more or less
  often than its level says (``|coverage - level| > 0.15``);
* and the data's own (:meth:`~deeprnn.tasks._data.TaskData.health_warnings`,
  :meth:`~deeprnn.tasks._data.TaskData.fallback_warnings`): a validation split too small to
  choose a checkpoint, a class missing from it, test metrics computed on validation.

:class:`RunHealth` is the Lightning callback that records what happened during training.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import lightning.pytorch as pl

log = logging.getLogger("deeprnn.training")

MIN_STEPS = 100  # optimizer steps in all
MIN_EPOCH_STEPS = 4  # optimizer steps per epoch
MAX_COVERAGE_GAP = 0.15  # |empirical coverage - level| of a prediction interval
_COVERAGE = re.compile(r"^test_coverage_(\d{1,2})$")


class RunHealth(pl.Callback):
    """Records the epochs a run started and the ``monitor`` value of every validation, kept
    in checkpoints so a resumed run knows its whole history."""

    def __init__(self, monitor: str = "val_loss", mode: str = "min"):
        self.monitor, self.mode = monitor, mode
        self.validations: list[tuple[int, float]] = []  # (epoch from 0, monitor value)
        self.epochs = 0  # epochs started

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs = trainer.current_epoch + 1

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            self.validations.append((int(trainer.current_epoch), float(value)))

    def state_dict(self) -> dict[str, Any]:
        return {"validations": [list(v) for v in self.validations], "epochs": self.epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.validations = [(int(e), float(v)) for e, v in state.get("validations", [])]
        self.epochs = int(state.get("epochs", 0))

    def best_epoch(self) -> int | None:
        """The epoch (from 0) of the best validation (the first of equals); None without."""
        if not self.validations:
            return None
        pick = min if self.mode == "min" else max
        return pick(self.validations, key=lambda ev: ev[1])[0]


def time_is_up(trainer: pl.Trainer) -> bool:
    """Whether ``trainer.max_time`` ran out (Lightning's Timer stopped training)."""
    from lightning.pytorch.callbacks import Timer

    timer = next((cb for cb in trainer.callbacks if isinstance(cb, Timer)), None)
    if timer is None:
        return False
    left = timer.time_remaining()
    return left is not None and left <= 0


def training_summary(trainer: pl.Trainer, health: RunHealth, batch_size: int, auto: bool) -> dict:
    """``metrics.json["training"]``: the batch size (and whether it was chosen automatically),
    the epochs run of ``max_epochs``, the optimizer steps in all and per epoch, the best
    validation epoch (counted from 1, as the epoch lines print them) and what stopped
    training."""
    steps_per_epoch = trainer.num_training_batches
    best = health.best_epoch()
    if time_is_up(trainer):
        stopped = "max_time"
    elif trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
        stopped = "max_steps"
    elif trainer.max_epochs is not None and health.epochs >= trainer.max_epochs:
        stopped = "max_epochs"
    else:
        stopped = "early_stopping"
    return {
        "batch_size": batch_size,
        "batch_size_auto": auto,
        "epochs": health.epochs,
        "max_epochs": trainer.max_epochs,
        "min_steps": int(trainer.fit_loop.min_steps or 0),
        "optimizer_steps": int(trainer.global_step),
        "steps_per_epoch": int(steps_per_epoch) if steps_per_epoch != float("inf") else None,
        "monitor": health.monitor,
        "best_epoch": None if best is None else best + 1,
        "stopped_by": stopped,
    }


def training_warnings(
    summary: dict, *, train: tuple[int, str], max_time: float | None, skipped: list[int]
) -> list[str]:
    """The warnings about how training went, from :func:`training_summary` (``train``: the
    training split's size and unit, :meth:`TaskData.split_size`)."""
    out = []
    steps, per_epoch = summary["optimizer_steps"], summary["steps_per_epoch"]
    epochs, b = summary["epochs"], summary["batch_size"]
    on = f"{train[0]} training {train[1]}, batch_size {b}"
    if steps < MIN_STEPS:
        out.append(
            f"only {steps} optimizer steps in all ({epochs} epoch(s) of {per_epoch} steps; "
            f"{on}): too few to fit a model; lower trainer.batch_size or raise "
            "trainer.max_epochs"
        )
    if per_epoch is not None and per_epoch < MIN_EPOCH_STEPS:
        out.append(
            f"only {per_epoch} optimizer step(s) per epoch ({on}): the best checkpoint and "
            "early stopping judge the model after too few updates; lower trainer.batch_size"
        )
    best = summary["best_epoch"]
    if best == 1 and epochs > 2:
        out.append(
            f"the best {summary['monitor']} on the validation split was at the first of "
            f"{epochs} epochs: no later epoch improved on it (learning rate too high, or too "
            "few steps per epoch?)"
        )
    if summary["stopped_by"] == "max_time":
        out.append(
            f"training stopped by trainer.max_time ({max_time:g} s) after {epochs} of "
            f"{summary['max_epochs']} epochs"
        )
    if skipped:
        out.append(
            f"trainer.nonfinite: skip dropped {len(skipped)} batch(es) with a NaN/Inf loss or "
            f"gradient (global steps {skipped[:10]}{' ...' if len(skipped) > 10 else ''})"
        )
    return out


def metric_warnings(metrics: dict) -> list[str]:
    """Warnings about the test metrics: a prediction interval (``test_coverage_80``: the
    central 80% interval) whose empirical coverage on the test split is more than 0.15 from
    its level."""
    out = []
    for key, value in metrics.items():
        m = _COVERAGE.match(key)
        if not m or not isinstance(value, (int, float)):
            continue
        level = int(m.group(1)) / 100
        if abs(value - level) > MAX_COVERAGE_GAP:
            out.append(
                f"the {level:.0%} prediction interval covers {value:.0%} of the test split's "
                f"values (|coverage - level| = {abs(value - level):.2f} > {MAX_COVERAGE_GAP}): "
                "its intervals are miscalibrated"
            )
    return out


def report(warnings: list[str]) -> None:
    """Each warning as one line of the ``deeprnn.training`` log."""
    for line in warnings:
        log.warning("run health: %s", line)
