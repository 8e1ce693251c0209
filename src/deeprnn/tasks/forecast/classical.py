"""Classical forecasts a direct forecaster can correct: ``model.baseline`` ``ets``, ``arima`` and
``ets_arima`` (their mean, the simplest forecast combination), and what ``auto`` adds to its
candidates when they are cheap.

Each window's forecast is statsforecast's AutoETS / AutoARIMA (season ``data.seasonality``)
refitted on that window's whole past: its series from the first row to the window's forecast
origin (the end of its input window), on the original scale, never a value after the origin.
The training windows get theirs too (each from its own past, so every one is an out-of-sample
forecast), and the network learns to correct them. A window's forecast travels beside it: the
split's :class:`~deeprnn.tasks.forecast.windows.Windows` yields ``(x, y, base)`` once
:func:`attach` has set ``base``, and a model that corrects a classical forecast refuses a batch
without it (it never reads the true future in its place); the model binds its data module
(:meth:`~deeprnn.tasks.forecast.model.Forecast.bind_data`) before training or scoring.

``auto`` considers them (:func:`unavailable` says why not, in the run log) for a point
forecaster in direct mode with one target, at most :data:`MAX_WINDOWS` windows in all splits
and :data:`MAX_HISTORY` steps of history (the fits then take seconds to a few minutes), with
statsforecast installed (``pip install 'deeprnn[baselines]'``); else it chooses among the cheap
candidates as before and the log line says so.

Shape symbols: N windows, H horizon steps.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import torch

log = logging.getLogger("deeprnn.tasks.forecast")

NAMES = ("ets", "arima", "ets_arima")
#: ``auto`` fits the classical forecasts only when the windows of all splits are at most this many
#: (the environment variable ``DEEPRNN_CLASSICAL_MAX_WINDOWS`` overrides it: 0 never fits them)
MAX_WINDOWS = 200
#: ... and no window's history is longer than this (AutoARIMA's cost grows with it)
MAX_HISTORY = 600
_MODELS = {"ets": "AutoETS", "arima": "AutoARIMA"}


def eligible(cfg, artifacts: dict) -> bool:
    """Whether ``cfg`` (a ForecastConfig) may correct a classical forecast: direct mode, a point
    forecast, one target."""
    return cfg.mode == "direct" and cfg.likelihood == "none" and len(artifacts["targets"]) == 1


def histories(dm, split: str) -> list[np.ndarray] | None:
    """Each window of ``split``'s past: the scaled target (float64) of its series from the
    series' first row to the window's forecast origin; ``None`` for data without series
    positions (``source: sines``: a window is a whole series)."""
    windows = dm.splits.get(split)
    starts = getattr(dm, "window_starts", None)
    if windows is None or not starts or split not in starts:
        return None
    panel, w = windows.panel, windows.w
    out = []
    for row, series in zip(windows.rows.tolist(), windows.series.tolist()):
        first = int(panel.offsets[series])
        out.append(panel.values[first : row + w, 0].astype(np.float64))
    return out


def unavailable(dm) -> str | None:
    """Why ``auto`` cannot add the classical candidates for ``dm``, or ``None`` when it can."""
    if len(dm.artifacts["targets"]) != 1:
        return f"univariate series only, and the data has {len(dm.artifacts['targets'])} targets"
    if histories(dm, "train") is None:
        return "the data has no series history before its windows (data.source sines)"
    n = sum(len(dm.splits.get(s) or []) for s in ("train", "val", "test"))
    cap = int(os.environ.get("DEEPRNN_CLASSICAL_MAX_WINDOWS", MAX_WINDOWS))
    if n > cap:
        return f"{n} windows to refit on (cap {cap}); set model.baseline to use one"
    longest = max((len(h) for s in ("val", "test") for h in histories(dm, s) or []), default=0)
    if longest > MAX_HISTORY:
        return f"histories up to {longest} steps (cap {MAX_HISTORY}); set model.baseline"
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return "statsforecast is not installed (pip install 'deeprnn[baselines]')"
    return None


def fit_forecast(past: np.ndarray, scaler, h: int, m: int) -> dict[str, np.ndarray]:
    """``{ets, arima, ets_arima}``: (h,) scaled forecasts of the scaled target ``past`` (T,),
    each model fitted on ``past`` alone, on the original scale."""
    from deeprnn._validation import require

    models = require("statsforecast.models", "model.baseline ets / arima")
    original = scaler.inverse(torch.from_numpy(past)[:, None], 1)[:, 0].numpy()
    out = {}
    for name, cls in _MODELS.items():
        f = getattr(models, cls)(season_length=m).forecast(y=original, h=h)["mean"]
        f = torch.as_tensor(np.asarray(f, dtype=np.float64))[:, None]
        out[name] = scaler.transform(f, 1)[:, 0].numpy()
    out["ets_arima"] = (out["ets"] + out["arima"]) / 2
    return out


def window_forecasts(dm) -> dict[str, dict[str, np.ndarray]]:
    """``{split: {name: (N, H) scaled}}`` for every split's windows, each fitted on the window's
    own past (:func:`histories`); computed once per data module (``dm.classical_forecasts``)."""
    cached = getattr(dm, "classical_forecasts", None)
    if cached is not None:
        return cached
    art = dm.artifacts
    h, m = int(art["horizon"]), int(art.get("seasonality", 1))
    start, fits = time.perf_counter(), 0
    out: dict[str, dict[str, np.ndarray]] = {}
    for split in ("train", "val", "test"):
        past = histories(dm, split) or []
        rows = [fit_forecast(p, dm.scaler, h, m) for p in past]
        fits += len(rows)
        out[split] = {
            n: np.stack([r[n] for r in rows]) if rows else np.zeros((0, h)) for n in NAMES
        }
    log.warning(
        "model.baseline: AutoETS and AutoARIMA (season %d) refitted on each of %d windows' past "
        "(its series up to the forecast origin) in %.1f s",
        m,
        fits,
        time.perf_counter() - start,
    )
    dm.classical_forecasts = out
    return out


def split_scores(dm, split: str) -> dict[str, float]:
    """The scaled MSE of each classical forecast on the windows of ``split`` (observed steps)."""
    forecasts = window_forecasts(dm)[split]
    windows = dm.splits[split]
    _, y = windows.targets(np.arange(len(windows)))  # (N, H, K) with NaN at masked gaps
    y = y[..., 0].double().numpy()
    observed = np.isfinite(y)
    return {
        n: float(np.where(observed, (f - np.nan_to_num(y)) ** 2, 0).sum() / max(observed.sum(), 1))
        for n, f in forecasts.items()
    }


def attach(dm, name: str) -> None:
    """Every split's windows yield ``(x, y, base (H, 1))``: the classical forecast ``name``."""
    forecasts = window_forecasts(dm)
    for split, windows in dm.splits.items():
        if windows is not None and split in forecasts:
            windows.base = forecasts[split][name][:, :, None].astype(np.float32)


def predict_bases(model, records: list) -> dict[str, torch.Tensor]:
    """Predict time: ``{series id: (H, 1) scaled}``, the classical forecast ``model.baseline``
    of each series in the CSV rows ``records`` (grouped by the series column), fitted on its
    whole history (the rows up to its last target value; a gap there is an error naming the
    series), as the windows' forecasts were fitted at training time."""
    import pandas as pd

    art = model.artifacts
    target, column = art["targets"][0], art.get("series_column")
    frame = pd.DataFrame([{"s": str(r.get(column)) if column else "0", "y": r.get(target)}
                          for r in records])  # fmt: skip
    frame["y"] = pd.to_numeric(frame["y"].replace("", None), errors="coerce")
    h, m = int(art["horizon"]), int(art.get("seasonality", 1))
    out = {}
    for sid, g in frame.groupby("s", sort=False):
        y = g["y"].to_numpy(np.float64)
        known = np.flatnonzero(np.isfinite(y))
        y = y[: known[-1] + 1] if len(known) else y[:0]
        if not len(y) or not np.isfinite(y).all():
            raise ValueError(
                f"series {sid}: model.baseline={model.baseline!r} refits on the whole history, "
                f"which needs a {target} value on every row up to the last one "
                f"({int((~np.isfinite(y)).sum())} missing)"
            )
        scaled = model.scaler.transform(torch.from_numpy(y)[:, None], 1)[:, 0].double().numpy()
        out[str(sid)] = torch.from_numpy(fit_forecast(scaled, model.scaler, h, m)[model.baseline])
    return {sid: f.float()[:, None] for sid, f in out.items()}
