"""Forecast tables as distributed, cell by cell: the delimiter, byte-order mark and line ends
of a CSV, numbers (decimal commas, the usual missing-value texts), text categories and their
one-hot columns, calendar features, time stamps (assembled from parts, checked for a regular
frequency, continued past the end) and gap filling. Errors name the file's line and the
``data.*`` key that fixes them.

Which of a table's columns a model reads, and what its features are, is
:mod:`deeprnn.tasks.forecast.columns`.

Shape symbols: T rows (time steps) of a table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deeprnn._validation import check_choice
from deeprnn.data._io import DataFormatError, decode_utf8
from deeprnn.data.series_io import FILL_POLICIES

TIME_FEATURES = {"hour": 24, "dayofweek": 7, "month": 12, "dayofyear": 366}
TIME_PARTS = ("year", "month", "day", "hour", "minute", "second")


def read_table(
    path: str | os.PathLike, where: str = "data.path", header: bool = True
) -> pd.DataFrame:
    """A CSV / TSV (or a ``.parquet`` file) as a DataFrame, whatever its layout: compressed by its suffix (``.gz``,
    ``.bz2``, ``.xz``, ``.zip``, as pandas reads them), a UTF-8 byte-order mark, CRLF line ends,
    and the delimiter (``,`` ``;`` tab ``|``) sniffed from the first lines (with ``;``, decimal
    commas are read as numbers). Column names are stripped of spaces; ``header=False``: the
    file has no header row, its columns are named ``"0"``, ``"1"`` ... Data row ``i`` is line
    ``i + 2`` of the file (``i + 1`` without a header)."""
    import csv
    import io

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{where}: file not found: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path, where)
    text = decode_utf8(_decompressed(path), path)  # strips a BOM
    sample = "\n".join(text.splitlines()[:20])
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    options = {"sep": sep, "skip_blank_lines": False, "header": 0 if header else None}
    try:
        frame = pd.read_csv(io.StringIO(text), **options)
        if sep == ";" and any(_decimal_commas(frame[c]) for c in frame.columns):
            frame = pd.read_csv(io.StringIO(text), decimal=",", **options)
    except pd.errors.ParserError as e:
        raise DataFormatError(path, None, f"malformed CSV ({sep!r}-separated): {e}") from None
    except pd.errors.EmptyDataError:
        raise DataFormatError(path, None, "empty file: no header and no rows") from None
    if frame.empty:
        raise DataFormatError(path, None, f"{where} is empty: the file holds a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_parquet(path: Path, where: str) -> pd.DataFrame:
    """A Parquet file as a DataFrame (pyarrow); data row ``i`` is "line" ``i + 2``, as a CSV's."""
    try:
        frame = pd.read_parquet(path)
    except ImportError as e:
        raise ImportError(f"{where}: reading {path} needs pyarrow: {e}") from None
    except Exception as e:  # pyarrow.ArrowInvalid, OSError ...: a truncated or foreign file
        first = (str(e).strip().splitlines() or [""])[0]
        raise DataFormatError(path, None, f"not a readable Parquet file ({first})") from None
    if frame.empty:
        raise DataFormatError(path, None, f"{where} is empty: the file holds no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _decompressed(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when its suffix names a compression."""
    import bz2
    import gzip
    import lzma
    import zipfile

    raw = path.read_bytes()
    kind = path.suffix.lower()
    try:
        if kind == ".gz":
            return gzip.decompress(raw)
        if kind == ".bz2":
            return bz2.decompress(raw)
        if kind == ".xz":
            return lzma.decompress(raw)
        if kind == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise DataFormatError(
                        path, None, f"a .zip must hold one CSV file, this one holds {names}"
                    )
                return archive.read(names[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as e:
        raise DataFormatError(
            path, None, f"not a readable {kind[1:]} file ({e}); decompress it or fix the suffix"
        ) from None
    return raw


def _decimal_commas(column: pd.Series) -> bool:
    """A text column of numbers written with a decimal comma (``3,25``)."""
    if pd.api.types.is_numeric_dtype(column):
        return False
    values = column.dropna().astype(str)
    return len(values) > 0 and bool(values.str.fullmatch(r"[+-]?\d*,\d+").all())


def is_text_column(column: pd.Series) -> bool:
    """A string, categorical, boolean or object column (one-hot encoded as a covariate)."""
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


NA_TEXT = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "NULL", "null", "None", "<NA>"})


def numeric_column(
    column: pd.Series, name: str, lines: np.ndarray, where: str, covariate: bool = True
) -> pd.Series:
    """A column as float64 (the texts of :data:`NA_TEXT`, which pandas reads as missing, are
    missing); a value that is not a number raises an error naming the line."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(np.float64)
    values = column.astype(object)
    absent = column.isna() | values.map(lambda v: isinstance(v, str) and v.strip() in NA_TEXT)
    num = pd.to_numeric(values.where(~absent, None), errors="coerce")
    bad = np.flatnonzero((num.isna() & ~absent).to_numpy())
    if len(bad):
        k = int(bad[0])
        fix = f", or list {name!r} in data.categorical to one-hot encode it" if covariate else ""
        raise ValueError(
            f"{where}: column {name!r} line {int(lines[k])}: {column.iloc[k]!r} is not a number "
            f"({len(bad)} such value(s)); fix the value(s) or leave them empty (missing){fix}"
        )
    return num.astype(np.float64)


def mostly_numbers(column: pd.Series, share: float = 0.9) -> bool:
    """True when at least ``share`` of the non-missing values of a text column are numbers."""
    values = column.dropna()
    if len(values) == 0:
        return False
    num = pd.to_numeric(values.astype(object), errors="coerce")
    return float(num.notna().mean()) >= share


def fit_categories(column: pd.Series) -> list[str]:
    """The sorted distinct values (as text) of a column, missing values left out."""
    return sorted({str(v) for v in column.dropna().tolist()})


def one_hot(column: pd.Series, categories: list[str]) -> np.ndarray:
    """(T, len(categories)) float32; a missing or unseen value is an all-zero row."""
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(column), len(categories)), np.float32)
    for row, v in enumerate(column.tolist()):
        j = None if v is None or (isinstance(v, float) and np.isnan(v)) else index.get(str(v))
        if j is not None:
            out[row, j] = 1.0
    return out


def time_feature_names(names: Sequence[str]) -> list[str]:
    return [f"{n}_{f}" for n in names for f in ("sin", "cos")]


def time_features(stamps, names: Sequence[str]) -> np.ndarray:
    """Calendar features of time stamps as sin / cos pairs: (T, 2 len(names)) float32."""
    idx = pd.DatetimeIndex(stamps)
    cols = []
    for n in names:
        if n not in TIME_FEATURES:
            raise ValueError(
                f"data.time_features: unknown {n!r}; choose from {list(TIME_FEATURES)}"
            )
        attr = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}.get(n, n)
        value = np.asarray(getattr(idx, attr), np.float64)
        if n in ("month", "dayofyear"):
            value = value - 1
        angle = 2 * np.pi * value / TIME_FEATURES[n]
        cols += [np.sin(angle), np.cos(angle)]
    return (
        np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((len(idx), 0), np.float32)
    )


def assemble_time(frame: pd.DataFrame, parts: Sequence[str], lines: np.ndarray, where: str):
    """Time stamps from columns such as ``[year, month, day, hour]`` (named by what they hold,
    in the order year, month, day, hour, minute, second) -> datetime64[ns] array."""
    parts = list(parts)
    unit = list(TIME_PARTS[: len(parts)])
    if len(parts) < 3:
        raise ValueError(f"{where}: needs at least [year, month, day] columns, got {parts}")
    if len(parts) > len(TIME_PARTS):
        raise ValueError(f"{where}: at most {list(TIME_PARTS)} columns, got {parts}")
    cols = {}
    for u, c in zip(unit, parts):
        cols[u] = numeric_column(frame[c], c, lines, where)
    stamps = pd.to_datetime(pd.DataFrame(cols), errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if len(bad):
        k = int(bad[0])
        got = ", ".join(f"{c}={frame[c].iloc[k]}" for c in parts)
        raise ValueError(
            f"{where}: line {int(lines[k])}: {got} is not a valid date; fix or drop the row"
        )
    return stamps.to_numpy()


def _infer_freq(idx: pd.DatetimeIndex) -> str | None:
    """``pandas.infer_freq`` as text (pandas 3 warns that it will return an offset)."""
    import warnings

    if len(idx) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(idx)
    return getattr(freq, "freqstr", freq)


def _check_order(idx: pd.DatetimeIndex, lines: np.ndarray, where: str) -> pd.TimedeltaIndex:
    """The steps between consecutive stamps (Timedeltas, whatever the stamps' unit); a repeat or
    a step back in time raises an error naming both lines."""
    steps = idx[1:] - idx[:-1]  # (T - 1,) timedelta64 in the stamps' own unit
    back = np.flatnonzero(steps <= pd.Timedelta(0))
    if len(back):
        k = int(back[0]) + 1
        what = (
            "repeats the time of" if steps[k - 1] == pd.Timedelta(0) else "goes back in time from"
        )
        raise ValueError(
            f"{where}: line {int(lines[k])} ({idx[k]}) {what} line {int(lines[k - 1])}; "
            f"sort the file by time and remove duplicate rows"
        )
    return steps


def _grid(start, freq: str, periods: int | None = None, end=None) -> pd.DatetimeIndex:
    try:
        return pd.date_range(start, end, periods=periods, freq=freq)
    except ValueError as e:
        raise ValueError(f"data.freq: not a pandas frequency: {freq!r} ({e})") from None


def check_times(stamps, lines: np.ndarray, freq: str | None, where: str, sid: str = "0") -> str:
    """Time stamps of one series must increase without repeats, at a regular frequency
    (``freq``, or one inferred by ``pandas.infer_freq``); returns the frequency."""
    idx = pd.DatetimeIndex(stamps)
    of = "" if sid == "0" else f" (series {sid!r})"
    steps = _check_order(idx, lines, f"{where}{of}")
    if freq is None:
        freq = _infer_freq(idx)
        if freq is None:
            counts = steps.value_counts()
            usual = counts.index[0]  # the most common step
            k = int(np.flatnonzero(steps != usual)[0]) + 1 if len(counts) > 1 else 1
            raise ValueError(
                f"{where}{of}: irregular time steps: line {int(lines[k])} ({idx[k]}) is "
                f"{steps[k - 1]} after the previous row, most steps are {usual}; fill the "
                f"missing time stamps or set data.freq to put the series on its grid"
            )
    expected = _grid(idx[0], freq, periods=len(idx))
    off = np.flatnonzero(expected != idx)
    if len(off):
        k = int(off[0])
        raise ValueError(
            f"{where}{of}: line {int(lines[k])} ({idx[k]}) is off the {freq!r} grid (expected "
            f"{expected[k]}); fill the missing time stamps or fix data.freq"
        )
    return str(freq)


def regrid(
    frame: pd.DataFrame,
    lines: np.ndarray,
    freq: str,
    where: str,
    sid: str = "0",
    keep: Sequence[str] = (),
):
    """One series (its stamps in the column ``__time__``) on its regular ``freq`` grid, from its
    first stamp to its last: each missing stamp becomes a row whose values are missing (NaN,
    for ``data.fill`` to fill or mask; a boolean column, such as a masked target's observed
    flags, is False there), except the columns ``keep`` (the series id, static covariates:
    constant per series), carried from the row before. A stamp off the grid is an error naming
    its line. Returns ``(frame, lines, added)``: ``lines`` gives an added row the line of the row
    before it, ``added`` (T,) is True at the added rows."""
    idx = pd.DatetimeIndex(frame["__time__"].to_numpy())
    of = "" if sid == "0" else f" (series {sid!r})"
    _check_order(idx, lines, f"{where}{of}")
    grid = _grid(idx[0], freq, end=idx[-1])
    off = np.flatnonzero(~idx.isin(grid))
    if len(off):
        k = int(off[0])
        raise ValueError(
            f"{where}{of}: line {int(lines[k])} ({idx[k]}) is off the {freq!r} grid that starts "
            f"at {idx[0]} (data.freq); fix the time or data.freq"
        )
    position = pd.Series(np.arange(len(frame)), index=idx).reindex(grid)
    added = position.isna().to_numpy()
    if not added.any():
        return frame, lines, added
    before = position.ffill().to_numpy(np.int64)  # the row each added row follows
    out = frame.iloc[before].reset_index(drop=True)
    for c in frame.columns:
        if c == "__time__" or c in keep:
            continue
        if pd.api.types.is_bool_dtype(out[c]):
            out.loc[added, c] = False
        else:
            out[c] = out[c].where(~added)  # NaN (None in a text column) at the added rows
    out["__time__"] = grid.to_numpy()
    return out, lines[before], added


def next_times(last, freq: str, steps: int) -> list[str]:
    """The ``steps`` time stamps after ``last`` at frequency ``freq``, as ISO text."""
    rng = pd.date_range(pd.Timestamp(last), periods=steps + 1, freq=freq)[1:]
    return [t.isoformat(sep=" ") if t.nanosecond == 0 else str(t) for t in rng]


def gap_policies(frame: pd.DataFrame, columns: Sequence[str], fill, lines, where: str) -> dict:
    """The fill policy of each of ``columns`` that has a gap; a gap without one raises an error
    naming each such column, its count and first line, and the key to set."""
    missing = frame[list(columns)].isna()
    counts = missing.sum()
    gaps = [c for c in columns if counts[c]]
    if isinstance(fill, dict):
        for c, policy in fill.items():
            if c not in columns:
                raise ValueError(
                    f"data.fill: {c!r} is not a numeric target or covariate; got {list(columns)}"
                )
            check_choice(f"data.fill.{c}", policy, FILL_POLICIES)
        policies = {c: fill[c] for c in gaps if c in fill}
    else:
        if fill is not None:
            check_choice("data.fill", fill, FILL_POLICIES)
        policies = {c: fill for c in gaps} if fill is not None else {}
    unfilled = [c for c in gaps if c not in policies]
    if unfilled:
        parts = [
            f"{c!r} ({int(counts[c])}, first at line "
            f"{int(lines[int(np.argmax(missing[c].to_numpy()))])})"
            for c in unfilled
        ]
        raise ValueError(
            f"{where}: missing values in {', '.join(parts)}; set data.fill to one of "
            f"{list(FILL_POLICIES)} (every column) or a mapping such as "
            f"{{{unfilled[0]}: interpolate}}"
        )
    return policies


def fill_gaps(frame: pd.DataFrame, columns: Sequence[str], fill, lines: np.ndarray, where: str):
    """Missing values in ``columns`` filled by ``fill`` (a policy of :data:`FILL_POLICIES` for
    every column, or a mapping column -> policy; see :func:`gap_policies`); returns
    ``(frame, lines)`` (``"drop"`` drops rows)."""
    policies = gap_policies(frame, columns, fill, lines, where)
    if not policies:
        return frame, lines
    missing = frame[list(columns)].isna()
    frame = frame.copy()
    drop = np.zeros(len(frame), bool)
    for c, policy in policies.items():
        if policy == "drop":
            drop |= missing[c].to_numpy()
        elif policy == "ffill":
            frame[c] = frame[c].ffill().bfill()
        elif policy == "interpolate":
            frame[c] = frame[c].interpolate(limit_direction="both")
        else:
            frame[c] = frame[c].fillna(0.0)
    if drop.any():
        frame, lines = frame.loc[~drop].reset_index(drop=True), lines[~drop]
    left = [c for c in columns if frame[c].isna().any()]
    if left or len(frame) == 0:
        raise ValueError(f"{where}: data.fill left no complete values in {left or list(columns)}")
    return frame, lines
