"""Which table columns a forecast model reads and what its features are, from its artifacts.

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

import numpy as np

from deeprnn.data import series_io as sio


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
