"""Typed configs: dataclasses with defaults that work, read from YAML / dicts and written back.

:func:`from_dict` builds any config dataclass from a plain dict and rejects unknown keys with the
list of valid keys and the closest one; :func:`to_dict` is its inverse, so every config
round-trips (``from_dict(cls, to_dict(c)) == c``). :func:`apply_overrides` applies the
``--trainer.max_epochs 3`` style overrides of the command line; :func:`load_yaml` /
:func:`dump_yaml` read and write the YAML files.

This is the bottom of the config stack: the tasks' configs (:mod:`deeprnn.tasks`) and the run
config (:mod:`deeprnn.training`) are built with it, and it imports neither.
"""

from __future__ import annotations

import dataclasses
import types
import typing
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
        if len(errors) == 1:  # Optional[X]: X's message, naming null as the other choice
            message = errors[0]
            if type(None) in args and ", got " in message:
                message = message.replace(", got ", " or null, got ", 1)
            raise ValueError(message)
        raise ValueError(f"{where}: got {value!r}; {errors}")
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

    >>> from deeprnn.tasks.optim import OptimConfig
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


def dump_yaml(data: Any) -> str:
    """``data`` (plain dicts and lists, e.g. :func:`to_dict` of a config) as block YAML."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def check_finite(where: str, name: str, value, *, positive: bool = False) -> None:
    """``value`` a finite number (not NaN or Inf), > 0 with ``positive`` else >= 0."""
    if not is_number(value):
        raise ValueError(f"{where}.{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{where}.{name} must be positive, got {value!r}")
    if not positive and value < 0:
        raise ValueError(f"{where}.{name} must be >= 0, got {value!r}")
