"""``model.baseline`` ``ets`` / ``arima`` / ``ets_arima``: the network corrects a classical
forecast refitted on each window's whole past, and ``auto`` adds those candidates on validation
when the windows are few (:mod:`deeprnn.tasks.forecast.classical`); and the forecaster's
``trainer.min_steps`` default. Each test writes its own series; most replace the statsforecast
fits by a known forecast (``fake``) so they check the plumbing in seconds, one fits for real."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.tasks import Forecast, ForecastData
from deeprnn.tasks.forecast import classical
from deeprnn.training import fit, run_config_from_dict


def write(path, values: np.ndarray):
    months = pd.date_range("2000-01-01", periods=len(values), freq="MS")
    pd.DataFrame({"month": months, "value": values}).to_csv(path, index=False)
    return path


def trend_season(n: int = 96, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + 1.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, n)


def data_config(path, **over) -> dict:
    base = {"source": "csv", "path": str(path), "targets": ["value"], "time_column": "month",
            "input_window": 24, "horizon": 6, "seasonality": 12,
            "val_fraction": 0.2, "test_fraction": 0.15}  # fmt: skip
    return {**base, **over}


def run_config(tmp_path, path, model=None, **trainer) -> dict:
    return {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"),
            "data": data_config(path), "baselines": False, "export": False,
            "model": {"rnn": {"hidden_size": 4, "num_layers": 1}, **(model or {})},
            "trainer": {"max_epochs": 2, "progress_bar": False, "tensorboard": False,
                        "num_threads": 1, **trainer}}  # fmt: skip


def fake(offset: float = 0.0, seen: list | None = None):
    """A stand-in for :func:`classical.fit_forecast`: the last season repeated plus the last
    seasonal difference (exact on a linear trend + season) plus ``offset`` (scaled units);
    records each ``past`` in ``seen``."""

    def fit_forecast(past, scaler, h, m):
        if seen is not None:
            seen.append(past.copy())
        f = np.resize(past[-m:], h) + (past[-1] - past[-1 - m]) + offset
        return {"ets": f, "arima": f + 0.1, "ets_arima": f + 0.05}

    return fit_forecast


def prepared(path, **over) -> ForecastData:
    cfg = run_config_from_dict({"task": "forecast", "data": data_config(path, **over)}).data
    return ForecastData(cfg, batch_size=8, seed=0).prepare()


def test_the_classical_base_uses_nothing_after_the_window_s_origin(
    tmp_path, monkeypatch, classical_candidates
):
    values = np.arange(80, dtype=float) * 3.0 + 7.0  # the value tells the row
    dm = prepared(write(tmp_path / "rows.csv", values))
    seen: list = []
    monkeypatch.setattr(classical, "fit_forecast", fake(seen=seen))
    classical.window_forecasts(dm)
    w = dm.artifacts["input_window"]
    origins = [start + w for s in ("train", "val", "test") for _, start in dm.window_starts[s]]
    assert len(seen) == len(origins) > 0
    for past, origin in zip(seen, origins):
        rows = dm.scaler.inverse(torch.from_numpy(past)[:, None], 1)[:, 0].numpy()
        np.testing.assert_allclose(rows, values[:origin], rtol=1e-5)  # row 0 .. origin - 1


def test_auto_picks_the_classical_forecast_where_it_wins_on_validation(
    tmp_path, monkeypatch, classical_candidates, caplog
):
    pytest.importorskip("statsforecast")
    path = write(tmp_path / "trend.csv", trend_season(84))
    cfg = run_config(tmp_path, path)
    cfg["data"]["stride"] = 3  # a few windows: the real fits take seconds
    with caplog.at_level(logging.WARNING, logger="deeprnn.tasks.forecast"):
        result = fit(run_config_from_dict(cfg))
    scores = result.model.artifacts["baseline_val"]
    chosen = result.model.artifacts["baseline_chosen"]
    assert chosen in classical.NAMES  # a trend: the last season lags by 12 slopes
    assert scores[chosen] < min(scores["naive"], scores["snaive"], scores["mean"])
    assert scores[chosen] == min(scores[n] for n in ("mean", "naive", "snaive", *classical.NAMES))
    lines = [r.getMessage() for r in caplog.records if "model.baseline auto" in r.getMessage()]
    assert len(lines) == 1 and f"auto: {chosen}," in lines[0] and "arima " in lines[0]
    assert any("refitted on each of" in r.getMessage() for r in caplog.records)


def test_auto_keeps_naive_where_the_classical_forecast_loses(
    tmp_path, monkeypatch, classical_candidates
):
    walk = 50 + np.cumsum(np.random.default_rng(1).normal(size=90))
    dm = prepared(write(tmp_path / "walk.csv", walk))
    monkeypatch.setattr(classical, "fit_forecast", fake(offset=3.0))  # far off
    model = Forecast(None, artifacts=dm.artifacts)
    model.bind_data(dm)
    scores = model.artifacts["baseline_val"]
    assert set(classical.NAMES) <= set(scores)
    assert model.baseline == model.artifacts["baseline_chosen"] == "naive"
    assert scores["naive"] == min(scores[n] for n in ("mean", "naive", "snaive", *classical.NAMES))


def test_a_classical_baseline_is_never_worse_on_validation_after_training(
    tmp_path, monkeypatch, classical_candidates
):
    # a trend + season without noise: the fake classical forecast is exact, so any correction
    # the network learns makes validation worse and the guard drops it
    t = np.arange(96)
    path = write(tmp_path / "season.csv", 10 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12))
    monkeypatch.setattr(classical, "fit_forecast", fake(offset=0.0))
    result = fit(run_config_from_dict(run_config(tmp_path, path, {"baseline": "auto"})))
    model, dm = result.model, result.datamodule
    assert model.baseline == "ets" and model.baseline_only
    x, y, base = dm.collate(dm.splits["val"][:])
    with torch.no_grad():
        pred = model(*model._split(x), base)
    torch.testing.assert_close(pred, base)  # the baseline alone
    assert float(((pred - y) ** 2).mean()) <= dm.artifacts["baseline_val"]["ets"] + 1e-6


def test_a_classical_model_needs_each_window_s_forecast_and_predicts_from_the_history(
    tmp_path, monkeypatch
):
    values = trend_season(90)
    path = write(tmp_path / "p.csv", values)
    monkeypatch.setattr(classical, "fit_forecast", fake(offset=0.0))
    result = fit(run_config_from_dict(run_config(tmp_path, path, {"baseline": "arima"})))
    model = result.model.eval()
    assert model.baseline == "arima" and result.metrics["test_mse"] >= 0
    x, _ = result.datamodule.splits["val"].batch(np.arange(2))[:2]
    with pytest.raises(ValueError, match=r"model.baseline='arima' corrects each window"):
        model(*model._split(x))  # never the true future in its place
    months = pd.date_range("2000-01-01", periods=len(values), freq="MS")
    rows = [{"month": str(m.date()), "value": float(v)} for m, v in zip(months, values)]
    got = model.predict_raw(rows)
    past = model.scaler.transform(torch.from_numpy(values)[:, None], 1)[:, 0].numpy()
    base = torch.from_numpy(fake()(past, None, 6, 12)["arima"]).float()[None, :, None]
    x = model.scaler.transform(torch.from_numpy(values[-24:])[:, None], 1).float()[None]
    with torch.no_grad():
        want = model.scaler.inverse(model(x, torch.zeros(1, 6, 0), base), 1)[0, :, 0]
    np.testing.assert_allclose([r["value"] for r in got], want.numpy(), rtol=1e-4)
    from deeprnn.tasks import load_checkpoint
    from deeprnn.training.runner.run import build_datamodule, evaluate_model

    saved = load_checkpoint(result.best_checkpoint)  # reopened: its windows get theirs again
    run = run_config_from_dict(run_config(tmp_path, path, {"baseline": "arima"}))
    again = evaluate_model(saved, build_datamodule(run, saved.artifacts).prepare(), baselines=False)
    assert saved.baseline == "arima" and again["test_mse"] == pytest.approx(
        result.metrics["test_mse"]
    )


def test_without_statsforecast_auto_falls_back_to_the_cheap_candidates_and_says_so(
    tmp_path, monkeypatch, classical_candidates, caplog
):
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # import statsforecast fails
    path = write(tmp_path / "trend.csv", trend_season(80))
    with caplog.at_level(logging.WARNING, logger="deeprnn.tasks.forecast"):
        result = fit(run_config_from_dict(run_config(tmp_path, path)))
    art = result.model.artifacts
    assert art["baseline_chosen"] in ("none", "naive", "snaive")
    assert not set(classical.NAMES) & set(art["baseline_val"])
    lines = [r.getMessage() for r in caplog.records if "model.baseline auto" in r.getMessage()]
    assert len(lines) == 1
    assert "ets / arima not considered: statsforecast is not installed" in lines[0]


def test_explicit_classical_baselines_are_checked_at_the_boundary(tmp_path):
    dm = prepared(write(tmp_path / "s.csv", trend_season(80)))
    with pytest.raises(ValueError, match="likelihood 'none', got 'gaussian'"):
        run_config_from_dict(
            {"task": "forecast", "model": {"baseline": "ets", "likelihood": "gaussian"}}
        )
    art = {**dm.artifacts, "targets": ["value", "other"]}
    with pytest.raises(ValueError, match="forecasts one target series, got 2 targets"):
        Forecast({"baseline": "arima"}, artifacts=art)


def test_a_short_series_trains_by_steps(tmp_path, caplog):
    path = write(tmp_path / "short.csv", trend_season(80))
    cfg = run_config(tmp_path, path, early_stopping_patience=1)
    del cfg["trainer"]["max_epochs"]  # the default, 30 epochs of 3 steps here
    cfg["optim"] = {"lr": 1e-9}  # nothing improves: early stopping wants to stop at once
    with caplog.at_level(logging.WARNING, logger="deeprnn.training"):
        result = fit(run_config_from_dict(cfg))
    training = result.metrics["training"]
    per_epoch = training["steps_per_epoch"]
    assert training["min_steps"] == 200 and per_epoch < 16
    assert training["max_epochs"] == -(-200 // per_epoch) > 30
    assert 200 <= training["optimizer_steps"] < 200 + per_epoch  # not stopped before
    line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("trainer.min")]
    assert len(line) == 1 and "(the task's default)" in line[0] and "raised from 30" in line[0]
    cfg["trainer"]["min_steps"] = 0
    cfg["out_dir"] = str(tmp_path / "off")
    off = fit(run_config_from_dict(cfg)).metrics["training"]
    assert off["min_steps"] == 0 and off["max_epochs"] == 30
    assert off["optimizer_steps"] <= 3 * per_epoch  # stopped after the patience
    cfg["trainer"]["min_steps"] = -1
    with pytest.raises(ValueError, match=r"trainer.min_steps must be an int >= 0 or null"):
        run_config_from_dict(cfg)
    cfg["trainer"].update(min_steps=50, max_steps=20)
    with pytest.raises(
        ValueError, match=r"trainer.min_steps must be below config.trainer.max_steps"
    ):
        run_config_from_dict(cfg)
