"""A panel read by columns (issue 29): a CSV or Parquet file of many series read once by pyarrow
into column arrays, grouped by series into one contiguous float32 block, with no DataFrame per
series and no Python object per row.

It serves the tables the general path (:func:`deeprnn.tasks.forecast.columns.read_frames`, a
pandas frame per series, every cell checked with the line it is on) would read to the same
numbers: numeric targets and covariates without gaps, one ``time_column`` at a fixed step
(hours, days, minutes ...), optional calendar ``time_features``. Anything else — categorical or
static covariates, gaps and ``fill``, ``rows`` / ``dates``, ``freq``, time parts, a calendar
frequency (months, weeks), a CSV pyarrow does not parse as the header says — makes
:func:`read_panel` return ``None`` and the general path reads the table, with its errors.

Shape symbols: N rows of all series, F = K + C features, S series.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeprnn.tasks.forecast import tables as sio

PARQUET = (".parquet", ".pq")


@dataclass
class ColumnarPanel:
    """``values`` (N, F) float32 unscaled, the series one after another in the order they first
    appear in the file, each in file order; ``offsets`` (S + 1,); ``ids`` (S,) as text (the
    general path's ``astype(str)``); ``times`` (N,) datetime64[ns] or None."""

    values: np.ndarray
    offsets: np.ndarray
    ids: list[str]
    times: np.ndarray | None


def is_parquet(path) -> bool:
    return str(path).lower().endswith(PARQUET)


def _simple(cfg) -> bool:
    """Whether the config reads a table the columnar path serves."""
    return (
        cfg.source == "csv"
        and cfg.header
        and bool(cfg.path)
        and not (cfg.categorical or cfg.static_covariates or cfg.time_columns)
        and cfg.fill is None
        and cfg.freq is None
        and cfg.rows is None
        and cfg.dates is None
    )


def _read(path: Path, columns: list[str]):
    """The pyarrow Table of ``columns`` (None: the file does not have them as named)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    try:  # a file pyarrow cannot read (truncated, not UTF-8 ...): the general path says why
        if is_parquet(path):
            names = pq.ParquetFile(path).schema_arrow.names
            if any(c not in names for c in columns):
                return None
            return pq.read_table(path, columns=columns)
        if path.suffix.lower() not in (".csv", ".gz"):
            return None
        head = _head(path)
        first = head.split(b"\n", 1)[0].decode("utf-8").strip("\r\ufeff")
        if any(s in first for s in ";\t|"):  # the general path sniffs those: leave them to it
            return None
        names = next(csv.reader([first]))  # quoted names too
        if names != [c.strip() for c in names]:
            return None
        if any(c not in names for c in columns):
            return None
        options = pcsv.ConvertOptions(include_columns=columns)
        return pcsv.read_csv(path, convert_options=options)
    except (OSError, EOFError, ValueError, pa.ArrowException):
        return None


def _head(path: Path) -> bytes:
    """The first 4 KiB of a CSV (decompressed when it ends in ``.gz``)."""
    if path.suffix.lower() == ".gz":
        import gzip

        with gzip.open(path, "rb") as f:
            return f.read(4096)
    with open(path, "rb") as f:
        return f.read(4096)


def read_panel(cfg, art: dict) -> ColumnarPanel | None:
    """The panel of ``cfg`` (a ForecastDataConfig) read by columns, or None when the general
    path must read it. Sets the artifacts ``categorical`` ([]) and ``freq`` unless given."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _simple(cfg):
        return None
    path = Path(cfg.path)
    if not path.is_file():
        return None  # the general path says so
    numeric = list(cfg.targets) + list(cfg.covariates)
    extra = [c for c in (cfg.series_column, cfg.time_column) if c]
    table = _read(path, list(dict.fromkeys(numeric + extra)))
    if table is None or table.num_rows == 0:
        return None
    for c in numeric:
        col = table.column(c)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            return None
        if col.null_count or not pc.all(pc.is_finite(pc.cast(col, pa.float64()))).as_py():
            return None
    times = None
    if cfg.time_column:
        col = table.column(cfg.time_column)
        if not pa.types.is_timestamp(col.type) or col.type.tz is not None or col.null_count:
            return None
        times = col.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]")
    n = table.num_rows
    if cfg.series_column:
        codes, ids = _codes(table.column(cfg.series_column))
        if codes is None:
            return None
        counts = np.bincount(codes, minlength=len(ids))
        order = None if (np.diff(codes) >= 0).all() else np.argsort(codes, kind="stable")
    else:
        ids, counts, order = ["0"], np.array([n]), None
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    values = np.empty((n, len(numeric)), np.float32)
    for j, c in enumerate(numeric):
        col = table.column(c).to_numpy()
        values[:, j] = col if order is None else col[order]
        del col
    if times is not None and order is not None:
        times = times[order]
    del table
    if times is not None:
        freq = _fixed_step_freq(times, offsets, ids, cfg)
        if freq is None:
            return None
        art.setdefault("freq", freq)
        if cfg.time_features:
            cal = sio.time_features(times, cfg.time_features)
            values = np.concatenate([values, cal.astype(np.float32)], axis=1)
    else:
        art.setdefault("freq", None)
    art.setdefault("categorical", [])
    return ColumnarPanel(values, offsets, ids, times)


def _codes(col) -> tuple[np.ndarray | None, list[str]]:
    """Series codes in order of first appearance and the ids as text (None: not ids)."""
    import pyarrow as pa

    if col.null_count:
        return None, []
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)  # one dictionary, in order of first appearance
    if not (
        pa.types.is_string(col.type)
        or pa.types.is_large_string(col.type)
        or pa.types.is_integer(col.type)
    ):
        return None, []
    enc = col.dictionary_encode()
    return enc.indices.to_numpy().astype(np.int64), [str(v) for v in enc.dictionary.to_pylist()]


def _fixed_step_freq(times: np.ndarray, offsets: np.ndarray, ids: list[str], cfg) -> str | None:
    """The frequency of a panel whose every series steps by one fixed duration (the first
    series' frequency, by :func:`~deeprnn.tasks.forecast.tables.check_times`), else None."""
    import pandas as pd

    lengths = np.diff(offsets)
    if (lengths < 3).any():
        return None
    first = times[offsets[0] : offsets[1]]
    try:
        freq = sio.check_times(first, np.arange(len(first)), None, f"data.path {cfg.path}", ids[0])
    except ValueError:
        return None
    if not isinstance(pd.tseries.frequencies.to_offset(freq), pd.offsets.Tick):
        return None  # months, weeks ...: the general path checks each series' grid
    step = np.diff(times.view(np.int64))
    step[offsets[1:-1] - 1] = step[0]  # the jumps between series are not steps
    if len(step) and (step != step[0]).any():
        return None
    return freq
