"""Optimizers, learning-rate schedules and Keras-style weight penalties: their configs and
what is built from them.

A task's ``configure_optimizers`` returns ``build_optimizers(module, OptimConfig, ...)``;
``weight_penalty(module, RegularizerConfig)`` is the term its ``training_step`` adds to the loss.
:func:`build_optimizer` is the one place an optimizer is made, from an :class:`OptimConfig` (the
tasks) or from a Keras name, class or instance (``deeprnn.fit``); the weight penalties are the
layers' Keras regularizers (:mod:`deeprnn.layers.regularizers`), whose table says which
parameter is which kind of weight.
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
from deeprnn.layers.regularizers import KINDS, L1L2, Regularizer

#: the schedules that advance every optimizer step over a known total
PER_STEP = ("onecycle", "slanted_triangular")
#: the schedules shaped by the number of epochs they span (``horizon_epochs``)
SPANNING = ("cosine", *PER_STEP)


@dataclass
class SchedulerConfig:
    r"""A learning-rate schedule. ``name``: ``none``, ``step`` (``step_size``, ``gamma``),
    ``exponential`` (``gamma``), ``cosine`` (over ``trainer.max_epochs``, down to ``min_lr``),
    ``plateau`` (``factor``, ``patience`` on ``trainer.monitor``), ``onecycle`` (per step,
    peak ``optim.lr``) or ``slanted_triangular`` (ULMFiT's STLR, per step: from
    ``lr / ratio`` up to ``lr`` over the first ``cut_frac`` of the steps, then linearly down to
    ``lr / ratio``; built as torch's ``OneCycleLR`` with linear annealing, ``pct_start =
    cut_frac``, ``div_factor = ratio``, ``final_div_factor = 1`` and no momentum cycling, which
    is the same shape). Both per-step schedules peak every parameter group at its own rate
    (``optim.layer_lr_decay``). ``horizon_epochs``: the epochs that ``cosine``, ``onecycle``
    and ``slanted_triangular`` span (default ``trainer.max_epochs``); a run that stops before
    it ends with the rates it had reached. A refit (``data.refit``) sets it to the folds'
    ``trainer.max_epochs``, so its epoch ``e`` trains at the rate the folds' epoch ``e`` did.
    ``warmup_steps`` multiplies any of them but the per-step ones (which warm up themselves) by a linear warm-up over its first optimizer steps:
    :math:`\eta_s = \eta_{\text{schedule}}(e) \cdot \min(1, (s + 1) / W)`.
    The default, ``plateau`` (halve the rate after 2 epochs without improvement), is part of the
    default recipe (:class:`~deeprnn.training.TrainerConfig`)."""

    name: Literal[
        "none", "step", "exponential", "cosine", "plateau", "onecycle", "slanted_triangular"
    ] = "plateau"
    step_size: int = 10
    gamma: float = 0.5
    factor: float = 0.5
    patience: int = 2
    min_lr: float = 0.0
    warmup_steps: int = 0
    cut_frac: float = 0.1
    ratio: float = 32.0
    horizon_epochs: int | None = None

    def validate(self, where: str) -> None:
        h = self.horizon_epochs
        if h is not None and (isinstance(h, bool) or not isinstance(h, int) or h < 1):
            raise ValueError(f"{where}.horizon_epochs must be an int >= 1 or null, got {h!r}")
        if not 0.0 < self.cut_frac < 1.0:
            raise ValueError(f"{where}.cut_frac must be in (0, 1), got {self.cut_frac!r}")
        check_finite(where, "ratio", self.ratio, positive=True)
        if self.ratio < 1.0:
            raise ValueError(f"{where}.ratio must be >= 1, got {self.ratio!r}")


@dataclass
class OptimConfig:
    """The optimizer: ``adam``, ``adamw``, ``sgd`` or ``rmsprop``.

    ``layer_lr_decay`` (discriminative learning rates, ULMFiT: 2.6): the model's layer groups
    (:func:`deeprnn.tasks.optim.layer_groups`: input layer, each recurrent block, head)
    train at ``lr`` for the top group and ``lr / layer_lr_decay ** k`` for the group ``k``
    below it; 1 (the default) trains every weight at ``lr``."""

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    layer_lr_decay: float = 1.0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def validate(self, where: str) -> None:
        check_finite(where, "lr", self.lr, positive=True)
        check_finite(where, "layer_lr_decay", self.layer_lr_decay, positive=True)
        if self.layer_lr_decay < 1.0:
            raise ValueError(
                f"{where}.layer_lr_decay must be >= 1 (lower layers train slower), "
                f"got {self.layer_lr_decay!r}"
            )
        for name in ("weight_decay", "momentum", "eps"):
            check_finite(where, name, getattr(self, name))
        if len(self.betas) != 2 or not all(is_number(b) and 0 <= b < 1 for b in self.betas):
            raise ValueError(f"{where}.betas must be two numbers in [0, 1), got {self.betas!r}")


_CONFIG_KEYS = {"kernel": "input", "recurrent": "recurrent", "bias": "bias"}  # kind -> key prefix


@dataclass
class RegularizerConfig:
    """Keras-style weight penalties added to the loss, on the recurrent layers' weights:
    ``input`` = ``weight_ih`` (Keras ``kernel_regularizer``), ``recurrent`` = ``weight_hh``,
    ``bias`` = the gate biases. L1 adds ``l1 * sum|w|``, L2 adds ``l2 * sum(w**2)``: each kind
    is one Keras :class:`~deeprnn.layers.regularizers.L1L2` (:meth:`regularizers`)."""

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

    def regularizers(self) -> dict[str, Regularizer | None]:
        """The regularizer of each weight kind of :data:`~deeprnn.layers.regularizers.KINDS`
        (``kernel``, ``recurrent``, ``bias``; ``None`` where both factors are 0)."""
        out: dict[str, Regularizer | None] = {}
        for kind, key in _CONFIG_KEYS.items():
            l1, l2 = getattr(self, f"{key}_l1"), getattr(self, f"{key}_l2")
            out[kind] = L1L2(l1, l2) if l1 or l2 else None
        return out


_OPTIMIZERS = {  # name -> (class, Keras' default learning rate, the OptimConfig keys it takes)
    "adam": (torch.optim.Adam, 1e-3, ("betas", "eps", "weight_decay")),
    "adamw": (torch.optim.AdamW, 1e-3, ("betas", "eps", "weight_decay")),
    "sgd": (torch.optim.SGD, 1e-2, ("momentum", "nesterov", "weight_decay")),
    "rmsprop": (torch.optim.RMSprop, 1e-3, ("momentum", "eps", "weight_decay")),
    "adagrad": (torch.optim.Adagrad, 1e-3, ("eps", "weight_decay")),
}


def build_optimizer(params, optimizer="adam", lr: float | None = None) -> torch.optim.Optimizer:
    """A ``torch.optim.Optimizer`` over ``params``, from any of:

    * an :class:`OptimConfig` (a task's ``optim:`` section): its name, ``lr``, ``betas``,
      ``eps``, ``momentum``, ``nesterov`` and ``weight_decay``, over the trainable parameters
      only (an error when every one is frozen);
    * a name (``adam``, ``adamw``, ``sgd``, ``rmsprop``, ``adagrad``): Keras' default learning
      rates, torch's other defaults;
    * a class or factory ``params -> Optimizer`` (``functools.partial(torch.optim.SGD,
      momentum=0.9)``; ``lr`` is passed when given);
    * an optimizer instance (built on the model's parameters; its state carries over between
      fits), returned as it is.

    ``lr`` sets the learning rate of a name or a factory (default: Keras' for that name).
    """
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or lr <= 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(optimizer, OptimConfig | torch.optim.Optimizer) and lr is not None:
        what = "config" if isinstance(optimizer, OptimConfig) else "instance"
        raise ValueError(
            f"lr={lr!r} cannot be applied to an optimizer {what}; set it when building it"
        )
    if isinstance(optimizer, OptimConfig):
        params = list(params)
        if params and isinstance(params[0], dict):  # layer groups: frozen ones kept, to unfreeze
            if not any(p.requires_grad for g in params for p in g["params"]):
                raise ValueError("the model has no trainable parameters (are all layers frozen?)")
        else:
            params = [p for p in params if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters (are all layers frozen?)")
        cls, _, keys = _OPTIMIZERS[optimizer.name]
        options = {k: getattr(optimizer, k) for k in keys}
        if "betas" in options:
            options["betas"] = tuple(options["betas"])
        return cls(params, lr=optimizer.lr, **options)
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(_OPTIMIZERS)}, an optimizer class or "
                f"instance, got {optimizer!r}"
            )
        cls, default_lr, _ = _OPTIMIZERS[key]
        return cls(params, lr=default_lr if lr is None else lr)
    if callable(optimizer):
        opt = optimizer(params) if lr is None else optimizer(params, lr=lr)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer factory {optimizer!r} must return a torch.optim.Optimizer, "
                f"got {type(opt).__name__}"
            )
        return opt
    raise TypeError(
        f"optimizer must be a name, a class, a factory or an instance, got {optimizer!r}"
    )


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
    elif sched.name in PER_STEP:
        if not total_steps or total_steps <= 0 or math.isinf(total_steps):
            raise ValueError(
                f"optim.scheduler.name={sched.name!r} needs a finite number of steps "
                "(trainer.max_epochs with a sized data set, or trainer.max_steps)"
            )
        peaks = [g["lr"] for g in opt.param_groups]  # each layer group peaks at its own rate
        if sched.name == "onecycle":
            s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peaks, total_steps=int(total_steps))
        else:  # ULMFiT's STLR is one-cycle's linear two-phase shape, momentum left alone
            s = torch.optim.lr_scheduler.OneCycleLR(
                opt,
                max_lr=peaks,
                total_steps=int(total_steps),
                pct_start=sched.cut_frac,
                anneal_strategy="linear",
                div_factor=sched.ratio,
                final_div_factor=1.0,
                cycle_momentum=False,
            )
        schedulers.append({"scheduler": s, "interval": "step"})
    if sched.warmup_steps > 0:
        if sched.name in PER_STEP:
            raise ValueError(
                f"optim.scheduler.warmup_steps does not combine with name={sched.name!r}, which "
                "warms up itself; set warmup_steps: 0"
            )
        # LinearLR is chainable: it multiplies the rate by f(s) / f(s - 1), so the epoch
        # schedules (multiplicative themselves) compose with it: lr = schedule(epoch) * f(step),
        # f(s) = min(1, (s + 1) / warmup_steps). (A LambdaLR would set lr = base * f(s) at
        # every step and so cancel the schedule it warms up.)
        warm = torch.optim.lr_scheduler.LinearLR(
            opt,
            start_factor=1.0 / sched.warmup_steps,
            end_factor=1.0,
            total_iters=max(sched.warmup_steps - 1, 0),
        )
        schedulers.append({"scheduler": warm, "interval": "step"})
    if not schedulers:
        return opt
    return [opt], schedulers


def layer_groups(model: nn.Module) -> list[tuple[str, list[tuple[str, nn.Parameter]]]]:
    """ULMFiT's layer groups, ``[(name, [(param_name, param), ...]), ...]`` bottom to top: ``encoder.input``, each
    ``encoder.rnn.blocks.<i>`` (the encoder's other RNN parameters, layer norms and skip
    projections, join the top block), then ``head`` (everything else). Empty groups are left
    out; a model without an ``encoder`` is one group."""
    named = [(n, p) for n, p in model.named_parameters()]
    blocks = getattr(getattr(getattr(model, "encoder", None), "rnn", None), "blocks", None)
    if blocks is None:
        return [("all", named)] if named else []
    n_blocks = len(blocks)
    groups: dict[str, list] = {"encoder.input": []}
    for i in range(n_blocks):
        groups[f"encoder.rnn.blocks.{i}"] = []
    groups["head"] = []
    top = f"encoder.rnn.blocks.{n_blocks - 1}" if n_blocks else "encoder.input"
    for name, p in named:
        if name.startswith("encoder.input."):
            groups["encoder.input"].append((name, p))
        elif name.startswith("encoder.rnn.blocks."):
            i = name.split(".")[3]
            groups[f"encoder.rnn.blocks.{i}"].append((name, p))
        elif name.startswith("encoder."):
            groups[top].append((name, p))
        else:
            groups["head"].append((name, p))
    return [(g, ps) for g, ps in groups.items() if ps]


def lr_groups(model: nn.Module, lr: float, decay: float) -> list[dict]:
    """Optimizer parameter groups, one per layer group, group ``g`` of ``G`` at
    ``lr / decay ** (G - 1 - g)`` (the top group at ``lr``). Frozen parameters are kept, so
    unfreezing one later needs no new group (it starts receiving gradients)."""
    groups = layer_groups(model)
    n = len(groups)
    return [
        {"params": [p for _, p in ps], "lr": lr / decay ** (n - 1 - g), "name": name}
        for g, (name, ps) in enumerate(groups)
    ]


def weight_penalty(module: nn.Module, cfg: RegularizerConfig) -> Tensor | None:
    """``sum_kind l1_kind * sum|w| + l2_kind * sum(w**2)`` over every recurrent cell's weights.

    Kinds: ``input`` (``weight_ih``), ``recurrent`` (``weight_hh``), ``bias`` (gate biases), as
    Keras' ``kernel_regularizer`` / ``recurrent_regularizer`` / ``bias_regularizer``: the
    regularizers of :meth:`RegularizerConfig.regularizers` on the weights that the layers' table
    (:data:`~deeprnn.layers.regularizers.KINDS`) names. Embeddings, heads, layer-norm gains and
    frozen weights are not penalised. Returns ``None`` when every coefficient is 0.
    """
    from deeprnn.cells import RecurrentCell

    if not cfg.active:
        return None
    regularizers = cfg.regularizers()
    total = None
    for cell in module.modules():
        if not isinstance(cell, RecurrentCell):
            continue
        for name, p in cell.named_parameters(recurse=False):
            regularizer = regularizers.get(KINDS.get(name))
            if regularizer is None or not p.requires_grad:
                continue
            term = regularizer(p)
            total = term if total is None else total + term
    return total
