"""The forecaster's classical baselines (AutoETS / AutoARIMA refitted per window) and the
guarantee of ``model.baseline: auto``: after training the model is never worse on validation
than the best of none / naive / seasonal naive. Each test writes its own monthly series."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.tasks import Forecast, ForecastData
from deeprnn.tasks.baselines import compute
from deeprnn.tasks.forecast.baselines import guard, histories, validation_scores
from deeprnn.tasks.forecast.data import ForecastDataConfig
from deeprnn.tasks.forecast.model import ForecastConfig


def seasonal_csv(path, n: int = 120, noise: float = 0.5, seed: int = 0):
    t = np.arange(n)
    values = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    values = values + np.random.default_rng(seed).normal(0, noise, n)
    months = pd.date_range("2000-01-01", periods=n, freq="MS")
    pd.DataFrame({"month": months, "value": values}).to_csv(path, index=False)
    return values


def monthly(tmp_path, n: int = 108, **over) -> tuple[ForecastData, np.ndarray]:
    values = seasonal_csv(tmp_path / "s.csv", n)
    cfg = dict(source="csv", path=str(tmp_path / "s.csv"), targets=["value"],
               time_column="month", input_window=24, horizon=6, seasonality=12,
               val_fraction=0.1, test_fraction=0.1)  # fmt: skip
    cfg.update(over)
    return ForecastData(ForecastDataConfig(**cfg), batch_size=8).prepare(), values


def test_histories_are_each_window_s_whole_past(tmp_path):
    dm, values = monthly(tmp_path)
    scaled = dm.scaler.transform(values[:, None].astype(np.float32), 1)[:, 0]
    for (_sid, start), past in zip(dm.window_starts["test"], histories(dm, "test")):
        assert len(past) == start + 24  # from the first row to the forecast origin
        np.testing.assert_allclose(past, scaled[: start + 24], rtol=1e-6)


def test_ets_and_arima_beat_naive_on_a_clean_seasonal_series(tmp_path):
    pytest.importorskip("statsforecast")
    dm, _ = monthly(tmp_path)
    out = compute("forecast", dm, True)
    naive = validation_scores(dm.splits["test"], 24, 1, 12)
    for name in ("ets", "arima"):
        assert out[f"test_{name}_mse_scaled"] < 0.5 * naive["naive"], name
        assert out[f"test_{name}_mse_scaled"] < naive["snaive"], name  # the trend too
        # the same forecasts on the original scale: the standard scaler's variance apart
        ratio = out[f"test_{name}_mse"] / out[f"test_{name}_mse_scaled"]
        assert ratio == pytest.approx(dm.scaler.state_dict()["scale"][0] ** 2, rel=1e-3)
    assert {"val_ets_mase", "val_arima_mae", "test_arima_rmse"} <= set(out)


def test_the_cap_and_the_key(tmp_path, caplog, monkeypatch):
    import deeprnn.tasks.forecast.baselines as fb

    dm, _ = monthly(tmp_path)
    monkeypatch.setattr(fb, "CLASSICAL_MAX_FITS", 3)
    with caplog.at_level(logging.WARNING, logger="deeprnn.baselines"):
        assert compute("forecast", dm, True) == {}
    said = [r.getMessage() for r in caplog.records]
    assert any("baseline ets skipped" in m and "cap 3" in m for m in said)
    assert compute("forecast", dm, False) == {}
    pytest.importorskip("statsforecast")
    named = compute("forecast", dm, ["ets"])  # named: the cap is lifted
    assert "test_ets_mse" in named and not any("arima" in k for k in named)


def test_a_missing_statsforecast_is_one_line(tmp_path, caplog, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "statsforecast", None)
    dm, _ = monthly(tmp_path)
    with caplog.at_level(logging.WARNING, logger="deeprnn.baselines"):
        assert compute("forecast", dm, True) == {}
    lines = [r.getMessage() for r in caplog.records if "deeprnn[baselines]" in r.getMessage()]
    assert len(lines) == 2  # ets and arima, one line each


def _val_mse(model, dm) -> float:
    total = count = 0.0
    with torch.no_grad():
        for x, y in dm.val_dataloader():
            history, future = model._split(x)
            total += float(((model(history, future) - y) ** 2).sum())
            count += y.numel()
    return total / count


@pytest.mark.parametrize("revin", [None, False])
def test_auto_is_never_worse_than_naive_or_seasonal_naive_on_validation(tmp_path, revin):
    dm, _ = monthly(tmp_path)
    model = Forecast(ForecastConfig(revin=revin), dict(dm.artifacts)).eval()
    with torch.no_grad():  # a network far off: its correction only hurts
        for p in model.head.parameters():
            p.add_(torch.randn_like(p) * 5)
    scores = dm.artifacts["baseline_val"]
    assert _val_mse(model, dm) > min(scores["naive"], scores["snaive"])
    line = guard(model, dm)
    assert line is not None and "forecasts" in line and model.artifacts["baseline_only"]
    assert "\n" not in line and "model.baseline" in line
    best = min(scores["naive"], scores["snaive"])
    assert _val_mse(model, dm) <= best * (1 + 1e-5)
    # the flag travels with the artifacts: a model rebuilt from them forecasts the same
    again = Forecast(ForecastConfig(revin=revin), dict(model.artifacts)).eval()
    x, _ = next(iter(dm.val_dataloader()))
    torch.testing.assert_close(again(*again._split(x)), model(*model._split(x)))


def test_a_network_better_than_the_baseline_is_kept(tmp_path):
    dm, _ = monthly(tmp_path)
    art = dict(dm.artifacts)
    art["baseline_val"] = {k: 1e9 for k in art["baseline_val"]}  # any network beats these
    model = Forecast(ForecastConfig(), art).eval()
    assert guard(model, dm) is None and "baseline_only" not in model.artifacts
    assert guard(Forecast(ForecastConfig(baseline="snaive"), dict(dm.artifacts)), dm) is None
