"""``TaskModule``: the LightningModule every task family builds on.

A task model is built from ``(config, artifacts)``: its typed model config and the JSON-able
artifacts fitted on the training data (vocabulary, labels, input size, scaler). The same pair
rebuilds it from a Lightning checkpoint (``load_checkpoint``) or an export folder
(:func:`deeprnn.export.load_exported`), so nothing is ever unpickled.

Subclasses implement

* ``step(batch, stage) -> (loss, {metric: value})`` — one batch of train/val/test;
* ``predict_raw(records) -> list[dict]`` — raw inputs (strings or CSV rows) to outputs;
* ``onnx_inputs(batch_size, steps) -> dict`` and ``onnx_forward(**inputs)`` — what the ONNX
  graph takes and returns (batch and time dynamic; ``onnx_fixed_length`` names the inputs whose
  dim 1 is not the time, such as a forecaster's horizon covariates).

The base class owns optimizers and schedules, gradient clipping by norm and/or value,
Keras-style L1/L2 penalties on input/recurrent/bias weights, and epoch-level metric hooks.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as pl
from torch import Tensor

from deeprnn._schema import from_dict, to_dict
from deeprnn.tasks.optim import (
    PER_STEP,
    OptimConfig,
    RegularizerConfig,
    build_optimizers,
    weight_penalty,
)


def gather_objects(module: pl.LightningModule, items: list) -> list:
    """Every process's ``items`` concatenated (in rank order) under DDP; ``items`` otherwise.

    For epoch-level metrics that are not sums (seqeval's entity F1, corpus BLEU): each rank
    collects its predictions, and all ranks score the whole evaluation set alike.
    """
    import torch.distributed as dist

    trainer = module._trainer
    if trainer is None or trainer.world_size == 1 or not dist.is_initialized():
        return list(items)
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(items))
    return [x for part in gathered for x in part]


class TaskModule(pl.LightningModule):
    """Base LightningModule. ``config_class`` is the task's model-config dataclass."""

    config_class: type = object
    task_name: str = "?"

    # model-config keys whose default changed: what a saved config without the key meant (a
    # checkpoint or export folder written before the key existed is rebuilt as it was trained)
    saved_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_saved(cls, config: Any = None, artifacts: dict | None = None, **kwargs):
        """The model of a saved config (checkpoint hyper-parameters, ``config.json``)."""
        if isinstance(config, dict):
            config = {**cls.saved_defaults, **config}
        return cls(config, artifacts, **kwargs)

    def __init__(
        self,
        config: Any = None,
        artifacts: dict | None = None,
        optim: dict | OptimConfig | None = None,
        regularizers: dict | RegularizerConfig | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ):
        super().__init__()
        if config is None or isinstance(config, dict):
            config = from_dict(self.config_class, config, "model")
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"config must be a {self.config_class.__name__} or a dict, got {type(config).__name__}"
            )
        self.config = config
        self.artifacts = dict(artifacts or {})
        self.optim_config = (
            optim if isinstance(optim, OptimConfig) else from_dict(OptimConfig, optim, "optim")
        )
        self.reg_config = (
            regularizers
            if isinstance(regularizers, RegularizerConfig)
            else from_dict(RegularizerConfig, regularizers, "regularizers")
        )
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        # plain dicts only: checkpoints load with torch.load(weights_only=True)
        self.save_hyperparameters(
            {
                "config": to_dict(config),
                "artifacts": self.artifacts,
                "optim": to_dict(self.optim_config),
                "regularizers": to_dict(self.reg_config),
                "clip_norm": clip_norm,
                "clip_value": clip_value,
            }
        )

    # -- to implement ------------------------------------------------------------------------------
    def step(self, batch, stage: str) -> tuple[Tensor, dict[str, Tensor | float]]:
        raise NotImplementedError

    def predict_raw(self, records: list, **options) -> list[dict]:
        raise NotImplementedError(f"{type(self).__name__} does not predict from raw inputs")

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} has no ONNX export")

    def onnx_forward(self, **inputs) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no ONNX export")

    def example_input(self) -> dict[str, Tensor]:
        """Inputs for ``deeprnn.summary`` (the ONNX example inputs by default): as many steps as
        the model reads (``artifacts["input_window"]`` of a forecaster, so a segment encoder
        whose ``segment_length`` must divide the length gets a length it reads), else 20."""
        steps = int((getattr(self, "artifacts", None) or {}).get("input_window", 20))
        return self.onnx_inputs(1, steps)

    # -- the loop ----------------------------------------------------------------------------------
    def _log_metrics(self, stage: str, loss: Tensor, metrics: dict, batch_size: int) -> None:
        on_step = stage == "train"
        self.log(
            f"{stage}_loss",
            loss,
            prog_bar=True,
            on_step=on_step,
            on_epoch=True,
            batch_size=batch_size,
            sync_dist=True,
        )
        for name, value in metrics.items():
            self.log(
                f"{stage}_{name}",
                value,
                prog_bar=stage != "train",
                on_step=False,
                on_epoch=True,
                batch_size=batch_size,
                sync_dist=stage != "train" and not hasattr(value, "compute"),
            )

    def batch_size_of(self, batch) -> int:
        first = batch[0] if isinstance(batch, (tuple, list)) else next(iter(batch.values()))
        return int(first.shape[0])

    def training_step(self, batch, batch_idx: int) -> Tensor:
        loss, metrics = self.step(batch, "train")
        penalty = weight_penalty(self, self.reg_config)
        self._log_metrics("train", loss, metrics, self.batch_size_of(batch))
        if penalty is not None:
            self.log("train_penalty", penalty, on_step=False, on_epoch=True)
            loss = loss + penalty
        return loss

    def validation_step(self, batch, batch_idx: int) -> Tensor:
        loss, metrics = self.step(batch, "val")
        self._log_metrics("val", loss, metrics, self.batch_size_of(batch))
        return loss

    def test_step(self, batch, batch_idx: int) -> Tensor:
        loss, metrics = self.step(batch, "test")
        self._log_metrics("test", loss, metrics, self.batch_size_of(batch))
        return loss

    # -- optimisation ------------------------------------------------------------------------------
    def configure_optimizers(self):
        trainer = self._trainer
        max_epochs = trainer.max_epochs if trainer is not None and trainer.max_epochs else 1
        total = None
        ckpt = trainer.checkpoint_callback if trainer is not None else None
        per_step = self.optim_config.scheduler.name in PER_STEP
        if per_step and trainer is not None:
            total = trainer.estimated_stepping_batches
        horizon = self.optim_config.scheduler.horizon_epochs
        if horizon is not None:  # the schedule spans `horizon` epochs, not this run's max_epochs
            if total is not None:
                if trainer.max_steps not in (-1, None) or not trainer.max_epochs:
                    raise ValueError(
                        "optim.scheduler.horizon_epochs counts epochs, and this run's per-step "
                        f"schedule is bounded by trainer.max_steps={trainer.max_steps!r}: set "
                        "one of them"
                    )
                total = math.ceil(total * horizon / trainer.max_epochs)
            max_epochs = horizon
        params = self.parameters()
        if self.optim_config.layer_lr_decay != 1.0:  # discriminative rates per layer group
            from deeprnn.tasks.optim import lr_groups

            params = lr_groups(self, self.optim_config.lr, self.optim_config.layer_lr_decay)
        return build_optimizers(
            params,
            self.optim_config,
            max_epochs=max_epochs,
            total_steps=total,
            monitor=ckpt.monitor if ckpt is not None else "val_loss",
            mode=ckpt.mode if ckpt is not None else "min",
        )

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        """Clip by global norm and/or by value (``trainer.gradient_clip_norm / _value``)."""
        from deeprnn.gradients import clip_gradients

        norm = self.clip_norm
        value = self.clip_value
        if norm is None and value is None:
            if gradient_clip_val:
                self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        groups = self.gradient_groups()
        if len(groups) == 1:
            total = clip_gradients(groups[0], max_norm=norm, clip_value=value)
        else:  # an ensemble: each member clipped on its own, as it would be alone
            from deeprnn.models.ensemble import clip_members

            total = clip_members(groups, max_norm=norm, clip_value=value)
        if self._trainer is not None:
            self.log("grad_norm", total, on_step=True, on_epoch=False)

    def gradient_groups(self) -> list:
        """The modules gradient clipping treats apart: the model, or the members of an ensemble
        (:mod:`deeprnn.models.ensemble`), whose global norms must not mix."""
        return [self]

    # -- checkpoints ---------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["deeprnn_task"] = self.task_name

    @classmethod
    def load_checkpoint(cls, path: str | Path, map_location: str = "cpu") -> TaskModule:
        """Rebuild a task model from a Lightning ``.ckpt`` (``torch.load(weights_only=True)``)."""
        from deeprnn.tasks.registry import load_checkpoint

        return load_checkpoint(path, map_location=map_location, expect=cls)

    def replace_config(self, **changes) -> Any:
        return dataclasses.replace(self.config, **changes)
