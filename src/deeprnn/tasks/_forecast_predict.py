"""Predict time for the forecast task: CSV rows of histories (and the rows after them) -> one
forecast row per (series, step), with quantile columns for a probabilistic model."""

from __future__ import annotations

import torch

from deeprnn._validation import RecordError, check_record_fields
from deeprnn.tasks._forecast_columns import time_columns
from deeprnn.tasks._forecast_dist import check_levels
from deeprnn.tasks.forecast_data import ForecastData


def predict_rows(model, records: list, quantiles=None, seed: int = 0) -> list[dict]:
    """:meth:`deeprnn.tasks.forecast.Forecast.predict_raw` for ``model``: the rows are checked
    (a series' first row needs every column, later rows the non-target ones), encoded per series
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
    data = ForecastData(None, artifacts=model.artifacts)
    out = []
    for series_id, x, future_cov, times in data.encode_history(records):
        with torch.no_grad():
            pred = model(x[None].to(model.device), future_cov[None].to(model.device))[0].cpu()
            qs = None
            if quantiles is not None:
                dist = model.distribution(
                    x[None].to(model.device), future=future_cov[None].to(model.device)
                )
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
