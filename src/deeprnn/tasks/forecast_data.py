"""Time-series data for the forecasting task: sources, chronological splits, windows, scaling.

Sources (``data.source``):

* ``sines``: the seeds' generator (Géron, HOML ch. 15): ``num_series`` independent series of
  ``input_window + horizon`` steps, sums of two random sines plus noise; split by series;
* ``csv``: one long series or several (``series_column``), columns ``targets`` and
  ``covariates``; each series is split in time (train, then val, then test) and cut into
  windows whose forecast lies inside one split (the input may reach back into the previous);
* ``reader``: ``"package.module:function"`` returning ``{"train": [...], "val": [...],
  "test": [...]}`` of (T, F) arrays whose first columns are the targets, or a dict of one
  pandas DataFrame under ``"frame"`` handled like a CSV.
"""

from __future__ import annotations

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

    def validate(self, where: str) -> None:
        for name in ("input_window", "horizon", "stride", "seasonality", "num_series"):
            if getattr(self, name) < 1:
                raise ValueError(f"{where}.{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.targets:
            raise ValueError(f"{where}.targets must name at least one column")


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
        frames = self._frames()
        bounds = {}
        train_rows = []
        for sid, arr in frames.items():
            n = len(arr)
            b1 = round(n * (1 - cfg.val_fraction - cfg.test_fraction))
            b2 = round(n * (1 - cfg.test_fraction))
            bounds[sid] = (b1, b2)
            train_rows.append(arr[:b1])
        self._fit_scaler(np.concatenate(train_rows))
        self.splits = {"train": [], "val": [], "test": []}
        for sid, arr in frames.items():
            b1, b2 = bounds[sid]
            scaled = self.scaler.transform(arr)
            for start in range(0, len(arr) - w - h + 1, cfg.stride):
                t0, t1 = start + w, start + w + h  # the forecast covers [t0, t1)
                split = "train" if t1 <= b1 else "val" if t0 >= b1 and t1 <= b2 else None
                if t0 >= b2:
                    split = "test"
                if split is not None:
                    self.splits[split].append(self._window(scaled, start, scaled_already=True))
        if not self.splits["train"]:
            lengths = {sid: len(a) for sid, a in frames.items()}
            raise ValueError(
                f"no training window fits: input_window + horizon = {w + h} steps, "
                f"series lengths {lengths} with val/test fractions "
                f"{cfg.val_fraction}/{cfg.test_fraction}"
            )

    def _frames(self) -> dict[str, np.ndarray]:
        """Each series as a (T, K + C) float array: targets first, then covariates."""
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
        require_columns(frame, cols + extra, f"data.path {cfg.path}")
        bad = [c for c in cols if not np.issubdtype(frame[c].dtype, np.number)]
        if bad:
            raise ValueError(f"data.path {cfg.path}: column(s) {bad} are not numeric")
        if frame[cols].isna().any().any():
            raise ValueError(f"data.path {cfg.path}: missing values in {cols}")
        if cfg.series_column:
            return {
                str(k): g[cols].to_numpy(np.float32)
                for k, g in frame.groupby(cfg.series_column, sort=False)
            }
        return {"0": frame[cols].to_numpy(np.float32)}

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
