"""How the forecast task cuts one series into train / val / test: split boundaries by row
counts, dates or fractions (``data.split``), a row range (``data.rows``), and the window starts
of each split — the input window of the first val / test sample may reach back into the previous
split, as the Informer / Autoformer / DLinear data loaders do (``data.reach_back``)."""

from __future__ import annotations

import datetime
from typing import Any

SPLIT_NAMES = ("train", "val", "test")


def iso_date(v):
    """A date or datetime as ISO text (YAML reads ``2017-07-01`` as a date); others as they are."""
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    return v.isoformat() if isinstance(v, datetime.date) else v


def stamp_text(v) -> str:
    """A time stamp as a person reads it: ``2024-01-02 00:00:00``, not numpy's
    ``2024-01-02T00:00:00.000000000``.

    >>> import numpy as np
    >>> stamp_text(np.datetime64("2024-01-02T00:00:00.000000000"))
    '2024-01-02 00:00:00'
    """
    import pandas as pd

    try:
        t = pd.Timestamp(v)
    except (TypeError, ValueError):
        return str(v)
    return t.isoformat(sep=" ") if t.nanosecond == 0 else str(t)


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
    n: int,
    cfg: Any,
    times=None,
    sid: str = "0",  # cfg: a ForecastDataConfig
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


def window_rows(n: int, bounds: tuple[int, int, int], w: int, h: int, cfg) -> dict:
    """:func:`window_starts` as arrays: ``{split: starts (int64)}``, the same windows in the same
    order, without a Python object per window."""
    import numpy as np

    b1, b2, b3 = bounds
    start = np.arange(0, max(0, n - w - h + 1), cfg.stride, dtype=np.int64)
    t0, t1 = start + w, start + w + h  # the forecast covers [t0, t1)
    train = t1 <= b1
    val = ~train & (b1 <= t0) & (t1 <= b2) & (cfg.reach_back | (start >= b1))
    test = ~train & ~val & (b2 <= t0) & (t1 <= b3) & (cfg.reach_back | (start >= b2))
    return {"train": start[train], "val": start[val], "test": start[test]}


def row_sources(where: str, cfg: Any, bounds: dict, times: dict) -> dict:
    """Where each split's forecasts lie: its rows (and times) in every series (``bounds``:
    series -> the split boundaries of :func:`split_bounds`)."""
    if cfg.rows is not None:
        where += f" (data.rows {cfg.rows})"
    if cfg.dates is not None:
        where += f" (data.dates {cfg.dates})"
    out = {}
    for i, split in enumerate(("train", "val", "test")):
        spans = {sid: ((0, *b)[i], b[i]) for sid, b in bounds.items()}
        if len(spans) == 1:
            ((sid, (lo, hi)),) = spans.items()
            stamps = times.get(sid)
            when = (
                f" ({stamp_text(stamps[lo])} to {stamp_text(stamps[hi - 1])})"
                if stamps is not None and hi > lo
                else ""
            )
            out[split] = f"{where}: windows forecasting rows [{lo}, {hi}){when}"
        elif len(set(spans.values())) == 1:
            lo, hi = next(iter(spans.values()))
            out[split] = (
                f"{where}: windows forecasting rows [{lo}, {hi}) of each of its {len(spans)} series"
            )
        else:
            shown = ", ".join(f"{sid} [{lo}, {hi})" for sid, (lo, hi) in list(spans.items())[:3])
            more = " ..." if len(spans) > 3 else ""
            out[split] = (
                f"{where}: windows forecasting the {split} rows of each of its {len(spans)} series "
                f"({shown}{more})"
            )
    return out
