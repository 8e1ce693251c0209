"""The search space of ``deeprnn tune``: distributions over dotted config keys.

A space maps the keys of the command-line overrides (``optim.lr``, ``model.rnn.hidden_size``)
to one distribution each::

    optim.lr: {log_uniform: [1.0e-4, 1.0e-2]}
    optim.weight_decay: {uniform: [0.0, 0.1]}          # {uniform: [lo, hi], step: 0.01}
    model.rnn.num_layers: {int: [1, 3]}                # {int: [16, 256], step: 16}
    model.rnn.cell: {choice: [lstm, gru]}
    model.rnn.hidden_size: {choice: [64, 128, 256]}

Nested sections (``optim: {lr: {log_uniform: [...]}}``) are read as the dotted keys. Every key is
checked against the run config before any trial runs: each bound and each choice is applied to
the base config through :func:`deeprnn._schema.apply_overrides` and the run config is built,
so an unknown key or a value the config rejects is a one-line error naming the key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from deeprnn._schema import apply_overrides
from deeprnn._validation import close_key_hint, is_number

KINDS = ("uniform", "log_uniform", "int", "choice")
# the tuner owns these: where trials go, what they are, and what the search optimises
RESERVED = ("out_dir", "task", "trainer.monitor", "trainer.mode")
_EXAMPLE = "{log_uniform: [1.0e-4, 1.0e-2]}, {uniform: [lo, hi]}, {int: [lo, hi]}, {choice: [...]}"


def _scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


@dataclass(frozen=True)
class Param:
    """One searched key: ``kind`` (uniform, log_uniform, int, choice) and its range or choices.

    Choices that are not scalars (lists such as ``[64, 32]``) reach Optuna as their JSON text
    and come back decoded."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    choices: tuple = ()

    def _encoded(self) -> list:
        return [c if _scalar(c) else json.dumps(c) for c in self.choices]

    def decode(self, raw):
        """The config value of Optuna's parameter value ``raw``."""
        if self.kind == "choice":
            return self.choices[self._encoded().index(raw)]
        return raw

    def suggest(self, trial):
        """Ask ``trial`` for a value; returns the config value."""
        if self.kind == "choice":
            return self.decode(trial.suggest_categorical(self.key, self._encoded()))
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1)
        log = self.kind == "log_uniform"
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=log)

    def samples(self) -> list:
        """The values checked against the config before any trial: bounds or every choice."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]

    def spec(self) -> dict:
        """The space entry back as a plain dict (``{int: [1, 3], step: 1}``)."""
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        out: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.step is not None:
            out["step"] = self.step
        return out


def flatten_space(space, where: str = "search space", prefix: str = "") -> dict[str, Any]:
    """``{optim: {lr: {...}}}`` -> ``{"optim.lr": {...}}``; distributions are the leaves."""
    if not isinstance(space, dict):
        raise ValueError(
            f"{where} must be a mapping of config keys to distributions ({_EXAMPLE}), got {space!r}"
        )
    out: dict[str, Any] = {}
    for key, spec in space.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{where}: keys must be dotted config keys, got {key!r}")
        full = f"{prefix}{key}"
        if isinstance(spec, dict) and spec and not any(k in KINDS for k in spec):
            leaves = [k for k in spec if not isinstance(spec[k], dict)]
            if leaves:
                k = str(leaves[0])
                if close_key_hint(k, KINDS):  # {loguniform: [..]}: a misspelt kind
                    raise ValueError(
                        f"{where} {full}: unknown distribution {k!r}{close_key_hint(k, KINDS)}; "
                        f"kinds: {', '.join(KINDS)}"
                    )
                raise ValueError(
                    f"{where} {full}.{k}: expected a distribution such as {_EXAMPLE}, "
                    f"got {spec[leaves[0]]!r}"
                )
            out.update(flatten_space(spec, where, prefix=f"{full}."))
        else:
            out[full] = spec
    return out


def _bounds(where: str, kind: str, value) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where}: {kind} needs [low, high], got {value!r}")
    low, high = value
    if kind == "int":
        if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise ValueError(f"{where}: int needs integer bounds [low, high], got {list(value)!r}")
    elif not all(is_number(v) for v in value):
        raise ValueError(f"{where}: {kind} needs finite numbers [low, high], got {list(value)!r}")
    if not low < high:
        raise ValueError(f"{where}: {kind} needs low < high, got [{low!r}, {high!r}]")
    if kind == "log_uniform" and not low > 0:
        raise ValueError(f"{where}: log_uniform needs 0 < low < high, got [{low!r}, {high!r}]")
    return (low, high) if kind == "int" else (float(low), float(high))


def parse_param(key: str, spec, where: str = "search space") -> Param:
    """One space entry as a :class:`Param`; a bad kind, range or choice list is a ValueError."""
    at = f"{where} {key}"
    if key in RESERVED:
        raise ValueError(f"{at}: {key} cannot be searched (the tuner sets it)")
    if not isinstance(spec, dict):
        raise ValueError(f"{at}: expected a distribution such as {_EXAMPLE}, got {spec!r}")
    kinds = [k for k in spec if k in KINDS]
    extra = [k for k in spec if k not in (*KINDS, "step")]
    if extra:
        raise ValueError(
            f"{at}: unknown key {extra[0]!r}{close_key_hint(str(extra[0]), (*KINDS, 'step'))}; "
            f"a distribution is one of {', '.join(KINDS)} (int and uniform take a step)"
        )
    if len(kinds) != 1:
        raise ValueError(f"{at}: give exactly one of {', '.join(KINDS)}, got {spec!r}")
    kind = kinds[0]
    step = spec.get("step")
    if step is not None:
        if kind == "int" and (isinstance(step, bool) or not isinstance(step, int) or step < 1):
            raise ValueError(f"{at}: int step must be a positive int, got {step!r}")
        if kind == "uniform" and not (is_number(step) and step > 0):
            raise ValueError(f"{at}: uniform step must be a positive number, got {step!r}")
        if kind in ("log_uniform", "choice"):
            raise ValueError(f"{at}: {kind} takes no step")
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, (list, tuple)) or not choices:
            raise ValueError(f"{at}: choice needs a non-empty list, got {choices!r}")
        seen = [json.dumps(c, sort_keys=True) for c in choices]
        if len(set(seen)) != len(seen):
            raise ValueError(f"{at}: choice lists a value twice: {list(choices)!r}")
        if any(isinstance(c, float) and not math.isfinite(c) for c in choices):
            raise ValueError(f"{at}: choice values must be finite, got {list(choices)!r}")
        return Param(key, kind, choices=tuple(choices))
    low, high = _bounds(at, kind, spec[kind])
    if kind == "int" and step is not None and (high - low) % step:
        raise ValueError(
            f"{at}: int [{low}, {high}] with step {step}: high - low must be a multiple of step"
        )
    if step is not None and kind == "uniform":
        step = float(step)
    return Param(key, kind, low, high, step)


def parse_space(space, where: str = "search space") -> list[Param]:
    """The :class:`Param` of every key of ``space`` (nested sections flattened), in order."""
    flat = flatten_space(space, where)
    if not flat:
        raise ValueError(f"{where} is empty; give at least one key, e.g. optim.lr: {_EXAMPLE}")
    return [parse_param(key, spec, where) for key, spec in flat.items()]


def check_space(params: list[Param], base: dict, build, where: str = "search space") -> None:
    """Apply every bound and every choice of each param to ``base`` and build the run config
    with ``build`` (``run_config_from_dict``): the first value the config rejects is a one-line
    ValueError naming the key, before any trial runs."""
    for p in params:
        for value in p.samples():
            try:
                build(apply_overrides(base, [(p.key, value)]))
            except (ValueError, TypeError) as e:
                message = " ".join(str(e).split())
                raise ValueError(f"{where} {p.key}={value!r}: {message}") from None


def space_dict(params: list[Param]) -> dict:
    """The space as plain dotted-key entries (stored in the study; compared on resume)."""
    return {p.key: p.spec() for p in params}
