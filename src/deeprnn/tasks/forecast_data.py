"""Time-series data for the forecasting task: sources, chronological splits, windows, scaling.

Sources (``data.source``):

* ``sines``: the seeds' generator (Géron, HOML ch. 15): ``num_series`` independent series of
  ``input_window + horizon`` steps, sums of two random sines plus noise; split by series;
* ``csv``: one long series or several (``series_column``), columns ``targets`` and
  ``covariates``; each series is split in time (train, then val, then test) and cut into
  windows whose forecast lies inside one split;
* ``reader``: ``"package.module:function"`` returning ``{"train": [...], "val": [...],
  "test": [...]}`` of (T, F) arrays whose first columns are the targets, or a dict of one
  pandas DataFrame under ``"frame"`` handled like a CSV.

Splits of a CSV / frame source, per series, in time order (train from the first row):

* fractions ``val_fraction`` / ``test_fraction`` (the default), or ``split`` with fractions;
* ``split: {train: 8640, val: 2880, test: 2880}``: row counts, as the Informer / Autoformer /
  DLinear / SegRNN benchmarks cut ETTh (12 / 4 / 4 months of 30 days); rows after the test
  part are unused; ``test`` left out takes the rest;
* ``split: {train: "2017-07-01", val: "2017-11-01", test: "2018-03-01"}``: dates, each the
  (exclusive) end of its split, read from ``time_column``.

A window belongs to the split its *forecast* lies in. With ``reach_back: true`` (the default)
the input window of the first val / test windows reaches back into the previous split, as
those benchmarks' data loaders do (their val / test parts start ``input_window`` rows before
the boundary); so the first val forecast starts at the first val row. ``reach_back: false``
keeps the inputs inside the split too. Scaling statistics come from the train rows only.

``rows: N`` or ``rows: [start, stop]`` uses only those rows of the file (before the series are
grouped); ``dates: [start, stop]`` (with ``time_column``) only the rows with
``start <= time < stop``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from deeprnn.tasks._data import TaskData, read_csv, require_columns, split_indices


@dataclass
class ForecastDataConfig:
    """Series, windows and scaling for :class:`~deeprnn.tasks.Forecast`."""

    source: Literal["sines", "csv", "reader"] = "sines"
    path: str | None = None
    targets: list[str] = field(default_factory=lambda: ["value"])
    covariates: list[str] = field(default_factory=list)
    series_column: str | None = None
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    input_window: int = 50
    horizon: int = 1
    stride: int = 1
    seasonality: int = 1
    scaler: Literal["standard", "minmax", "none"] = "standard"
    val_fraction: float = 0.2
    test_fraction: float = 0.1
    num_series: int = 10000
    split: dict | None = None
    time_column: str | None = None
    rows: int | list[int] | None = None
    dates: list | None = None
    reach_back: bool = True

    def validate(self, where: str) -> None:
        for name in ("input_window", "horizon", "stride", "seasonality", "num_series"):
            if getattr(self, name) < 1:
                raise ValueError(f"{where}.{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.targets:
            raise ValueError(f"{where}.targets must name at least one column")
        if isinstance(self.split, dict):  # YAML reads 2017-07-01 as a date: keep JSON-able text
            self.split = {k: _iso(v) for k, v in self.split.items()}
        if isinstance(self.dates, list):
            self.dates = [_iso(v) for v in self.dates]
        dated = self.split is not None and split_kind(self.split, f"{where}.split") == "dates"
        if dated and not self.time_column:
            raise ValueError(f"{where}.split by dates needs {where}.time_column")
        if self.rows is not None:
            row_range(self.rows, f"{where}.rows")
        if self.dates is not None:
            if not isinstance(self.dates, list) or len(self.dates) != 2:
                raise ValueError(f"{where}.dates must be [start, stop], got {self.dates!r}")
            if not self.time_column:
                raise ValueError(f"{where}.dates needs {where}.time_column")


SPLIT_NAMES = ("train", "val", "test")


def _iso(v):
    """A date or datetime as ISO text (YAML reads ``2017-07-01`` as a date); others as they are."""
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    return v.isoformat() if isinstance(v, datetime.date) else v


def split_kind(split: dict, where: str = "data.split") -> str:
    """``"rows"``, ``"fractions"`` or ``"dates"``: what the values of ``split`` are."""
    if not isinstance(split, dict) or not split:
        raise ValueError(f"{where} must map train/val/test to a boundary, got {split!r}")
    unknown = sorted(set(split) - set(SPLIT_NAMES))
    if unknown or "train" not in split or "val" not in split:
        raise ValueError(
            f"{where} must have keys train, val (and optionally test), got {sorted(split)}"
        )
    kinds = set()
    for v in split.values():
        if isinstance(v, bool):
            kinds.add("bad")
        elif isinstance(v, int):
            kinds.add("rows" if v >= 0 else "bad")
        elif isinstance(v, float):
            kinds.add("fractions" if 0 <= v <= 1 else "bad")
        elif isinstance(v, (str, datetime.date)):
            kinds.add("dates")
        else:
            kinds.add("bad")
    if len(kinds) != 1 or "bad" in kinds:
        raise ValueError(
            f"{where} values must all be row counts (ints >= 0), fractions (floats in [0, 1]) "
            f"or dates, got {split!r}"
        )
    kind = kinds.pop()
    if kind == "fractions" and sum(split.values()) > 1 + 1e-9:
        raise ValueError(f"{where} fractions must sum to at most 1, got {split!r}")
    return kind


def row_range(rows, where: str = "data.rows") -> tuple[int, int | None]:
    """``N`` -> (0, N); ``[start, stop]`` -> (start, stop)."""
    if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 1:
        return 0, rows
    if (
        isinstance(rows, list)
        and len(rows) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in rows)
        and 0 <= rows[0] < rows[1]
    ):
        return rows[0], rows[1]
    raise ValueError(f"{where} must be a row count N >= 1 or [start, stop], got {rows!r}")


def split_bounds(
    n: int, cfg: ForecastDataConfig, times=None, sid: str = "0"
) -> tuple[int, int, int]:
    """Row boundaries ``(b1, b2, b3)``: train ``[0, b1)``, val ``[b1, b2)``, test ``[b2, b3)``
    of a series of ``n`` rows (``times``: its time stamps, for a split by dates)."""
    split = cfg.split
    if split is None:
        b1 = round(n * (1 - cfg.val_fraction - cfg.test_fraction))
        return b1, round(n * (1 - cfg.test_fraction)), n
    kind = split_kind(split)
    if kind == "rows":
        b1 = split["train"]
        b2 = b1 + split["val"]
        b3 = b2 + split["test"] if "test" in split else n
        if b3 > n:
            raise ValueError(
                f"data.split needs {b3} rows (train + val + test), series {sid!r} has {n}"
            )
        return b1, b2, b3
    if kind == "fractions":
        b1 = round(n * split["train"])
        b2 = round(n * (split["train"] + split["val"]))
        b3 = round(n * (split["train"] + split["val"] + split["test"])) if "test" in split else n
        return b1, b2, b3
    import pandas as pd

    if times is None:
        raise ValueError("data.split by dates needs data.time_column")
    stamps = pd.DatetimeIndex(times)
    if not stamps.is_monotonic_increasing:
        raise ValueError(f"data.time_column: series {sid!r} is not sorted by time")
    ends = []
    for name in SPLIT_NAMES:
        if name not in split:
            ends.append(n)
            continue
        try:
            end = pd.Timestamp(split[name])
        except (TypeError, ValueError) as e:
            raise ValueError(f"data.split.{name}: not a date: {split[name]!r}") from e
        ends.append(int(stamps.searchsorted(end, side="left")))
    if not ends[0] <= ends[1] <= ends[2]:
        raise ValueError(f"data.split dates must be in time order, got {split!r}")
    return ends[0], ends[1], ends[2]


def generate_sines(n: int, steps: int, seed: int) -> np.ndarray:
    """(n, steps, 1) float32 noisy sines (:func:`deeprnn.data.generate_time_series`)."""
    from deeprnn.data import generate_time_series

    return generate_time_series(n, steps, np.random.default_rng(seed))


class Scaler:
    """Per-column affine scaling: ``scaled = (x - shift) / scale``; JSON as an artifact."""

    def __init__(self, kind: str, columns: list[str], shift: list[float], scale: list[float]):
        self.kind, self.columns = kind, list(columns)
        self.shift = torch.tensor(shift, dtype=torch.float32)
        self.scale = torch.tensor(scale, dtype=torch.float32)

    @classmethod
    def fit(cls, kind: str, columns: list[str], values: np.ndarray) -> Scaler:
        """Statistics of ``values`` (rows, F)."""
        f = len(columns)
        if kind == "standard":
            shift, scale = values.mean(0), values.std(0)
        elif kind == "minmax":
            shift, scale = values.min(0), values.max(0) - values.min(0)
        else:
            shift, scale = np.zeros(f), np.ones(f)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls(kind, columns, [float(v) for v in shift], [float(v) for v in scale])

    @classmethod
    def from_artifact(cls, art: dict | None) -> Scaler:
        if not art:
            return cls("none", [], [], [])
        return cls(art["kind"], art["columns"], art["shift"], art["scale"])

    def to_artifact(self) -> dict:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "shift": self.shift.tolist(),
            "scale": self.scale.tolist(),
        }

    def transform(self, x: np.ndarray) -> np.ndarray:
        if not self.columns:
            return x
        return ((x - self.shift.numpy()) / self.scale.numpy()).astype(np.float32)

    def inverse(self, x: Tensor, k: int) -> Tensor:
        """Undo the scaling of the first ``k`` columns (the targets) of ``x`` (..., k)."""
        if not self.columns:
            return x
        return x * self.scale[:k].to(x) + self.shift[:k].to(x)


def window_starts(n: int, bounds: tuple[int, int, int], w: int, h: int, cfg):
    """``(split, start)`` of every window of a series of ``n`` rows: the input covers
    ``[start, start + w)``, the forecast ``[start + w, start + w + h)``, which must lie inside
    one split; with ``cfg.reach_back`` false the input must too."""
    b1, b2, b3 = bounds
    for start in range(0, n - w - h + 1, cfg.stride):
        t0, t1 = start + w, start + w + h  # the forecast covers [t0, t1)
        if t1 <= b1:
            yield "train", start
        elif b1 <= t0 and t1 <= b2 and (cfg.reach_back or start >= b1):
            yield "val", start
        elif b2 <= t0 and t1 <= b3 and (cfg.reach_back or start >= b2):
            yield "test", start


class ForecastData(TaskData):
    """Windows ``(x (W + H, F), y (H, K))`` of scaled series; artifacts: targets, covariates,
    input_window, horizon, seasonality, scaler."""

    def load(self) -> None:
        cfg = self.config
        w, h = cfg.input_window, cfg.horizon
        art = self.artifacts
        art.setdefault("targets", list(cfg.targets))
        art.setdefault("covariates", list(cfg.covariates))
        art.setdefault("input_window", w)
        art.setdefault("horizon", h)
        art.setdefault("seasonality", cfg.seasonality)
        art.setdefault("series_column", cfg.series_column)
        if cfg.source == "sines":
            if cfg.covariates or len(cfg.targets) != 1:
                raise ValueError("data.source='sines' makes one target and no covariates")
            series = generate_sines(cfg.num_series, w + h, self.seed)
            fr = [1 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction]
            parts = split_indices(len(series), fr, self.seed)
            raw = {s: [series[i] for i in p] for s, p in zip(("train", "val", "test"), parts)}
            self._fit_scaler(np.concatenate(raw["train"]) if raw["train"] else series[0])
            self.splits = {s: [self._window(a, 0) for a in items] for s, items in raw.items()}
            return
        frames, times = self._frames()
        bounds = {sid: split_bounds(len(a), cfg, times.get(sid), sid) for sid, a in frames.items()}
        train_rows = [arr[: bounds[sid][0]] for sid, arr in frames.items()]
        self._fit_scaler(np.concatenate(train_rows))
        self.splits = {"train": [], "val": [], "test": []}
        self.window_starts = {"train": [], "val": [], "test": []}  # (series, first row)
        for sid, arr in frames.items():
            scaled = self.scaler.transform(arr)
            for split, start in window_starts(len(arr), bounds[sid], w, h, cfg):
                self.splits[split].append(self._window(scaled, start, scaled_already=True))
                self.window_starts[split].append((sid, start))
        if not self.splits["train"]:
            lengths = {sid: len(a) for sid, a in frames.items()}
            how = cfg.split or f"val/test fractions {cfg.val_fraction}/{cfg.test_fraction}"
            raise ValueError(
                f"no training window fits: input_window + horizon = {w + h} steps, "
                f"series lengths {lengths} with split {how}"
            )

    def _frames(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each series as a (T, K + C) float array (targets first, then covariates), and its
        time stamps when ``time_column`` is set."""
        cfg = self.config
        cols = list(cfg.targets) + list(cfg.covariates)
        if cfg.source == "csv":
            if not cfg.path:
                raise ValueError("data.source='csv' needs data.path")
            frame = read_csv(cfg.path, "data.path")
        else:
            from deeprnn.tasks._sources import call_reader

            out = call_reader(cfg.reader, cfg.reader_args)
            frame = out["train"]
        extra = [cfg.series_column] if cfg.series_column else []
        extra += [cfg.time_column] if cfg.time_column else []
        require_columns(frame, cols + extra, f"data.path {cfg.path}")
        frame, stamps = self._select_rows(frame)
        bad = [c for c in cols if not np.issubdtype(frame[c].dtype, np.number)]
        if bad:
            raise ValueError(f"data.path {cfg.path}: column(s) {bad} are not numeric")
        if frame[cols].isna().any().any():
            raise ValueError(f"data.path {cfg.path}: missing values in {cols}")
        if cfg.series_column:
            groups = frame.groupby(cfg.series_column, sort=False)
            arrays = {str(k): g[cols].to_numpy(np.float32) for k, g in groups}
            times = {} if stamps is None else {str(k): stamps[g.index] for k, g in groups}
            return arrays, times
        return {"0": frame[cols].to_numpy(np.float32)}, {} if stamps is None else {"0": stamps}

    def _select_rows(self, frame):
        """``rows`` / ``dates`` applied to the whole frame; the parsed ``time_column``."""
        import pandas as pd

        cfg = self.config
        if cfg.rows is not None:
            start, stop = row_range(cfg.rows)
            if start >= len(frame):
                raise ValueError(f"data.rows {cfg.rows!r}: the file has {len(frame)} rows")
            frame = frame.iloc[start:stop]
        frame = frame.reset_index(drop=True)
        if not cfg.time_column:
            return frame, None
        try:
            stamps = pd.to_datetime(frame[cfg.time_column]).to_numpy()
        except (TypeError, ValueError) as e:
            raise ValueError(f"data.time_column {cfg.time_column!r}: not dates ({e})") from e
        if cfg.dates is not None:
            try:
                lo, hi = (pd.Timestamp(v).to_datetime64() for v in cfg.dates)
            except (TypeError, ValueError) as e:
                raise ValueError(f"data.dates: not dates: {cfg.dates!r}") from e
            keep = (stamps >= lo) & (stamps < hi)
            if not keep.any():
                raise ValueError(f"data.dates {cfg.dates!r}: no row falls in that range")
            frame, stamps = frame[keep].reset_index(drop=True), stamps[keep]
        return frame, stamps

    def _fit_scaler(self, train_values: np.ndarray) -> None:
        art = self.artifacts
        if "scaler" not in art:
            cols = art["targets"] + art["covariates"]
            art["scaler"] = Scaler.fit(self.config.scaler, cols, train_values).to_artifact()
        self.scaler = Scaler.from_artifact(art["scaler"])

    def _window(self, arr: np.ndarray, start: int, scaled_already: bool = False):
        w, h = self.artifacts["input_window"], self.artifacts["horizon"]
        k = len(self.artifacts["targets"])
        seg = arr[start : start + w + h]
        if not scaled_already:
            seg = self.scaler.transform(seg)
        x = torch.from_numpy(np.ascontiguousarray(seg, dtype=np.float32))
        return x, x[w:, :k].clone()

    def collate(self, items: list):
        return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])

    def encode_history(self, records: list):
        """Raw rows (dicts) -> per series ``(id, history (W, F), future covariates (H, C))``."""
        art = self.artifacts
        self.scaler = Scaler.from_artifact(art.get("scaler"))
        cols = art["targets"] + art["covariates"]
        w, h = art["input_window"], art["horizon"]
        groups: dict[str, list] = {}
        for r in records:
            if not isinstance(r, dict):
                raise ValueError(f"forecast inputs are CSV rows with columns {cols}, got {r!r}")
            sid = str(r.get(art.get("series_column") or "", "0"))
            groups.setdefault(sid, []).append(r)
        for sid, rows in groups.items():
            known = [r for r in rows if _is_number(r.get(cols[0]))]
            if len(known) < w:
                raise ValueError(
                    f"series {sid}: need input_window={w} rows with values, got {len(known)}"
                )
            try:
                hist = np.array([[float(r[c]) for c in cols] for r in known[-w:]], np.float32)
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"series {sid}: rows need numeric columns {cols} ({e})") from e
            future = rows[len(known) :]
            cov = art["covariates"]
            fut = np.zeros((h, len(cov)), np.float32)
            if cov and len(future) >= h:
                fut = np.array([[float(r[c]) for c in cov] for r in future[:h]], np.float32)
            scaled = self.scaler.transform(np.concatenate([hist, np.zeros((h, len(cols)))]))
            scaled_fut = scaled[w:, len(art["targets"]) :]
            if cov:
                full = np.concatenate([np.zeros((h, len(art["targets"]))), fut], axis=1)
                scaled_fut = self.scaler.transform(full)[:, len(art["targets"]) :]
            yield sid, torch.from_numpy(scaled[:w]), torch.from_numpy(scaled_fut)


def _is_number(v) -> bool:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return not np.isnan(v)
    if isinstance(v, str):
        try:
            float(v)
            return v.strip() != ""
        except ValueError:
            return False
    return False
