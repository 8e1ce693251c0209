"""Predict time for the forecast task: CSV rows of histories (and the rows after them) -> the
scaled model inputs of each series (:func:`encode_history`) -> one forecast row per (series,
step), with quantile columns for a probabilistic model (:func:`predict_rows`)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from deeprnn._validation import RecordError, check_record_fields
from deeprnn.data.timeseries import Scaler
from deeprnn.tasks.forecast import classical, tables
from deeprnn.tasks.forecast.columns import (
    features,
    input_fill,
    numeric_columns,
    parse_times,
    time_columns,
)
from deeprnn.tasks.forecast.distributions import check_levels
from deeprnn.tasks.forecast.series import series_codes


def predict_rows(model, records: list, quantiles=None, seed: int = 0) -> list[dict]:
    """:meth:`deeprnn.tasks.Forecast.predict_raw` for ``model``: the rows are checked (a
    series' first row needs every column, later rows the non-target ones), encoded per series
    and forecast over the model's horizon."""
    if quantiles is not None:
        levels = check_levels(list(quantiles), "quantiles")
        if model.config.likelihood == "none":
            raise ValueError(
                "quantiles need a probabilistic model (model.likelihood: gaussian, "
                "student_t, negative_binomial or quantile); this one has likelihood 'none'"
            )

    art = model.artifacts
    series = [art["series_column"]] if art.get("series_column") else []
    always = series + list(art.get("raw_covariates", art["covariates"])) + time_columns(art)
    columns = [*series, *art["targets"], *always[len(series) :]]
    started = set()
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise RecordError(i, f"a forecast model reads rows with columns {columns}, got {r!r}")
        sid = str(r.get(series[0])) if series else ""
        first = sid not in started
        started.add(sid)
        check_record_fields(i, r, "forecast", all_of=columns if first else always)
    out = []
    bases = {}
    if model.baseline in classical.NAMES:  # refitted on each series' whole history
        bases = classical.predict_bases(model, records)
    codes = {}
    if model.series_inputs.used:  # every series at once: one the model never saw is an error
        ids = list(dict.fromkeys(str(r.get(series[0])) if series else "0" for r in records))
        codes = dict(zip(ids, series_codes(art, ids, "--input").tolist()))
    for series_id, x, future_cov, times in encode_history(art, records):
        base = bases[series_id][None].to(model.device) if bases else None
        code = None
        if codes:
            code = torch.tensor([codes[series_id]], device=model.device)
        with torch.no_grad():
            x_, fc = x[None].to(model.device), future_cov[None].to(model.device)
            pred = model(x_, fc, base, code)[0].cpu()
            qs = None
            if quantiles is not None:
                dist = model.distribution(x_, future=fc, series=code)
                qs = dist.quantiles(levels, seed=seed)[:, 0].cpu()  # (Q, H, K)
                if dist.space == "scaled":
                    qs = model.scaler.inverse(qs, model.n_targets)
        values = model.scaler.inverse(pred, model.n_targets)
        for h in range(model.horizon):
            row = {"series": series_id, "step": h + 1}
            if times is not None:
                row["time"] = times[h]
            row.update({t: float(values[h, i]) for i, t in enumerate(art["targets"])})
            for j, level in enumerate(levels if qs is not None else ()):
                row.update({f"{t}_q{level:g}": float(qs[j, h, i])
                            for i, t in enumerate(art["targets"])})  # fmt: skip
            out.append(row)
    return out


def encode_history(
    art: dict, records: list
) -> Iterator[tuple[str, Tensor, Tensor, list[str] | None]]:
    """Raw rows (dicts) -> per series ``(id, history (W, F), future covariates (H, C),
    forecast time stamps or None)``, scaled with the artifacts ``art`` of a forecast model. A
    series' history ends at its last row with a target value; rows after it give the future
    covariates (else they count as 0; calendar features come from the forecast time stamps)."""
    import pandas as pd

    scaler = Scaler.from_state_dict(art.get("scaler"))
    targets = art["targets"]
    k, w, h = len(targets), art["input_window"], art["horizon"]
    for r in records:
        if not isinstance(r, dict):
            cols = targets + art.get("raw_covariates", art["covariates"])
            raise ValueError(f"forecast inputs are CSV rows with columns {cols}, got {r!r}")
    frame = pd.DataFrame(
        [
            {c: (None if isinstance(v, str) and not v.strip() else v) for c, v in r.items()}
            for r in records
        ]
    )
    lines = np.arange(len(frame)) + 2
    numeric = numeric_columns(art)
    for c in numeric:
        if c not in frame.columns:
            frame[c] = np.nan
        frame[c] = tables.numeric_column(frame[c], c, lines, "--input", c not in targets)
    keys = frame[art["series_column"]].astype(str) if art.get("series_column") else None
    groups = {"0": np.arange(len(frame))}
    if keys is not None:
        groups = {str(g): v for g, v in keys.groupby(keys, sort=False).indices.items()}
    series = [art["series_column"]] if art.get("series_column") else []
    dated = bool(time_columns(art)) and bool(art.get("freq"))
    for sid, index in groups.items():
        g, gl = frame.iloc[index].reset_index(drop=True), lines[index]
        known = np.flatnonzero(g[targets].notna().any(axis=1).to_numpy())
        n_hist = int(known[-1]) + 1 if len(known) else 0
        hist, fut, hl = g.iloc[:n_hist], g.iloc[n_hist : n_hist + h], gl[:n_hist]
        if dated and n_hist:
            hist = hist.assign(__time__=parse_times(hist, art, hl, "--input"))
            if art.get("regrid"):  # trained with data.freq: missing stamps are gaps to fill
                keep = list(series) + list(art.get("static_covariates") or [])
                hist, hl, _ = tables.regrid(hist, hl, art["freq"], "--input", sid, keep)
        if art.get("fill") is None:
            hist, hl = hist.iloc[-w:], hl[-w:]
        where = f"--input series {sid}"
        hist, hl = (
            tables.fill_gaps(hist, numeric, input_fill(art.get("fill")), hl, where)
            if n_hist
            else (hist, hl)
        )
        if len(hist) < w:
            raise ValueError(
                f"series {sid}: need input_window={w} rows with values, got {len(hist)}"
            )
        hist = hist.iloc[-w:]
        times = None
        if dated:
            times = tables.next_times(hist["__time__"].iloc[-1], art["freq"], h)
        fut = _future_rows(art, fut, hist, sid)
        x = np.concatenate(
            [
                features(art, hist, hist["__time__"].to_numpy() if dated else None),
                np.nan_to_num(features(art, fut, times), nan=0.0),
            ]
        )
        scaled = scaler.transform(x)
        yield sid, torch.from_numpy(scaled[:w]), torch.from_numpy(scaled[w:, k:]), times


def _future_rows(art: dict, fut, hist, sid: str):
    """The H rows after a history, reindexed to H: static covariates repeated from the
    history, known covariates required (the model reads them); past-only ones may be
    absent."""
    h = art["horizon"]
    fut = fut.reset_index(drop=True).reindex(range(h))
    static = art.get("static_covariates") or []
    for c in static:
        fut[c] = hist[c].iloc[-1]
    need = [c for c in art.get("known_covariates") or [] if c not in static]
    missing = _missing_future(fut, need)
    if missing:
        shown = ", ".join(f"{c!r} from step {step}" for c, step in missing.items())
        raise ValueError(
            f"series {sid}: the model reads the future values of data.known_covariates "
            f"{need}: give the {h} rows after the history with them (missing {shown})"
        )
    return fut


def _missing_future(fut, columns: list[str]) -> dict[str, int]:
    """Known covariates without a value in the H future rows: column -> first step (1-based)."""
    out = {}
    for c in columns:
        gaps = np.flatnonzero(fut[c].isna().to_numpy()) if c in fut else [0]
        if len(gaps):
            out[c] = int(gaps[0]) + 1
    return out
