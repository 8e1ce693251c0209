"""``data.source: reader``: a function ``"package.module:function"`` (called with
``data.reader_args``) that returns the series, as

* one pandas DataFrame (or ``{"frame": DataFrame}``), handled like a CSV: the columns
  ``targets``, ``covariates``, ``series_column``, ``time_column`` ..., each series cut in time;
* or splits ``{"train": ..., "val": ..., "test": ...}`` (``test`` optional), each a list of
  (T, F) arrays — one per series, the K targets first, then the C covariates — or a single
  (T, F) array, or a DataFrame holding the ``targets`` and ``covariates`` columns (one series per
  ``series_column`` value). Every window of a split's series belongs to that split.

Shape symbols: T time steps of a series, F = K + C columns.
"""

from __future__ import annotations

import pkgutil

import numpy as np
import torch

SPLITS = ("train", "val", "test")


def call(reader: str | None, args: dict | None) -> dict:
    """What the reader returns: ``{"frame": DataFrame}`` or ``{split: value}``."""
    import pandas as pd

    if not isinstance(reader, str) or ":" not in reader:
        raise ValueError(f"data.reader must look like 'package.module:function', got {reader!r}")
    try:
        func = pkgutil.resolve_name(reader)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(f"data.reader: cannot import {reader!r} ({e})") from None
    if not callable(func):
        raise ValueError(f"data.reader: {reader!r} is not a function")
    out = func(**(args or {}))
    if isinstance(out, pd.DataFrame):
        return {"frame": out}
    if isinstance(out, dict) and set(out) == {"frame"}:
        if not isinstance(out["frame"], pd.DataFrame):
            got = type(out["frame"]).__name__
            raise ValueError(f"data.reader: {reader} returned a 'frame' that is a {got}")
        return out
    if not isinstance(out, dict) or not {"train", "val"} <= set(out) or set(out) - set(SPLITS):
        got = sorted(out) if isinstance(out, dict) else type(out).__name__
        raise ValueError(
            f"data.reader: {reader} must return a DataFrame, {{'frame': DataFrame}} or splits "
            f"{{'train': ..., 'val': ..., 'test': ...}}, got {got}"
        )
    return {s: v for s, v in out.items() if v is not None}


def split_arrays(splits: dict, cfg) -> dict[str, list[np.ndarray]]:
    """Each split of a reader as a list of (T, F) float32 arrays, F = K targets + C covariates
    of ``cfg`` (a ForecastDataConfig); a wrong width or a missing value is an error naming the
    split and the series."""
    names = list(cfg.targets) + list(cfg.covariates)
    unsupported = [
        k
        for k in ("static_covariates", "categorical", "time_features", "time_columns")
        if getattr(cfg, k)
    ]
    unsupported += [k for k in ("time_column", "freq", "fill", "split") if getattr(cfg, k)]
    if unsupported:
        raise ValueError(
            f"data.{unsupported[0]} needs a table: return a DataFrame from data.reader (handled "
            f"like a CSV) rather than splits of arrays"
        )
    out = {}
    for split, value in splits.items():
        series = _series(value, cfg, split)
        for i, arr in enumerate(series):
            what = f"data.reader split {split!r} series {i}"
            if arr.ndim != 2 or arr.shape[1] != len(names):
                raise ValueError(
                    f"{what}: expected a (T, {len(names)}) array (the columns {names}: "
                    f"data.targets, then data.covariates), got shape {tuple(arr.shape)}"
                )
            bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
            if len(bad):
                raise ValueError(
                    f"{what}: row {int(bad[0])} holds a missing or infinite value "
                    f"({len(bad)} such row(s)); fill them in the reader, or return a DataFrame "
                    f"and set data.fill"
                )
        out[split] = series
    return out


def _series(value, cfg, split: str) -> list[np.ndarray]:
    """One split's value -> its series as float32 arrays."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        names = list(cfg.targets) + list(cfg.covariates)
        value = value.rename(columns=str)
        need = names + ([cfg.series_column] if cfg.series_column else [])
        missing = [c for c in need if c not in value.columns]
        if missing:
            raise ValueError(
                f"data.reader split {split!r}: column(s) {missing} not found; columns are "
                f"{list(value.columns)}"
            )
        if not cfg.series_column:
            return [_floats(value[names], split)]
        groups = value.groupby(value[cfg.series_column].astype(str), sort=False)
        return [_floats(g[names], split) for _, g in groups]
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 2:
        return [_floats(value, split)]
    if isinstance(value, (list, tuple)):
        return [_floats(v, split) for v in value]
    raise ValueError(
        f"data.reader split {split!r}: expected a list of (T, F) arrays, an array or a "
        f"DataFrame, got {type(value).__name__}"
    )


def _floats(value, split: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"data.reader split {split!r}: not numbers ({e})") from None
    return arr[:, None] if arr.ndim == 1 else arr
