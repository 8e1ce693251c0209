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

Tables as distributed (``csv``): the delimiter is sniffed, a byte-order mark and CRLF line
ends are fine. ``fill`` fills gaps (one of ``ffill`` / ``interpolate`` / ``zero`` / ``drop``
for every column, or a mapping column -> policy; ``{target: mask}`` keeps a target's gaps as
missing values: its input values are forward-filled, and the loss and the metrics skip the
missing steps, as GluonTS trains on observed values only). Text / categorical covariates (and those
listed in ``categorical``) are one-hot encoded with categories fitted on the train rows
(artifact ``categories``; a value unseen there is an all-zero row). The time comes from
``time_column`` or is assembled from ``time_columns: [year, month, day, hour]``; it must
increase without repeats at a regular frequency (``freq``, else ``pandas.infer_freq``);
``time_features: [hour, dayofweek, month, dayofyear]`` adds sin / cos calendar covariates,
known for the forecast steps too.

Covariates known over the forecast horizon (the model reads their future values; the other
covariates are past-only): ``known_covariates`` (columns of ``covariates`` whose future values
are known when forecasting: a planned promotion, a holiday flag, a weather forecast), the
calendar features, and ``static_covariates`` (columns constant within each series — a store's
size, a sensor's type; numeric or categorical — fed at every step as DeepAR does).

``rows: N`` or ``rows: [start, stop]`` uses only those rows of the file (before the series are
grouped); ``dates: [start, stop]`` (with ``time_column``) only the rows with
``start <= time < stop``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from deeprnn._validation import check_choice
from deeprnn.data import series_io as sio
from deeprnn.data.seasonality import season_length
from deeprnn.tasks._data import TaskData, require_columns, split_indices
from deeprnn.tasks._forecast_columns import (
    MASK,
    OBSERVED,
    check_static,
    feature_names,
    input_fill,
    masked_targets,
    numeric_columns,
    parse_times,
    time_columns,
)
from deeprnn.tasks._forecast_history import ForecastHistory
from deeprnn.tasks._forecast_scaler import Scaler
from deeprnn.tasks._forecast_splits import (
    _iso,
    row_range,
    split_bounds,
    split_kind,
    window_starts,
)

log = logging.getLogger("deeprnn.tasks.forecast")


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
    seasonality: int | None = None
    scaler: Literal["standard", "minmax", "none"] = "standard"
    val_fraction: float = 0.2
    test_fraction: float = 0.1
    num_series: int = 10000
    split: dict | None = None
    time_column: str | None = None
    rows: int | list[int] | None = None
    dates: list | None = None
    reach_back: bool = True
    fill: str | dict | None = None
    categorical: list[str] = field(default_factory=list)
    time_columns: list[str] | None = None
    freq: str | None = None
    time_features: list[str] = field(default_factory=list)
    known_covariates: list[str] = field(default_factory=list)
    static_covariates: list[str] = field(default_factory=list)

    @property
    def has_time(self) -> bool:
        return bool(self.time_column or self.time_columns)

    def validate(self, where: str) -> None:
        for name in ("input_window", "horizon", "stride", "seasonality", "num_series"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{where}.{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.targets:
            raise ValueError(f"{where}.targets must name at least one column")
        if isinstance(self.split, dict):  # YAML reads 2017-07-01 as a date: keep JSON-able text
            self.split = {k: _iso(v) for k, v in self.split.items()}
        if isinstance(self.dates, list):
            self.dates = [_iso(v) for v in self.dates]
        dated = self.split is not None and split_kind(self.split, f"{where}.split") == "dates"
        if dated and not self.has_time:
            raise ValueError(f"{where}.split by dates needs {where}.time_column")
        if self.time_column and self.time_columns:
            raise ValueError(f"{where}: set {where}.time_column or {where}.time_columns, not both")
        if self.time_columns is not None and not 3 <= len(self.time_columns) <= 6:
            raise ValueError(
                f"{where}.time_columns must name the [year, month, day(, hour, minute, second)] "
                f"columns, got {self.time_columns!r}"
            )
        unknown = [c for c in self.known_covariates if c not in self.covariates]
        if unknown:
            raise ValueError(
                f"{where}.known_covariates: {unknown} are not in {where}.covariates "
                f"({self.covariates})"
            )
        both = [c for c in self.static_covariates if c in self.covariates or c in self.targets]
        if both:
            raise ValueError(
                f"{where}.static_covariates: {both} are also targets or covariates; list each "
                f"column once"
            )
        if self.static_covariates and self.source == "sines":
            raise ValueError(f"{where}.static_covariates needs a csv or reader source")
        if isinstance(self.fill, str):
            if self.fill == MASK:
                raise ValueError(
                    f"{where}.fill 'mask' applies to targets only: give a mapping such as "
                    f"{{{self.targets[0]}: mask}} (and a policy for gappy covariates)"
                )
            check_choice(f"{where}.fill", self.fill, sio.FILL_POLICIES)
        if isinstance(self.fill, dict):
            wrong = [c for c, p in self.fill.items() if p == MASK and c not in self.targets]
            if wrong:
                raise ValueError(
                    f"{where}.fill: 'mask' applies to targets only (the loss skips their gaps), "
                    f"got it for {wrong}; fill covariates with one of {list(sio.FILL_POLICIES)}"
                )
        for name in self.time_features:
            check_choice(f"{where}.time_features", name, list(sio.TIME_FEATURES))
        if self.time_features and not self.has_time:
            raise ValueError(f"{where}.time_features needs {where}.time_column or time_columns")
        if self.freq is not None and not self.has_time:
            raise ValueError(f"{where}.freq needs {where}.time_column or time_columns")
        if self.rows is not None:
            row_range(self.rows, f"{where}.rows")
        if self.dates is not None:
            if not isinstance(self.dates, list) or len(self.dates) != 2:
                raise ValueError(f"{where}.dates must be [start, stop], got {self.dates!r}")
            if not self.has_time:
                raise ValueError(f"{where}.dates needs {where}.time_column")


def _with_gaps(arr: np.ndarray, observed: np.ndarray | None) -> np.ndarray:
    """``arr`` (T, F) with NaN where a masked target has no value."""
    if observed is None:
        return arr
    out = arr.copy()
    k = observed.shape[1]
    out[:, :k][~observed] = np.nan
    return out


def generate_sines(n: int, steps: int, seed: int) -> np.ndarray:
    """(n, steps, 1) float32 noisy sines (:func:`deeprnn.data.generate_time_series`)."""
    from deeprnn.data import generate_time_series

    return generate_time_series(n, steps, np.random.default_rng(seed))


class ForecastData(ForecastHistory, TaskData):
    """Windows ``(x (W + H, F), y (H, K))`` of scaled series; artifacts: targets, covariates
    (the F - K input features: numeric covariates, one-hot columns ``col=value``, calendar
    ``hour_sin`` ...), raw_covariates (the table's columns), categories, time_column,
    time_columns, freq, time_features, fill, input_window, horizon, seasonality, scaler."""

    def load(self) -> None:
        cfg = self.config
        w, h = cfg.input_window, cfg.horizon
        art = self.artifacts
        art.setdefault("targets", list(cfg.targets))
        art.setdefault("input_window", w)
        art.setdefault("horizon", h)
        if cfg.seasonality is not None or cfg.source == "sines" or not cfg.has_time:
            art.setdefault("seasonality", cfg.seasonality or 1)
        art.setdefault("series_column", cfg.series_column)
        if cfg.source == "sines":
            art.setdefault("covariates", list(cfg.covariates))
            if cfg.covariates or len(cfg.targets) != 1:
                raise ValueError("data.source='sines' makes one target and no covariates")
            series = generate_sines(cfg.num_series, w + h, self.seed)
            fr = [1 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction]
            parts = split_indices(len(series), fr, self.seed)
            raw = {s: [series[i] for i in p] for s, p in zip(("train", "val", "test"), parts)}
            self._fit_scaler(np.concatenate(raw["train"]) if raw["train"] else series[0])
            self.splits = {s: [self._window(a, 0) for a in items] for s, items in raw.items()}
            return
        for key, value in (
            ("raw_covariates", list(cfg.covariates) + list(cfg.static_covariates)),
            ("known_covariates", list(cfg.known_covariates) + list(cfg.static_covariates)),
            ("static_covariates", list(cfg.static_covariates)),
            ("time_column", cfg.time_column),
            ("time_columns", cfg.time_columns),
            ("time_features", list(cfg.time_features)),
            ("fill", cfg.fill),
        ):
            art.setdefault(key, value)
        tables, times = self._frames()
        if "seasonality" not in art:  # from the frequency of the time column (M4 / GluonTS)
            art["seasonality"] = season_length(art.get("freq"))
            log.warning(
                "data.seasonality: %d, the season length of the %r frequency (M4 / GluonTS: "
                "hourly 24, monthly 12, quarterly 4, daily 1 ...); set data.seasonality to "
                "override",
                art["seasonality"],
                art.get("freq"),
            )
        bounds = {sid: split_bounds(len(t), cfg, times.get(sid), sid) for sid, t in tables.items()}
        self._fit_categories([t.iloc[: bounds[sid][0]] for sid, t in tables.items()])
        art.setdefault("covariates", feature_names(art))
        frames = {sid: self.features(t, times.get(sid)) for sid, t in tables.items()}
        observed = {sid: self._observed(t) for sid, t in tables.items()}  # targets with values
        train_rows = [
            _with_gaps(arr, observed[sid])[: bounds[sid][0]] for sid, arr in frames.items()
        ]
        self._fit_scaler(np.concatenate(train_rows))
        self.splits = {"train": [], "val": [], "test": []}
        self.window_starts = {"train": [], "val": [], "test": []}  # (series, first row)
        for sid, arr in frames.items():
            scaled = self.scaler.transform(arr)
            truth = _with_gaps(scaled, observed[sid])  # y: NaN at the masked gaps
            for split, start in window_starts(len(arr), bounds[sid], w, h, cfg):
                self.splits[split].append(
                    self._window(scaled, start, scaled_already=True, truth=truth)
                )
                self.window_starts[split].append((sid, start))
        if not self.splits["train"]:
            lengths = {sid: len(a) for sid, a in frames.items()}
            how = cfg.split or f"val/test fractions {cfg.val_fraction}/{cfg.test_fraction}"
            raise ValueError(
                f"no training window fits: input_window + horizon = {w + h} steps, "
                f"series lengths {lengths} with split {how}"
            )

    def _frames(self):
        """Each series as a DataFrame (numeric targets and covariates as float64, categorical
        covariates as read), gaps filled, and its time stamps when there is a time."""
        cfg, art = self.config, self.artifacts
        raw = list(cfg.covariates) + list(cfg.static_covariates)
        cols = list(cfg.targets) + raw
        where = f"data.path {cfg.path}"
        if cfg.source == "csv":
            if not cfg.path:
                raise ValueError("data.source='csv' needs data.path")
            frame, first = sio.read_table(cfg.path, "data.path"), 2  # row i is line i + 2
        else:
            from deeprnn.tasks._sources import call_reader

            frame, first, where = call_reader(cfg.reader, cfg.reader_args)["train"], 0, "data"
        extra = [cfg.series_column] if cfg.series_column else []
        extra += time_columns(art)
        require_columns(frame, cols + extra, where)
        unknown = [c for c in cfg.categorical if c not in raw]
        if unknown:
            raise ValueError(
                f"data.categorical: {unknown} are not in data.covariates or data.static_covariates"
            )
        blank = frame.isna().all(axis=1).to_numpy()  # blank lines
        lines = np.arange(len(frame))[~blank] + first
        frame = frame.loc[~blank].reset_index(drop=True)
        frame, lines, stamps = self._select_rows(frame, lines, where)
        if "categorical" not in art:
            art["categorical"] = [
                c
                for c in raw
                if c in cfg.categorical
                or (sio.is_text_column(frame[c]) and not sio.mostly_numbers(frame[c]))
            ]
        numeric = numeric_columns(art)
        frame = frame.copy()
        for c in numeric:
            frame[c] = sio.numeric_column(frame[c], c, lines, where, c not in cfg.targets)
        fill = input_fill(cfg.fill)  # a masked target: forward-filled as an input
        for c in masked_targets(cfg.fill, list(cfg.targets)):
            frame[OBSERVED + c] = frame[c].notna()
        sio.gap_policies(frame, numeric, fill, lines, where)  # every gap has a policy
        if stamps is not None:
            frame["__time__"] = stamps
        groups = {"0": np.arange(len(frame))}
        if cfg.series_column:
            keys = frame[cfg.series_column].astype(str)
            groups = {str(k): v for k, v in keys.groupby(keys, sort=False).indices.items()}
        tables, times, freq = {}, {}, cfg.freq
        for sid, index in groups.items():
            g, gl = frame.iloc[index].reset_index(drop=True), lines[index]
            check_static(g, cfg.static_covariates, gl, where, sid)
            if stamps is not None:
                freq = sio.check_times(g["__time__"].to_numpy(), gl, freq, where, sid)
            g, gl = sio.fill_gaps(g, numeric, fill, gl, where)
            if stamps is not None:
                times[sid] = g["__time__"].to_numpy()
            tables[sid] = g
        art.setdefault("freq", freq)
        return tables, times

    def _select_rows(self, frame, lines, where: str):
        """``rows`` / ``dates`` applied to the whole frame; the parsed time stamps."""
        import pandas as pd

        cfg = self.config
        if cfg.rows is not None:
            start, stop = row_range(cfg.rows)
            if start >= len(frame):
                raise ValueError(f"data.rows {cfg.rows!r}: the file has {len(frame)} rows")
            frame, lines = frame.iloc[start:stop].reset_index(drop=True), lines[start:stop]
        if not cfg.has_time:
            return frame, lines, None
        stamps = parse_times(frame, self.artifacts, lines, where)
        if cfg.dates is not None:
            try:
                lo, hi = (pd.Timestamp(v).to_datetime64() for v in cfg.dates)
            except (TypeError, ValueError) as e:
                raise ValueError(f"data.dates: not dates: {cfg.dates!r}") from e
            keep = (stamps >= lo) & (stamps < hi)
            if not keep.any():
                raise ValueError(f"data.dates {cfg.dates!r}: no row falls in that range")
            frame, lines, stamps = frame[keep].reset_index(drop=True), lines[keep], stamps[keep]
        return frame, lines, stamps

    def _fit_categories(self, train_parts: list) -> None:
        art = self.artifacts
        if "categories" in art:
            return
        import pandas as pd

        train = pd.concat(train_parts) if train_parts else None
        art["categories"] = {c: sio.fit_categories(train[c]) for c in art["categorical"]}
        for c, cats in art["categories"].items():
            shown = ", ".join(cats[:8]) + (", ..." if len(cats) > 8 else "")
            log.warning(
                "data.covariates: column %r is not numeric: one-hot encoded into %d columns "
                "(%s), categories from the train rows; a value unseen there is all zeros",
                c,
                len(cats),
                shown,
            )

    def features(self, table, stamps=None) -> np.ndarray:
        """A series table -> (T, K + C) float32: targets, covariates (one-hot where
        categorical), calendar features."""
        art = self.artifacts
        cats = art.get("categories") or {}
        cols = [table[art["targets"]].to_numpy(np.float64)]
        for c in art.get("raw_covariates", art["covariates"]):
            if c in cats:
                cols.append(sio.one_hot(table[c], cats[c]))
            else:
                cols.append(table[[c]].to_numpy(np.float64))
        if art.get("time_features"):
            cols.append(sio.time_features(stamps, art["time_features"]))
        return np.concatenate(cols, axis=1).astype(np.float32)

    def _fit_scaler(self, train_values: np.ndarray) -> None:
        art = self.artifacts
        if "scaler" not in art:
            cols = art["targets"] + art["covariates"]
            art["scaler"] = Scaler.fit(self.config.scaler, cols, train_values).to_artifact()
        self.scaler = Scaler.from_artifact(art["scaler"])

    def _observed(self, table) -> np.ndarray | None:
        """(T, K) True where a target has a value, or None when no target is masked."""
        targets = self.artifacts["targets"]
        masked = masked_targets(self.artifacts.get("fill"), targets)
        if not masked:
            return None
        obs = np.ones((len(table), len(targets)), bool)
        for c in masked:
            obs[:, targets.index(c)] = table[OBSERVED + c].to_numpy(bool)
        return obs

    def _window(self, arr: np.ndarray, start: int, scaled_already: bool = False, truth=None):
        """``(x (W + H, F), y (H, K))``; ``truth`` (T, F), the targets with NaN at masked
        gaps, gives ``y`` (``x`` holds the filled values)."""
        w, h = self.artifacts["input_window"], self.artifacts["horizon"]
        k = len(self.artifacts["targets"])
        seg = arr[start : start + w + h]
        if not scaled_already:
            seg = self.scaler.transform(seg)
        x = torch.from_numpy(np.ascontiguousarray(seg, dtype=np.float32))
        if truth is None:
            return x, x[w:, :k].clone()
        y = truth[start + w : start + w + h, :k]
        return x, torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))

    def collate(self, items: list):
        return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])
