"""The run config: one :class:`RunConfig` per training run, read from YAML and written back.

A run is described by::

    task: classify            # a registered task: classify, tag, forecast, lm, ...
    seed: 0
    out_dir: runs/example
    data: {...}               # the task's DataConfig
    model: {...}              # the task's ModelConfig
    optim: {name: adam, lr: 0.001, scheduler: {name: cosine}}
    regularizers: {input_l2: 0.0, recurrent_l2: 1.0e-5}
    trainer: {max_epochs: 10, gradient_clip_norm: 1.0, early_stopping_patience: 3}

The ``data`` and ``model`` sections are resolved by the task that owns them (through the task
registry); ``optim`` and ``regularizers`` are the tasks' :mod:`deeprnn.tasks.optim` configs; the
generic dataclass <-> dict machinery is :mod:`deeprnn._schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deeprnn._schema import check_finite, from_dict
from deeprnn.tasks.optim import OptimConfig, RegularizerConfig
from deeprnn.tasks.registry import get_task


@dataclass
class TrainerConfig:
    """Everything about the training loop (passed on to ``lightning.Trainer``).

    The defaults are a recipe chosen on validation across six datasets nobody tuned them on
    (``benchmarks/default_recipe.py``): up to 30 epochs, early stopping on ``monitor`` after
    5 epochs without improvement (the best checkpoint is restored for test), gradient norms
    clipped at 1.0; with ``optim.scheduler: plateau``, ``model.revin: true`` for forecasting.

    ``batch_size`` (per process): ``null`` is auto: 32, or smaller so that an epoch has at least
    16 optimizer steps when the training split is small, never below 8
    (:func:`deeprnn.tasks._data.auto_batch_size`); the value trained with is written to the run
    folder's ``config.yaml`` and ``metrics.json["training"]``. A value given is always kept."""

    max_epochs: int = 30
    max_steps: int = -1
    # early stopping cannot end training before this many optimizer steps; null: the task's
    # default (forecasting: 200, so a run on a few dozen windows is not stopped after a handful
    # of steps; other tasks: 0)
    min_steps: int | None = None
    max_time: float | None = None  # seconds
    batch_size: int | None = None  # auto (see above)
    shuffle: bool = True
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    gradient_clip_norm: float | None = 1.0
    gradient_clip_value: float | None = None
    early_stopping_patience: int | None = 5
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    deterministic: bool = True
    progress_bar: bool = True
    log_every_n_steps: int = 10
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    limit_test_batches: int | float | None = None
    val_check_interval: int | float | None = None
    tensorboard: bool = True
    num_workers: int = 0
    num_threads: int | None = None  # torch CPU threads; 1 is fastest for small models
    # a NaN/Inf loss or gradient: "stop" (raise, naming the step) or "skip" the batch (warn, count)
    nonfinite: Literal["stop", "skip"] = "stop"

    def validate(self, where: str) -> None:
        if self.max_epochs < 1 and self.max_steps < 1:
            raise ValueError(f"{where}.max_epochs must be >= 1, got {self.max_epochs!r}")
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or self.batch_size < 1
        ):
            raise ValueError(
                f"{where}.batch_size must be >= 1 or null (auto), got {self.batch_size!r}"
            )
        if self.min_steps is not None and (
            isinstance(self.min_steps, bool)
            or not isinstance(self.min_steps, int)
            or self.min_steps < 0
        ):
            raise ValueError(
                f"{where}.min_steps must be an int >= 0 or null (the task's default), "
                f"got {self.min_steps!r}"
            )
        if self.min_steps and 0 < self.max_steps <= self.min_steps:
            raise ValueError(
                f"{where}.min_steps must be below {where}.max_steps (the run validates at its "
                f"last step), got min_steps={self.min_steps}, max_steps={self.max_steps}"
            )
        for name in ("gradient_clip_norm", "gradient_clip_value", "max_time"):
            if getattr(self, name) is not None:
                check_finite(where, name, getattr(self, name), positive=True)


@dataclass
class FinetuneConfig:
    """Transfer learning: start from a trained model, freeze and later unfreeze layers.

    ``init_from``: a run folder (``runs/imdb_lm``) or its export folder (``runs/imdb_lm/model``,
    ``config.json`` + ``model.safetensors``); every weight whose name and shape match is
    copied, the rest keep their fresh initialisation, and the run says which were copied. A
    language model's ``encoder.*`` weights (embedding + recurrent blocks) so start a
    classifier's encoder (ULMFiT). A text model reads with the export's vocabulary (set as
    ``data.vocab_path`` when that is unset; another vocabulary is an error).
    ``freeze``: parameter-name prefixes to freeze (``["encoder.input.embedding",
    "encoder.rnn.blocks.0"]``); ``unfreeze_at_epoch`` makes them trainable again from that
    epoch on. ``gradual_unfreeze`` (ULMFiT): epoch 0 trains the head only, and every epoch
    unfreezes one more layer group from the top (top recurrent block, ..., the embedding)."""

    init_from: str | None = None
    freeze: list[str] = field(default_factory=list)
    unfreeze_at_epoch: int | None = None
    gradual_unfreeze: bool = False

    def validate(self, where: str) -> None:
        if self.gradual_unfreeze and self.unfreeze_at_epoch is not None:
            raise ValueError(
                f"{where}.gradual_unfreeze unfreezes the layer groups one per epoch and "
                f"{where}.unfreeze_at_epoch={self.unfreeze_at_epoch!r} all at once: set one"
            )


@dataclass
class RunConfig:
    """One training run. ``data`` and ``model`` are the task's own config dataclasses."""

    task: str = "classify"
    seed: int = 0
    out_dir: str = "runs/run"
    data: Any = None
    model: Any = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    regularizers: RegularizerConfig = field(default_factory=RegularizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    export: bool = True
    # the baselines scored beside the model (deeprnn.tasks.baselines): true (every one of the
    # task's, the costly ones within a size cap), false (none), or a list of names
    baselines: bool | list[str] = True

    def validate(self, where: str) -> None:
        from deeprnn.tasks.baselines import check_selection

        check_selection(self.baselines, f"{where}.baselines")


def run_config_from_dict(data: dict, where: str = "config") -> RunConfig:
    """Build a :class:`RunConfig`, the ``data`` and ``model`` sections by the task's classes."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping, got {data!r}")
    data = dict(data)
    task = data.get("task", RunConfig.task)
    spec = get_task(task)
    model = from_dict(spec.model_config, data.pop("model", None), f"{where}.model")
    dcfg = from_dict(spec.data_config, data.pop("data", None), f"{where}.data")
    run = from_dict(RunConfig, data, where)
    run.model, run.data = model, dcfg
    return run
