"""Data and windows of the forecasting task: sources, chronological splits, windows, scaling.

Sources (``data.source``):

* ``sines``: the seeds' generator (Géron, HOML ch. 15): ``num_series`` independent series of
  ``input_window + horizon`` steps, sums of two random sines plus noise; split by series;
* ``csv``: one long series or several (``series_column``), columns ``targets`` and
  ``covariates``; each series is split in time (train, then val, then test) and cut into
  windows whose forecast lies inside one split;
* ``reader``: ``"package.module:function"`` returning one pandas DataFrame (or
  ``{"frame": DataFrame}``) handled like a CSV, or splits ``{"train": [...], "val": [...],
  "test": [...]}`` of (T, F) arrays whose first columns are the targets
  (:mod:`deeprnn.tasks.forecast.reader`).

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

Tables as distributed (``csv``): the delimiter is sniffed, a byte-order mark, CRLF line
ends and a compressed file (``.gz``, ``.bz2``, ``.xz``, ``.zip``) are fine; ``header: false``
reads a file without a header row, its columns named ``0``, ``1`` ... (a column name may be
given as an int anywhere). ``fill`` fills gaps (one of ``ffill`` / ``interpolate`` / ``zero`` / ``drop``
for every column, or a mapping column -> policy; ``{target: mask}`` keeps a target's gaps as
missing values: its input values are forward-filled, and the loss and the metrics skip the
missing steps, as GluonTS trains on observed values only). Text / categorical covariates (and those
listed in ``categorical``) are one-hot encoded with categories fitted on the train rows
(artifact ``categories``; a value unseen there is an all-zero row). The time comes from
``time_column`` or is assembled from ``time_columns: [year, month, day, hour]``; it must
increase without repeats at a regular frequency (``pandas.infer_freq``); ``freq`` (``D``, ``h``,
``MS`` ...) puts each series on that grid instead, its missing time stamps rows whose values are
missing (for ``fill`` to fill or mask);
``time_features: [hour, dayofweek, month, dayofyear]`` adds sin / cos calendar covariates,
known for the forecast steps too.

Covariates known over the forecast horizon (the model reads their future values; the other
covariates are past-only): ``known_covariates`` (columns of ``covariates`` whose future values
are known when forecasting: a planned promotion, a holiday flag, a weather forecast), the
calendar features, and ``static_covariates`` (columns constant within each series — a store's
size, a sensor's type; numeric or categorical — fed at every step as DeepAR does).

Panels (issue 29): the series are kept as one scaled float32 block and every split's windows as
row indices into it (:mod:`deeprnn.tasks.forecast.windows`); a numeric panel with a fixed-step
time column is read by columns from CSV or Parquet (:mod:`deeprnn.tasks.forecast.columnar`).
``windows_per_epoch`` draws that many training windows each epoch (``window_sampling``:
``length``, every window as likely, or ``series``, each series as likely). ``series_scaler``
(``mean``, DeepAR's, or ``standard``) scales each series' targets by statistics of its own train
rows inside the model (:mod:`deeprnn.tasks.forecast.series`, artifacts ``series_ids`` and
``series_scaler``).

``rows: N`` or ``rows: [start, stop]`` uses only those rows of the file (before the series are
grouped); ``dates: [start, stop]`` (with ``time_column``) only the rows with
``start <= time < stop``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from deeprnn._distributed import is_rank_zero
from deeprnn.data.seasonality import season_length
from deeprnn.data.timeseries import Scaler
from deeprnn.tasks._data import EpochShuffle, TaskData, carve_source, split_indices
from deeprnn.tasks.forecast import cache, columnar, columns, reader, shards
from deeprnn.tasks.forecast.baselines import pool_train_windows
from deeprnn.tasks.forecast.data_config import ForecastDataConfig
from deeprnn.tasks.forecast.predict import encode_history
from deeprnn.tasks.forecast.series import fit_series_scaler, series_codes
from deeprnn.tasks.forecast.splits import (
    row_sources,
    split_bounds,
    window_rows,
)
from deeprnn.tasks.forecast.windows import (
    Panel,
    Windows,
    WindowSample,
    WindowStarts,
    baseline_scores,
    check_train,
)

__all__ = ["ForecastData", "ForecastDataConfig"]

log = logging.getLogger("deeprnn.tasks.forecast")


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


class ForecastData(TaskData):
    """Windows ``(x (W + H, F), y (H, K))`` of scaled series; artifacts: targets, covariates
    (the F - K input features: numeric covariates, one-hot columns ``col=value``, calendar
    ``hour_sin`` ...), raw_covariates (the table's columns), categories, time_column,
    time_columns, freq, regrid (``data.freq`` given), time_features, fill, input_window, horizon,
    seasonality, scaler.

    :meth:`load` reads the series (:func:`~deeprnn.tasks.forecast.columns.read_frames`), cuts
    them in time (:mod:`~deeprnn.tasks.forecast.splits`), encodes their features
    (:func:`~deeprnn.tasks.forecast.columns.features`), scales them with a
    :class:`~deeprnn.data.Scaler` fitted on the train rows and cuts the windows."""

    cache_skipped = False  # data.cache held other artifacts than the ones given
    shard_owner: np.ndarray | None = None  # series -> DDP rank (data.cache under DDP)
    sharded: dict | None = None  # split -> its shards, for metrics.json (shards.of_split)

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
            what = f"synthetic sines (data.num_series={cfg.num_series}, seed {self.seed})"
            self.split_sources = {
                s: carve_source(what, len(p), len(series), f, self.seed, "series, one window each")
                for s, p, f in zip(("train", "val", "test"), parts, fr)
            }
            self._fit_scaler(np.concatenate(raw["train"]) if raw["train"] else series[0])
            self.splits = {}
            for s, items in raw.items():  # one window per series
                panel = Panel.concat(
                    [self.scaler.transform(a).astype(np.float32) for a in items],
                    [f"{s}/{i}" for i in range(len(items))],
                )
                n = len(items)
                self.splits[s] = Windows(panel, panel.offsets[:-1], np.arange(n), w, h, 1)
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
        frame = None
        if cfg.source == "reader":
            out = reader.call(cfg.reader, cfg.reader_args)
            if "frame" not in out:  # splits of (T, F) arrays
                self._load_series_splits(reader.split_arrays(out, cfg))
                return
            frame = out["frame"]
        fast = columnar.read_panel(cfg, art) if frame is None else None
        if fast is None:
            tables, times = columns.read_frames(cfg, art, frame)
        if "seasonality" not in art:  # from the frequency of the time column (M4 / GluonTS)
            art["seasonality"] = season_length(art.get("freq"))
            log.warning(
                "data.seasonality: %d, the season length of the %r frequency (M4 / GluonTS: "
                "hourly 24, monthly 12, quarterly 4, daily 1 ...); set data.seasonality to "
                "override",
                art["seasonality"],
                art.get("freq"),
            )
        if fast is not None:
            self._load_columnar(fast)
            return
        bounds = {sid: split_bounds(len(t), cfg, times.get(sid), sid) for sid, t in tables.items()}
        where = str(cfg.path) if frame is None else f"the DataFrame of data.reader {cfg.reader}"
        self.split_sources = row_sources(where, cfg, bounds, times)
        columns.fit_categorical(art, [t.iloc[: bounds[sid][0]] for sid, t in tables.items()])
        art.setdefault("covariates", columns.feature_names(art))
        frames = {sid: columns.features(art, t, times.get(sid)) for sid, t in tables.items()}
        starts = {sid: window_rows(len(arr), bounds[sid], w, h, cfg) for sid, arr in frames.items()}
        check_train(starts, {sid: len(a) for sid, a in frames.items()}, cfg)
        observed = {sid: columns.observed_targets(art, t) for sid, t in tables.items()}
        del tables
        train_rows = [
            _with_gaps(arr, observed[sid])[: bounds[sid][0]] for sid, arr in frames.items()
        ]
        self._fit_scaler(np.concatenate(train_rows))
        self._fit_series(list(frames), train_rows)
        del train_rows
        self._set_panel(frames, observed, starts)

    def _set_panel(self, frames: dict, observed: dict, starts: dict) -> None:
        """The splits as :class:`~deeprnn.tasks.forecast.windows.Windows` of one scaled float32
        panel of the series ``frames`` (each (T, F), dropped as it is copied in); ``starts``:
        series -> split -> first rows of its windows."""
        art = self.artifacts
        k = len(art["targets"])
        ids = list(frames)
        masked = any(o is not None for o in observed.values())
        parts, truth = [], [] if masked else None
        for sid in ids:
            scaled = self.scaler.transform(frames.pop(sid)).astype(np.float32)
            parts.append(scaled)
            if masked:
                truth.append(_with_gaps(scaled[:, :k], observed[sid]))
        self.panel = Panel.concat(parts, ids, truth)
        del parts, truth
        self._set_windows(starts)

    def _load_columnar(self, p) -> None:
        """The splits of a :class:`~deeprnn.tasks.forecast.columnar.ColumnarPanel`: the same
        bounds, scaler and windows as the general path, scaled in place."""
        cfg, art = self.config, self.artifacts
        w, h = art["input_window"], art["horizon"]
        spans = {sid: (int(p.offsets[i]), int(p.offsets[i + 1])) for i, sid in enumerate(p.ids)}
        times = {} if p.times is None else {sid: p.times[a:b] for sid, (a, b) in spans.items()}
        bounds = {
            sid: split_bounds(b - a, cfg, times.get(sid), sid) for sid, (a, b) in spans.items()
        }
        self.split_sources = row_sources(str(cfg.path), cfg, bounds, times)
        columns.fit_categorical(art, [])
        art.setdefault("covariates", columns.feature_names(art))
        starts = {sid: window_rows(b - a, bounds[sid], w, h, cfg) for sid, (a, b) in spans.items()}
        check_train(starts, {sid: b - a for sid, (a, b) in spans.items()}, cfg)
        train = [p.values[a : a + bounds[sid][0]] for sid, (a, _) in spans.items()]
        self._fit_scaler(np.concatenate(train))
        self._fit_series(p.ids, train)
        del train
        step = 1 << 20
        for a in range(0, len(p.values), step):  # in place: no float64 copy of the panel
            p.values[a : a + step] = self.scaler.transform(p.values[a : a + step])
        self.panel = Panel(p.values, p.offsets, p.ids)
        self._set_windows(starts)

    def _set_windows(self, starts: dict) -> None:
        """``splits`` and ``window_starts`` of ``self.panel`` from ``starts``: series ->
        split -> first rows of its windows within the series."""
        art = self.artifacts
        w, h, k = art["input_window"], art["horizon"], len(art["targets"])
        ids = self.panel.ids
        self.splits, self.window_starts = {}, {}
        for split in ("train", "val", "test"):
            rows = [self.panel.offsets[i] + starts[sid][split] for i, sid in enumerate(ids)]
            series = [np.full(len(starts[sid][split]), i) for i, sid in enumerate(ids)]
            self.splits[split] = Windows(
                self.panel, np.concatenate(rows), np.concatenate(series), w, h, k
            )
            self.window_starts[split] = WindowStarts(self.splits[split])

    def _load_series_splits(self, parts: dict[str, list[np.ndarray]]) -> None:
        """The windows of a reader's splits of (T, F) arrays: every window of a split's series
        belongs to that split; the scaler is fitted on the train series."""
        cfg, art = self.config, self.artifacts
        w, h = art["input_window"], art["horizon"]
        art.setdefault("covariates", list(cfg.covariates))
        if cfg.series_scaler != "none":
            raise ValueError(
                f"data.series_scaler={cfg.series_scaler!r} fits each series on its train rows: "
                f"the reader {cfg.reader} returned whole series per split; return a DataFrame "
                "with data.series_column instead"
            )
        if not any(len(a) >= w + h for a in parts["train"]):
            lengths = [len(a) for a in parts["train"]]
            raise ValueError(
                f"no training window fits: input_window + horizon = {w + h} steps, the reader's "
                f"train series have {lengths} steps"
            )
        self._fit_scaler(np.concatenate(parts["train"]))
        self.split_sources = {
            s: f"the {s!r} series of data.reader {cfg.reader} ({len(v)} series, "
            f"{sum(len(a) for a in v)} steps)"
            for s, v in parts.items()
        }
        k, stride = len(art["targets"]), cfg.stride
        self.splits, self.window_starts = {}, {}
        for split, series in parts.items():
            panel = Panel.concat(
                [self.scaler.transform(a).astype(np.float32) for a in series],
                [f"{split}/{i}" for i in range(len(series))],
            )
            rows = [np.arange(0, len(a) - w - h + 1, stride) for a in series]
            which = [np.full(len(r), i) for i, r in enumerate(rows)]
            rows = [panel.offsets[i] + r for i, r in enumerate(rows)]
            self.splits[split] = Windows(
                panel, np.concatenate(rows or [[]]), np.concatenate(which or [[]]), w, h, k
            )
            self.window_starts[split] = WindowStarts(self.splits[split])

    def split_size(self, split: str) -> tuple[int, str]:
        return len(self.splits.get(split) or []), "windows"

    def prepare(self) -> ForecastData:
        """:meth:`TaskData.prepare`, then the artifact ``baseline_val`` (unless given): the
        validation scores of the baselines ``model.baseline: auto`` chooses from. With
        ``data.cache`` the prepared panel comes memory-mapped from the cache, which the first
        run (rank 0) writes (:mod:`~deeprnn.tasks.forecast.cache`)."""
        if self._loaded:
            return self
        if self.config.cache and cache.use(self):
            self._loaded = True
            if self.batch_size_auto:
                self.resolve_batch_size()
            return self
        super().prepare()
        art = self.artifacts
        if "baseline_val" not in art:
            k, w, m = len(art["targets"]), art["input_window"], int(art.get("seasonality", 1))
            art["baseline_val"] = baseline_scores(self.splits["val"], w, k, m)
            pool_train_windows(art, self.splits, lambda ws: baseline_scores(ws, w, k, m))
        if self.config.cache and not self.cache_skipped and is_rank_zero():
            cache.build(self)
        return self

    def _fit_scaler(self, train_values: np.ndarray) -> None:
        """The artifact ``scaler`` (unless given), fitted on the train rows (NaN: a masked
        target's gaps, left out of its statistics); with ``series_scaler`` the targets' shift is
        0."""
        art = self.artifacts
        if "scaler" not in art:
            cols = art["targets"] + art["covariates"]
            scaler = Scaler(self.config.scaler, columns=cols)
            art["scaler"] = scaler.fit(train_values, skip_nan=True).state_dict()
            if self.config.series_scaler != "none":  # uncentred: a small series keeps float32
                k = len(art["targets"])  # precision (differences, *_scaled, are the same)
                art["scaler"]["shift"][:k] = [0.0] * k
        self.scaler = Scaler.from_state_dict(art["scaler"])

    def _fit_series(self, ids: list[str], train: list[np.ndarray]) -> None:
        """The artifacts ``series_ids`` (the series with training rows; when the data names
        its series) and ``series_scaler`` (``data.series_scaler``), unless given; ``train``:
        each series' unscaled train rows."""
        cfg, art = self.config, self.artifacts
        if cfg.series_column is None and cfg.series_scaler == "none":
            return
        kept = [(sid, t) for sid, t in zip(ids, train) if len(t)]
        art.setdefault("series_ids", [sid for sid, _ in kept])
        if cfg.series_scaler != "none" and "series_scaler" not in art:
            rows = [t for _, t in kept]
            art["series_scaler"] = fit_series_scaler(
                cfg.series_scaler, art["series_ids"], rows, art["targets"]
            )

    def attach_series(self) -> None:
        """Every split's windows carry their series' codes (for a model that reads the
        series); a series the artifact ``series_ids`` lacks is a ValueError naming it."""
        if "series_ids" not in self.artifacts:
            raise ValueError(
                "the model reads each window's series, and this data has no series ids: set "
                "data.series_column (or data.series_scaler on a csv or reader source)"
            )
        for split, windows in self.splits.items():
            if windows.codes is not None or not len(windows):
                continue
            used = np.unique(windows.series)
            codes = np.full(len(windows.panel.ids), -1, dtype=np.int64)
            ids = [windows.panel.ids[i] for i in used]
            codes[used] = series_codes(self.artifacts, ids, f"the {split} split")
            windows.codes = codes

    def collate(self, items):
        """A batch ``(x (B, W + H, F), y (B, H, K))`` (and ``base`` (B, H, K) when the windows
        carry a classical forecast): a DataLoader's batch comes stacked
        already (:meth:`Windows.batch <deeprnn.tasks.forecast.windows.Windows.batch>`); a list
        of windows is stacked here."""
        if isinstance(items, tuple):
            return items
        return tuple(torch.stack(parts) for parts in zip(*items))

    def batch_rows(self) -> int:
        """Windows per epoch: ``data.windows_per_epoch`` or every training window."""
        return self.config.windows_per_epoch or super().batch_rows()

    def _loader(self, split: str, train: bool) -> DataLoader:
        """The windows as they are (no list of them): an epoch samples
        ``data.windows_per_epoch`` training windows (:class:`WindowSample`) or shuffles them
        all (:class:`~deeprnn.tasks._data.EpochShuffle`, padded under DDP)."""
        items = self.splits.get(split)
        if not items:
            raise ValueError(f"the data has no {split!r} split")
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        cfg = self.config
        sharded = shards.of_split(self, split, world) if cfg.cache and world > 1 else None
        if sharded is not None:
            sampler = shards.ShardOrder(
                sharded[rank],
                items.series,
                rank=rank,
                world=world,
                seed=self.seed,
                train=train,
                shuffle=self.shuffle,
                total=max(len(m) for m in sharded),
                num=cfg.windows_per_epoch if train else None,
                sampling=cfg.window_sampling,
            )
        elif train and cfg.windows_per_epoch:
            sampler = WindowSample(
                items.series, cfg.windows_per_epoch, self.seed, cfg.window_sampling, rank, world
            )
        else:
            sampler = EpochShuffle(
                len(items), self.seed, train and self.shuffle, rank, world, pad=train and world > 1
            )
        return DataLoader(
            items,
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def provenance(self) -> dict:
        """:meth:`TaskData.provenance`, with ``sharded`` on a split the DDP ranks read by
        series (``data.cache``): the ranks, and the series and windows of each."""
        out = super().provenance()
        for split, how in (self.sharded or {}).items():
            if split in out and "fallback" not in out[split]:
                out[split]["sharded"] = how
        return out

    # -- predict time ----------------------------------------------------------------------------
    def encode_history(self, records: list) -> Iterator[tuple[str, Tensor, Tensor, list | None]]:
        """:func:`deeprnn.tasks.forecast.predict.encode_history` with these artifacts."""
        return encode_history(self.artifacts, records)

    def features(self, table, stamps=None) -> np.ndarray:
        """:func:`deeprnn.tasks.forecast.columns.features` with these artifacts."""
        return columns.features(self.artifacts, table, stamps)
