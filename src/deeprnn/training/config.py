"""Typed run configs: dataclasses with defaults that work, read from YAML/dicts and written back.

A run is described by one :class:`RunConfig`::

    task: classify            # a registered task: classify, tag, forecast, lm, ...
    seed: 0
    out_dir: runs/example
    data: {...}               # the task's DataConfig
    model: {...}              # the task's ModelConfig
    optim: {name: adam, lr: 0.001, scheduler: {name: cosine}}
    regularizers: {input_l2: 0.0, recurrent_l2: 1.0e-5}
    trainer: {max_epochs: 10, gradient_clip_norm: 1.0, early_stopping_patience: 3}

:func:`from_dict` builds any config dataclass from a plain dict and rejects unknown keys with the
list of valid keys and the closest one; :func:`to_dict` is its inverse, so every config
round-trips (``from_dict(cls, to_dict(c)) == c``). :func:`apply_overrides` applies the
``--trainer.max_epochs 3`` style overrides of the command line.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from deeprnn._validation import close_key_hint, is_number

# -- generic dataclass <-> dict ---------------------------------------------------------------


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(tp, value, where: str):
    """Check (and lightly convert) ``value`` against the annotation ``tp``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise ValueError(errors[-1] if len(errors) == 1 else f"{where}: got {value!r}; {errors}")
    if origin is Literal:
        choices = list(typing.get_args(tp))
        if value not in choices:
            hint = (
                close_key_hint(value, [str(c) for c in choices]) if isinstance(value, str) else ""
            )
            raise ValueError(f"{where} must be one of {choices}, got {value!r}{hint}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {type(value).__name__} {value!r}")
        (arg,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(arg, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an int, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return value
    return value


def from_dict(cls, data: dict | None, where: str = "config"):
    """Build the dataclass ``cls`` from ``data``; unknown keys and wrong types are errors.

    >>> from_dict(OptimConfig, {"name": "sgd", "lr": 0.1}).momentum
    0.0
    >>> from_dict(OptimConfig, {"lr": 0.1, "moment": 0.9})
    Traceback (most recent call last):
    ValueError: optim has unknown key 'moment' (did you mean 'momentum'?); valid keys: ...
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ValueError(
                f"{where} has unknown key {key!r}{close_key_hint(str(key), names)}; "
                f"valid keys: {', '.join(names)}"
            )
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check(where)
    return obj


def to_dict(obj) -> Any:
    """A dataclass (nested) as plain JSON/YAML-able dicts and lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def parse_value(text: str) -> Any:
    """A command-line value read as YAML: ``3`` -> 3, ``1e-3`` -> 0.001, ``[a, b]`` -> list."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            return float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            return value
    return value


def apply_overrides(config: dict, overrides: list[tuple[str, Any]]) -> dict:
    """Set dotted keys (``trainer.max_epochs``) in a nested dict, creating levels as needed."""
    config = dict(config)
    for key, value in overrides:
        parts = key.split(".")
        if not all(parts):
            raise ValueError(f"override key must look like section.key, got {key!r}")
        node = config
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ValueError(
                    f"cannot set {key!r}: {'.'.join(parts[: i + 1])} is {child!r}, not a section"
                )
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = value
    return config


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file; a missing file or bad YAML names the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ValueError(
            f"config file {path}:{line}: not valid UTF-8 "
            f"(byte 0x{raw[e.start]:02x} at offset {e.start})"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"config file {path} is not valid YAML: {_yaml_problem(e)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping at the top, got {data!r}")
    return data


def _yaml_problem(e) -> str:
    """PyYAML's multi-line error as one line: ``line L, column C: problem (context)``."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(e).split())
    context = getattr(e, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    return f"{where}: {problem}" + (f" ({context})" if context else "")


def _check_finite(where: str, name: str, value, *, positive: bool = False) -> None:
    """``value`` a finite number (not NaN or Inf), > 0 with ``positive`` else >= 0."""
    if not is_number(value):
        raise ValueError(f"{where}.{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{where}.{name} must be positive, got {value!r}")
    if not positive and value < 0:
        raise ValueError(f"{where}.{name} must be >= 0, got {value!r}")


# -- the training configs ---------------------------------------------------------------------


@dataclass
class SchedulerConfig:
    """A learning-rate schedule. ``name``: ``none``, ``step`` (``step_size``, ``gamma``),
    ``exponential`` (``gamma``), ``cosine`` (over ``trainer.max_epochs``, down to ``min_lr``),
    ``plateau`` (``factor``, ``patience`` on ``trainer.monitor``) or ``onecycle`` (per step,
    peak ``optim.lr``). ``warmup_steps`` adds a linear warm-up (per step) in front of any."""

    name: Literal["none", "step", "exponential", "cosine", "plateau", "onecycle"] = "none"
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
        _check_finite(where, "lr", self.lr, positive=True)
        for name in ("weight_decay", "momentum", "eps"):
            _check_finite(where, name, getattr(self, name))
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
            _check_finite(where, f.name, getattr(self, f.name))

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))


@dataclass
class TrainerConfig:
    """Everything about the training loop (passed on to ``lightning.Trainer``)."""

    max_epochs: int = 10
    max_steps: int = -1
    max_time: float | None = None  # seconds
    batch_size: int = 32
    shuffle: bool = True
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    gradient_clip_norm: float | None = None
    gradient_clip_value: float | None = None
    early_stopping_patience: int | None = None
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
        if self.batch_size < 1:
            raise ValueError(f"{where}.batch_size must be >= 1, got {self.batch_size!r}")
        for name in ("gradient_clip_norm", "gradient_clip_value", "max_time"):
            if getattr(self, name) is not None:
                _check_finite(where, name, getattr(self, name), positive=True)


@dataclass
class FinetuneConfig:
    """Transfer learning: start from an exported model, freeze and later unfreeze layers.

    ``init_from``: an export folder (``config.json`` + ``model.safetensors``); every weight whose
    name and shape match is copied, the rest keep their fresh initialisation. ``freeze``:
    parameter-name prefixes to freeze (``["embedding", "rnn.blocks.0"]``); ``unfreeze_at_epoch``
    makes them trainable again from that epoch on."""

    init_from: str | None = None
    freeze: list[str] = field(default_factory=list)
    unfreeze_at_epoch: int | None = None


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


def run_config_from_dict(data: dict, where: str = "config") -> RunConfig:
    """Build a :class:`RunConfig`, the ``data`` and ``model`` sections by the task's classes."""
    from deeprnn.tasks.registry import get_task

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
