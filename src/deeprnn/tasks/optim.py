"""Optimizers, learning-rate schedules and Keras-style weight penalties: their configs and
what is built from them.

A task's ``configure_optimizers`` returns ``build_optimizers(module, OptimConfig, ...)``;
``weight_penalty(module, RegularizerConfig)`` is the term its ``training_step`` adds to the loss.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from deeprnn._schema import check_finite
from deeprnn._validation import is_number


@dataclass
class SchedulerConfig:
    """A learning-rate schedule. ``name``: ``none``, ``step`` (``step_size``, ``gamma``),
    ``exponential`` (``gamma``), ``cosine`` (over ``trainer.max_epochs``, down to ``min_lr``),
    ``plateau`` (``factor``, ``patience`` on ``trainer.monitor``) or ``onecycle`` (per step,
    peak ``optim.lr``). ``warmup_steps`` adds a linear warm-up (per step) in front of any.
    The default, ``plateau`` (halve the rate after 2 epochs without improvement), is part of the
    default recipe (:class:`~deeprnn.training.TrainerConfig`)."""

    name: Literal["none", "step", "exponential", "cosine", "plateau", "onecycle"] = "plateau"
    step_size: int = 10
    gamma: float = 0.5
    factor: float = 0.5
    patience: int = 2
    min_lr: float = 0.0
    warmup_steps: int = 0


@dataclass
class OptimConfig:
    """The optimizer: ``adam``, ``adamw``, ``sgd`` or ``rmsprop``."""

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def validate(self, where: str) -> None:
        check_finite(where, "lr", self.lr, positive=True)
        for name in ("weight_decay", "momentum", "eps"):
            check_finite(where, name, getattr(self, name))
        if len(self.betas) != 2 or not all(is_number(b) and 0 <= b < 1 for b in self.betas):
            raise ValueError(f"{where}.betas must be two numbers in [0, 1), got {self.betas!r}")


@dataclass
class RegularizerConfig:
    """Keras-style weight penalties added to the loss, on the recurrent layers' weights:
    ``input`` = ``weight_ih`` (Keras ``kernel_regularizer``), ``recurrent`` = ``weight_hh``,
    ``bias`` = the gate biases. L1 adds ``l1 * sum|w|``, L2 adds ``l2 * sum(w**2)``."""

    input_l1: float = 0.0
    input_l2: float = 0.0
    recurrent_l1: float = 0.0
    recurrent_l2: float = 0.0
    bias_l1: float = 0.0
    bias_l2: float = 0.0

    def validate(self, where: str) -> None:
        for f in dataclasses.fields(self):
            check_finite(where, f.name, getattr(self, f.name))

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD / RMSprop over ``params`` (trainable ones only)."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (are all layers frozen?)")
    if cfg.name == "adam":
        return torch.optim.Adam(
            params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    if cfg.name == "adamw":
        return torch.optim.AdamW(
            params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    return torch.optim.RMSprop(
        params, lr=cfg.lr, momentum=cfg.momentum, eps=cfg.eps, weight_decay=cfg.weight_decay
    )


class _Warmup:
    """Linear warm-up factor over ``steps`` optimizer steps (a picklable LambdaLR function)."""

    def __init__(self, steps: int):
        self.steps = steps

    def __call__(self, step: int) -> float:
        return min(1.0, (step + 1) / self.steps)


def build_optimizers(
    parameters,
    cfg: OptimConfig,
    *,
    max_epochs: int,
    total_steps: int | None,
    monitor: str,
    mode: str = "min",
):
    """The ``configure_optimizers`` return value for ``cfg`` (optimizer + optional schedules)."""
    opt = build_optimizer(parameters, cfg)
    sched = cfg.scheduler
    schedulers = []
    if sched.name == "step":
        schedulers.append(
            {
                "scheduler": torch.optim.lr_scheduler.StepLR(opt, sched.step_size, sched.gamma),
                "interval": "epoch",
            }
        )
    elif sched.name == "exponential":
        s = torch.optim.lr_scheduler.ExponentialLR(opt, sched.gamma)
        schedulers.append({"scheduler": s, "interval": "epoch"})
    elif sched.name == "cosine":
        s = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=max(1, max_epochs), eta_min=sched.min_lr
        )
        schedulers.append({"scheduler": s, "interval": "epoch"})
    elif sched.name == "plateau":
        s = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=sched.factor, patience=sched.patience, min_lr=sched.min_lr
        )  # mode follows trainer.mode: "max" for accuracy or BLEU
        schedulers.append({"scheduler": s, "interval": "epoch", "monitor": monitor})
    elif sched.name == "onecycle":
        if not total_steps or total_steps <= 0 or math.isinf(total_steps):
            raise ValueError(
                "optim.scheduler.name='onecycle' needs a finite number of steps "
                "(trainer.max_epochs with a sized data set, or trainer.max_steps)"
            )
        s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=int(total_steps))
        schedulers.append({"scheduler": s, "interval": "step"})
    if sched.warmup_steps > 0:
        warm = torch.optim.lr_scheduler.LambdaLR(opt, _Warmup(sched.warmup_steps))
        schedulers.append({"scheduler": warm, "interval": "step"})
    if not schedulers:
        return opt
    return [opt], schedulers


_KINDS = {
    "weight_ih": "input",
    "weight_hh": "recurrent",
    "bias": "bias",
    "bias_ih": "bias",
    "bias_hh": "bias",
}


def weight_penalty(module: nn.Module, cfg: RegularizerConfig) -> Tensor | None:
    """``sum_kind l1_kind * sum|w| + l2_kind * sum(w**2)`` over every recurrent cell's weights.

    Kinds: ``input`` (``weight_ih``), ``recurrent`` (``weight_hh``), ``bias`` (gate biases), as
    Keras' ``kernel_regularizer`` / ``recurrent_regularizer`` / ``bias_regularizer``. Embeddings,
    heads and layer-norm gains are not penalised. Returns ``None`` when every coefficient is 0.
    """
    from deeprnn.cells import RecurrentCell

    if not cfg.active:
        return None
    total = None
    for cell in module.modules():
        if not isinstance(cell, RecurrentCell):
            continue
        for name, p in cell.named_parameters(recurse=False):
            kind = _KINDS.get(name)
            if kind is None or not p.requires_grad:
                continue
            l1, l2 = getattr(cfg, f"{kind}_l1"), getattr(cfg, f"{kind}_l2")
            if l1:
                total = l1 * p.abs().sum() if total is None else total + l1 * p.abs().sum()
            if l2:
                total = l2 * p.pow(2).sum() if total is None else total + l2 * p.pow(2).sum()
    return total
