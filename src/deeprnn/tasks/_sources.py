"""Data sources shared by the tasks: CSV files cut into splits, pluggable reader functions,
and vocabulary files."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from deeprnn.tasks._data import read_csv, require_columns, split_indices

SPLITS = ("train", "val", "test")


def call_reader(reader: str | None, args: dict, name: str = "data.reader") -> dict[str, Any]:
    """Import ``"package.module:function"`` and call it with ``args``.

    It must return a dict of splits (``train`` and ``val`` required, ``test`` optional). This is
    how any data set reader plugs into a task without changing the task.
    """
    if not reader or not isinstance(reader, str) or ":" not in reader:
        raise ValueError(f"{name} must look like 'package.module:function', got {reader!r}")
    module_name, _, func_name = reader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"{name}: cannot import {module_name!r} ({e})") from e
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"{name}: {module_name!r} has no function {func_name!r}")
    out = func(**(args or {}))
    if not isinstance(out, dict) or "train" not in out:
        raise ValueError(
            f"{name}: {reader} must return a dict with 'train', 'val' (and 'test') splits, "
            f"got {type(out).__name__}"
        )
    unknown = set(out) - set(SPLITS)
    if unknown:
        raise ValueError(f"{name}: {reader} returned unknown splits {sorted(unknown)}")
    return {k: list(v) for k, v in out.items() if v is not None}


def _fractions(cfg) -> list[float]:
    for nm in ("val_fraction", "test_fraction"):
        v = getattr(cfg, nm)
        if not 0 <= v < 1:
            raise ValueError(f"data.{nm} must be in [0, 1), got {v!r}")
    train = 1 - cfg.val_fraction - cfg.test_fraction
    if train <= 0:
        raise ValueError(
            f"data.val_fraction + data.test_fraction must be < 1, got "
            f"{cfg.val_fraction} + {cfg.test_fraction}"
        )
    return [train, cfg.val_fraction, cfg.test_fraction]


def labelled_splits_from_csv(cfg, seed: int, x_column: str, y_column: str) -> dict[str, list]:
    """``(x, y)`` pairs per split from ``cfg.path`` (cut by fractions) or per-split files."""
    files = {s: getattr(cfg, f"{s}_path") for s in SPLITS}
    if cfg.path is None and files["train"] is None:
        raise ValueError("data.source='csv' needs data.path or data.train_path")
    out: dict[str, list] = {}
    if files["train"] is not None:
        for split, path in files.items():
            if path is None:
                continue
            frame = read_csv(path, f"data.{split}_path")
            require_columns(frame, [x_column, y_column], f"data.{split}_path {path}")
            out[split] = list(zip(frame[x_column].astype(str), frame[y_column]))
        if "val" not in out:  # carve the validation split out of train
            items = out["train"]
            tr, va = split_indices(len(items), [1 - cfg.val_fraction, cfg.val_fraction], seed)
            out["train"], out["val"] = [items[i] for i in tr], [items[i] for i in va]
        return out
    frame = read_csv(cfg.path, "data.path")
    require_columns(frame, [x_column, y_column], f"data.path {cfg.path}")
    items = list(zip(frame[x_column].astype(str), frame[y_column]))
    parts = split_indices(len(items), _fractions(cfg), seed)
    return {s: [items[i] for i in p] for s, p in zip(SPLITS, parts)}


def read_vocab(path: str | Path, name: str = "data.vocab_path") -> list[str]:
    """A vocabulary file written by an export (``vocab.json``: a JSON list of tokens)."""
    path = Path(path)
    if path.is_dir():
        path = path / "vocab.json"
    if not path.is_file():
        raise ValueError(f"{name}: vocabulary file not found: {path}")
    try:
        itos = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: {path} is not valid JSON: {e}") from e
    if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
        raise ValueError(f"{name}: {path} must hold a JSON list of token strings")
    return itos
