"""Time series from CSV or Parquet files (read by pandas): a time column, one or more targets,
and covariates.

Shape symbols: T time steps, K targets, C covariates.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deeprnn._validation import check_choice
from deeprnn.data._io import DataFormatError, decode_utf8, existing_file

__all__ = ["FILL_POLICIES", "SeriesFrame", "read_series"]

FILL_POLICIES = ("ffill", "interpolate", "zero", "drop")


@dataclass
class SeriesFrame:
    """A (multi-target) time series with covariates.

    Attributes:
        frame: the selected columns as a DataFrame (indexed by time when there is a time
            column), after filling.
        time: the time stamps (a ``pd.DatetimeIndex``, or a numeric ``pd.Index`` when the time
            column holds numbers such as step counts or years), or ``None``.
        target_names: the K target columns.
        covariate_names: the C covariate columns.
        path: the file read.
        filled: values filled by the fill policy, per column.
        skipped: rows not kept, by reason (``fill="drop"``).
    """

    frame: pd.DataFrame
    time: pd.Index | None
    target_names: list[str]
    covariate_names: list[str]
    path: str = ""
    filled: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def targets(self) -> np.ndarray:
        """(T, K) float32."""
        return self.frame[self.target_names].to_numpy(np.float32)

    @property
    def covariates(self) -> np.ndarray:
        """(T, C) float32 (C may be 0)."""
        return self.frame[self.covariate_names].to_numpy(np.float32).reshape(len(self.frame), -1)

    def values(self) -> np.ndarray:
        """(T, K + C) float32: targets first, then covariates (the usual model input)."""
        return np.concatenate([self.targets, self.covariates], axis=1)


def _read_frame(path, file_format: str | None, **kwargs) -> tuple[pd.DataFrame, bool]:
    name = str(path).lower()
    for suffix in (".gz", ".bz2", ".xz", ".zst", ".zip"):  # pandas reads these by the suffix
        name = name.removesuffix(suffix)
    if file_format is None:
        file_format = "parquet" if name.endswith((".parquet", ".pq")) else "csv"
    check_choice("file_format", file_format, ("csv", "parquet"))
    if file_format == "parquet":
        try:
            return pd.read_parquet(path), False
        except ImportError as e:
            raise ImportError(f"reading {path} needs pyarrow or fastparquet: {e}") from None
        except Exception as e:  # pyarrow.ArrowInvalid, OSError ... : a truncated or foreign file
            first = (str(e).strip().splitlines() or [""])[0]
            raise DataFormatError(path, None, f"not a readable Parquet file ({first})") from None
    sep = "\t" if name.endswith(".tsv") else ","
    try:
        return pd.read_csv(path, sep=sep, skip_blank_lines=False, **kwargs), True
    except UnicodeDecodeError as e:
        if name == str(path).lower():  # uncompressed: find the line
            decode_utf8(Path(path).read_bytes(), path)
        raise DataFormatError(path, None, f"not valid UTF-8 text ({e.reason})") from None
    except pd.errors.ParserError as e:
        raise DataFormatError(path, None, f"malformed CSV: {e}") from None
    except pd.errors.EmptyDataError:
        raise DataFormatError(path, None, "empty file: no header and no rows") from None


def _name(arg: str, n) -> str:
    """A column name: text, or an int (``1`` is the column ``"1"``: a numeric header)."""
    if isinstance(n, bool) or not isinstance(n, (str, int)):
        raise TypeError(f"{arg} must be column names (str or int), got {type(n).__name__} {n!r}")
    return str(n)


def _as_names(arg: str, value) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, (str, int)) else list(value)
    return [_name(arg, n) for n in names]


def read_series(
    path: str | os.PathLike,
    time_column: str | None = None,
    targets: str | Sequence[str] | None = None,
    covariates: str | Sequence[str] = (),
    fill: str | None = None,
    file_format: str | None = None,
) -> SeriesFrame:
    """Read a time series table.

    Args:
        path: a ``.csv`` (``.tsv``, compressed too: ``.gz``, ``.bz2``, ``.xz``, ``.zst``,
            ``.zip``) or ``.parquet`` file with a header.
        time_column: the column of time stamps (parsed by ``pd.to_datetime``, or kept as
            numbers when numeric); rows must be in increasing time order without repeats.
            ``None``: no time column.
        targets: the column(s) to forecast; ``None`` takes every numeric column that is not the
            time column or a covariate. A column name may be given as an int (``1`` for a
            header ``1``).
        covariates: extra input columns (known or observed features).
        fill: what to do with missing values: ``None`` raises; ``"ffill"`` carries the last
            value forward (then the first one back for a leading gap); ``"interpolate"``
            interpolates linearly (in time order); ``"zero"`` fills 0; ``"drop"`` drops the
            rows (counted in ``skipped``).
        file_format: ``"csv"`` or ``"parquet"``; ``None`` guesses from the suffix.

    Returns:
        :class:`SeriesFrame`.

    Raises:
        ValueError: a named column does not exist (the message lists the available ones).
        DataFormatError: a value is missing (NaN) and ``fill`` is ``None``, a value is not
            numeric, or the time column cannot be parsed or is not increasing; each names the
            file and the line (CSV) or row (Parquet).
    """
    path = existing_file("path", path)
    if fill is not None:
        check_choice("fill", fill, FILL_POLICIES)
    df, is_csv = _read_frame(path, file_format)
    available = [str(c) for c in df.columns]
    df.columns = available
    if time_column is not None:
        time_column = _name("time_column", time_column)
    cov_names = _as_names("covariates", covariates) or []
    target_names = _as_names("targets", targets)
    for arg, names in (
        ("time_column", [time_column] if time_column else []),
        ("targets", target_names or []),
        ("covariates", cov_names),
    ):
        for n in names:
            if n not in df.columns:
                raise ValueError(
                    f"{path}: {arg} column {n!r} not found; available columns: {available}"
                )
    if len(df) == 0:
        raise DataFormatError(path, None, "empty series: the file holds a header but no rows")
    if target_names is None:
        skip = {time_column, *cov_names}
        target_names = [
            c for c in available if c not in skip and pd.api.types.is_numeric_dtype(df[c])
        ]
        if not target_names:
            raise ValueError(f"{path}: no numeric target column; available columns: {available}")
    if not target_names:
        raise ValueError(f"targets must name at least one column, got {targets!r}")

    skipped: Counter = Counter()
    blank = df.isna().all(axis=1).to_numpy()
    if blank.any():  # blank CSV lines (kept by skip_blank_lines=False so line numbers hold)
        skipped["blank line"] += int(blank.sum())
        df = df.loc[~blank]
    rowpos = np.flatnonzero(~blank)  # file row of each remaining row

    def where(k: int, column: str) -> tuple[int | None, str]:
        row = int(rowpos[k])
        return (row + 2 if is_csv else None), f"row {row}, column {column!r}"

    out = pd.DataFrame(index=df.index)
    for col in [*target_names, *cov_names]:
        num = pd.to_numeric(df[col], errors="coerce")
        bad = (num.isna() & df[col].notna()).to_numpy()
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            line, cell = where(k, col)
            raise DataFormatError(path, line, f"{cell}: {df[col].iloc[k]!r} is not a number")
        inf = np.isinf(num.to_numpy(dtype=np.float64, na_value=np.nan))
        if inf.any():
            k = int(np.flatnonzero(inf)[0])
            line, cell = where(k, col)
            raise DataFormatError(path, line, f"{cell}: {float(num.iloc[k])} is not finite")
        out[col] = num.astype(np.float64)

    if time_column is not None:
        stamps = df[time_column]
        numeric_time = pd.api.types.is_numeric_dtype(stamps)  # step numbers, years, ...
        if numeric_time:
            parsed = stamps.astype(np.float64)
        else:
            try:
                parsed = pd.to_datetime(stamps, errors="coerce")
            except (TypeError, ValueError):
                parsed = pd.Series(pd.NaT, index=stamps.index)
        bad = parsed.isna().to_numpy()
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            line, cell = where(k, time_column)
            raise DataFormatError(path, line, f"{cell}: cannot parse {stamps.iloc[k]!r} as a time")
        order = parsed.to_numpy()
        if not numeric_time:
            order = order.astype("datetime64[ns]").astype(np.int64)
        steps = np.diff(order)
        if (steps <= 0).any():
            k = int(np.flatnonzero(steps <= 0)[0]) + 1
            line, cell = where(k, time_column)
            what = "repeats" if steps[k - 1] == 0 else "goes back in"
            raise DataFormatError(path, line, f"{cell}: time {what} time ({stamps.iloc[k]!r})")
        if numeric_time:
            out.index = pd.Index(stamps.to_numpy(), name=time_column)
        else:
            out.index = pd.DatetimeIndex(parsed, name=time_column)
    else:
        out = out.reset_index(drop=True)

    filled: Counter = Counter()
    missing = out.isna()
    if missing.to_numpy().any():
        if fill is None:
            rows, cols = np.nonzero(missing.to_numpy())
            line, cell = where(int(rows[0]), out.columns[cols[0]])
            raise DataFormatError(
                path,
                line,
                f"{cell}: missing value (NaN); {int(missing.to_numpy().sum())} in all. Choose "
                f"fill= one of {list(FILL_POLICIES)}",
            )
        counts = missing.sum()
        if fill == "drop":
            rows = missing.any(axis=1)
            skipped["row with a missing value"] += int(rows.sum())
            out = out.loc[~rows.to_numpy()]
        else:
            if fill == "ffill":
                out = out.ffill().bfill()
            elif fill == "interpolate":
                dated = isinstance(out.index, pd.DatetimeIndex)
                method = "time" if dated else ("index" if time_column is not None else "linear")
                out = out.interpolate(method=method, limit_direction="both")
            else:
                out = out.fillna(0.0)
            filled.update({c: int(n) for c, n in counts.items() if n})
        if len(out) == 0 or out.isna().to_numpy().any():
            raise DataFormatError(path, None, f"fill={fill!r} left no complete values")
    time = out.index if time_column is not None else None
    return SeriesFrame(out, time, list(target_names), cov_names, str(path), filled, skipped)
