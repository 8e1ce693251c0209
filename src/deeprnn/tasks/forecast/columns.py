"""Columns and covariates: which table columns a forecast model reads, how a config's table
becomes one clean frame per series, and what the features of a series are — all from the
data config and the artifacts (how each cell is read is :mod:`deeprnn.tasks.forecast.tables`).

Feature order of a window (F = K + C columns): the K targets, then the C covariate features —
each raw covariate in ``raw_covariates`` order (a numeric column as itself, a categorical one as
``col=value`` one-hots), then the calendar pairs (``hour_sin``, ``hour_cos`` ...).

*Known* covariates are those whose values over the forecast horizon are known when the forecast
is made: the calendar features (from the forecast time stamps), the static covariates (constant
per series) and the columns listed in ``data.known_covariates`` (a planned promotion, a holiday
flag, a weather forecast). The model reads the future values of those only; the others are
past-only (their future rows of a window are not used).
"""

from __future__ import annotations

import logging

import numpy as np

from deeprnn.tasks._data import require_columns
from deeprnn.tasks.forecast import tables as sio
from deeprnn.tasks.forecast.splits import row_range

log = logging.getLogger("deeprnn.tasks.forecast")


def time_columns(art: dict) -> list[str]:
    """The table columns that hold the time (one, or year / month / day ... parts)."""
    if art.get("time_column"):
        return [art["time_column"]]
    return list(art.get("time_columns") or [])


def numeric_columns(art: dict) -> list[str]:
    """Targets and the covariates that are not one-hot encoded."""
    cats = set(art.get("categorical") or art.get("categories") or ())
    raw = art.get("raw_covariates", art.get("covariates", []))
    return list(art["targets"]) + [c for c in raw if c not in cats]


def _feature_columns(art: dict) -> list[tuple[str, str | None]]:
    """(feature name, raw column or None for a calendar feature), in feature order."""
    cats = art.get("categories") or {}
    out: list[tuple[str, str | None]] = []
    for c in art.get("raw_covariates", []):
        out += [(f"{c}={v}", c) for v in cats[c]] if c in cats else [(c, c)]
    return out + [(n, None) for n in sio.time_feature_names(art.get("time_features") or [])]


def feature_names(art: dict) -> list[str]:
    """The covariate features: numeric covariates, ``col=value`` one-hots, calendar pairs."""
    return [name for name, _ in _feature_columns(art)]


def known_features(art: dict) -> list[int]:
    """Indices (into the C covariate features) of those known over the horizon: calendar
    features, static covariates and ``known_covariates``. Models saved before the key existed
    (no ``known_covariates`` artifact) read no future covariates in direct mode."""
    if "known_covariates" not in art:
        return []
    known = set(art["known_covariates"])
    return [i for i, (_, col) in enumerate(_feature_columns(art)) if col is None or col in known]


MASK = "mask"  # a target's gaps stay missing: inputs forward-filled, the loss and metrics skip them
OBSERVED = "__observed__"  # prefix of the columns that carry a masked target's observed flags


def masked_targets(fill, targets: list[str]) -> list[str]:
    """The targets whose gaps are masked (``fill: {target: mask}``)."""
    if isinstance(fill, dict):
        return [c for c in targets if fill.get(c) == MASK]
    return []


def input_fill(fill):
    """The fill policies for the model's inputs: a masked target is forward-filled there."""
    if isinstance(fill, dict):
        return {c: ("ffill" if p == MASK else p) for c, p in fill.items()}
    return fill


def check_static(table, columns: list[str], lines: np.ndarray, where: str, sid: str) -> None:
    """Static covariates must hold one value per series: the first row that differs is an
    error naming the series, the column, the line and both values."""
    import pandas as pd

    for c in columns:
        col = table[c]
        first = col.iloc[0]
        same = col.eq(first) | (col.isna() & bool(pd.isna(first)))
        bad = np.flatnonzero(~same.to_numpy())
        if len(bad):
            i = int(bad[0])
            raise ValueError(
                f"{where}: data.static_covariates column {c!r} must be constant within a series: "
                f"series {sid} has {_show(first)} at line {int(lines[0])} and {_show(col.iloc[i])} "
                f"at line "
                f"{int(lines[i])}; list a varying column in data.covariates instead"
            )


def _show(v) -> str:
    return format(v, "g") if isinstance(v, float) else repr(v)


def parse_times(frame, art: dict, lines: np.ndarray, where: str) -> np.ndarray:
    """datetime64 time stamps from ``time_column`` or the ``time_columns`` parts."""
    import pandas as pd

    if art.get("time_columns"):
        return sio.assemble_time(frame, art["time_columns"], lines, f"{where}: data.time_columns")
    col = art["time_column"]
    try:
        stamps = pd.to_datetime(frame[col], errors="coerce")
    except (TypeError, ValueError) as e:
        raise ValueError(f"data.time_column {col!r}: not dates ({e})") from e
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{where}: data.time_column {col!r} line {int(lines[i])}: cannot read "
            f"{frame[col].iloc[i]!r} as a time; fix the value or drop the row"
        )
    return stamps.to_numpy()


# -- a config's table -> one clean frame per series ----------------------------------------------
def read_frames(cfg, art: dict, frame=None):
    """Each series of the table of ``cfg`` (a ForecastDataConfig: its CSV, or ``frame``, the
    DataFrame a ``data.reader`` returned) as a DataFrame (numeric targets and covariates as
    float64, categorical covariates as read), gaps filled, and its time stamps when there is a
    time: ``(tables, times)``, both keyed by series id. Sets the artifacts ``categorical`` and
    ``freq`` unless given."""
    raw = list(cfg.covariates) + list(cfg.static_covariates)
    cols = list(cfg.targets) + raw
    where = f"data.path {cfg.path}"
    if cfg.source == "csv":
        if not cfg.path:
            raise ValueError("data.source='csv' needs data.path")
        frame = sio.read_table(cfg.path, "data.path", cfg.header)
        first = 2 if cfg.header else 1  # data row i is line i + first
    else:  # a reader's DataFrame: its row i is "line" i
        frame, first, where = frame.rename(columns=lambda c: str(c).strip()), 0, "data.reader"
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
    frame, lines, stamps = select_rows(frame, lines, cfg, art, where)
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
        if stamps is not None and cfg.freq is not None:  # missing stamps: rows to fill or mask
            keep = [cfg.series_column] if cfg.series_column else []
            keep += list(cfg.static_covariates)
            g, gl, added = sio.regrid(g, gl, cfg.freq, where, sid, keep)
            _check_added(g, gl, added, numeric, cfg, where, sid)
        if stamps is not None:
            freq = sio.check_times(g["__time__"].to_numpy(), gl, freq, where, sid)
        g, gl = sio.fill_gaps(g, numeric, fill, gl, where)
        if stamps is not None:
            times[sid] = g["__time__"].to_numpy()
        tables[sid] = g
    art.setdefault("freq", freq)
    if cfg.freq is not None:
        art.setdefault("regrid", True)  # predict puts a history on the grid too
    return tables, times


def _check_added(g, lines, added, numeric: list[str], cfg, where: str, sid: str) -> None:
    """The rows ``data.freq`` added to a series (its missing time stamps) must be filled or
    masked by ``data.fill`` — not dropped, which would take the series off its grid again —
    and are noted in the run log."""
    if not added.any():
        return
    fill = cfg.fill
    policies = fill if isinstance(fill, dict) else {c: fill for c in numeric if fill is not None}
    first = int(np.argmax(added))
    of = "" if sid == "0" else f" series {sid!r}:"
    what = (
        f"data.freq {cfg.freq!r}:{of} {int(added.sum())} missing time stamp(s) added "
        f"(first {g['__time__'].iloc[first]}, after line {int(lines[first])})"
    )
    unfilled = [c for c in numeric if policies.get(c) in (None, "drop")]
    if unfilled:
        raise ValueError(
            f"{where}: {what}, their values missing; set data.fill for {unfilled} (not 'drop'): "
            f"{{target: mask}} keeps a target's gaps out of the loss and metrics, ffill or "
            f"interpolate fills a covariate"
        )
    log.warning("%s; their values: %s", what, {c: policies[c] for c in numeric})


def select_rows(frame, lines: np.ndarray, cfg, art: dict, where: str):
    """``cfg.rows`` / ``cfg.dates`` applied to the whole frame: ``(frame, lines, stamps)``, the
    parsed time stamps or None."""
    import pandas as pd

    if cfg.rows is not None:
        start, stop = row_range(cfg.rows)
        if start >= len(frame):
            raise ValueError(f"data.rows {cfg.rows!r}: the file has {len(frame)} rows")
        frame, lines = frame.iloc[start:stop].reset_index(drop=True), lines[start:stop]
    if not cfg.has_time:
        return frame, lines, None
    stamps = parse_times(frame, art, lines, where)
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


# -- a series' features --------------------------------------------------------------------------
def fit_categorical(art: dict, train_parts: list) -> None:
    """The artifact ``categories`` (unless given): the categories of each categorical covariate
    in the train rows ``train_parts`` (DataFrames), each noted in the run log."""
    if "categories" in art:
        return
    import pandas as pd

    train = pd.concat(train_parts) if train_parts else None
    art["categories"] = {c: sio.fit_categories(train[c]) for c in art["categorical"]}
    for c, cats in art["categories"].items():
        shown = ", ".join(cats[:8]) + (", ..." if len(cats) > 8 else "")
        log.warning(
            "data.covariates: column %r is categorical (not numeric, or named in "
            "data.categorical): one-hot encoded into %d columns "
            "(%s), categories from the train rows; a value unseen there is all zeros",
            c,
            len(cats),
            shown,
        )


def features(art: dict, table, stamps=None) -> np.ndarray:
    """A series table -> (T, K + C) float32: targets, covariates (one-hot where categorical),
    calendar features (of the time ``stamps``)."""
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


def observed_targets(art: dict, table) -> np.ndarray | None:
    """(T, K) True where a target has a value, or None when no target is masked."""
    targets = art["targets"]
    masked = masked_targets(art.get("fill"), targets)
    if not masked:
        return None
    obs = np.ones((len(table), len(targets)), bool)
    for c in masked:
        obs[:, targets.index(c)] = table[OBSERVED + c].to_numpy(bool)
    return obs
