"""Covariates over the forecast horizon: known ones (``data.known_covariates``, calendar
features, static covariates) are read by every decoder, past-only ones never leak their future
values; static covariates are checked to be constant per series and repeated at predict time.
Each test writes its own small CSV."""

from __future__ import annotations

import math
import random

import pytest
import torch

from deeprnn.tasks import Forecast, ForecastData
from deeprnn.training import fit, run_config_from_dict

QUIET = {"progress_bar": False, "tensorboard": False, "num_threads": 1}


def write_promo(path, n: int = 400, seed: int = 0):
    """sales = 10 + sin(t / 3) + 3 promo + noise, with a random promotion flag (known ahead)
    and a random past-only covariate (temperature)."""
    rng = random.Random(seed)
    lines = ["t,sales,promo,temp"]
    for t in range(n):
        promo = int(rng.random() < 0.3)
        sales = 10 + math.sin(t / 3) + 3 * promo + rng.gauss(0, 0.1)
        lines.append(f"{t},{sales:.4f},{promo},{rng.gauss(0, 1):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def promo_data(path, **cfg) -> ForecastData:
    base = {"source": "csv", "path": str(path), "targets": ["sales"],
            "covariates": ["promo", "temp"], "known_covariates": ["promo"],
            "input_window": 12, "horizon": 4}  # fmt: skip
    base.update(cfg)
    config = run_config_from_dict({"task": "forecast", "data": base}).data
    return ForecastData(config, batch_size=16, seed=0).prepare()


def test_known_covariates_are_features_read_over_the_horizon(tmp_path):
    dm = promo_data(write_promo(tmp_path / "s.csv"))
    assert dm.artifacts["covariates"] == ["promo", "temp"]
    assert dm.artifacts["known_covariates"] == ["promo"]
    assert Forecast(artifacts=dm.artifacts).known == [0]
    legacy = {k: v for k, v in dm.artifacts.items() if k != "known_covariates"}
    model = Forecast(artifacts=legacy)  # saved before the key: no future covariates read
    assert model.known == [] and model.local_head is None


@pytest.mark.parametrize(
    "model_cfg",
    [
        {},
        {"channel_independent": True},
        {"mode": "autoregressive", "revin": False},
        {"encoder": "segment", "segment_length": 4, "rnn": {"cell": "gru", "num_layers": 1}},
        {"likelihood": "gaussian"},
    ],
    ids=["direct", "channel_independent", "autoregressive", "segment", "gaussian"],
)
def test_only_known_covariates_future_values_change_the_forecast(tmp_path, model_cfg):
    dm = promo_data(write_promo(tmp_path / "s.csv"))
    cfg = run_config_from_dict({"task": "forecast", "model": model_cfg}).model
    torch.manual_seed(0)
    model = Forecast(cfg, artifacts=dm.artifacts).eval()
    x = torch.stack([x for x, _ in dm.splits["val"][:5]])
    history, future = model._split(x)
    with torch.no_grad():
        base = model(history, future)
        past_only = future.clone()
        past_only[..., 1] += 5.0  # temp: its future is not known when forecasting
        known = future.clone()
        known[..., 0] = 1.0 - known[..., 0]  # promo flipped
        assert torch.equal(model(history, past_only), base)
        assert not torch.allclose(model(history, known), base)
    with pytest.raises(ValueError, match="pass future_covariates"):
        model._direct(history) if model_cfg.get("mode") != "autoregressive" else model._future(
            None, 5, "cpu"
        )


def test_a_known_promotion_is_learned(tmp_path):
    """The promotion adds 3 to the sales: read over the horizon, the forecast error falls far
    below what a model without it can reach (the promotion's variance, 3^2 * 0.21 ~ 1.9 on the
    original scale)."""
    path = write_promo(tmp_path / "s.csv")
    results = {}
    for name, known in (("known", ["promo"]), ("past_only", [])):
        cfg = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / name), "export": False,
               "data": {"source": "csv", "path": str(path), "targets": ["sales"],
                        "covariates": ["promo", "temp"], "known_covariates": known,
                        "input_window": 12, "horizon": 4},
               "model": {"rnn": {"hidden_size": 16, "num_layers": 1}},
               "optim": {"lr": 0.01},
               "trainer": {**QUIET, "max_epochs": 15, "batch_size": 32}}  # fmt: skip
        results[name] = fit(run_config_from_dict(cfg)).metrics["test_mse"]
    assert results["known"] < 0.4 * results["past_only"], results
    assert results["past_only"] > 1.0


# -- static covariates ---------------------------------------------------------------------------
def write_stores(path, rows_per_store: int = 60, change_at: int | None = None):
    lines = ["store,size,kind,t,sales"]
    for s, (size, kind) in enumerate([(100, "mall"), (40, "street"), (70, "mall")]):
        for t in range(rows_per_store):
            sz = size + 1 if change_at is not None and s == 1 and t == change_at else size
            lines.append(f"s{s},{sz},{kind},{t},{size / 10 + math.sin(t / 4):.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def store_data(path, **cfg) -> ForecastData:
    base = {"source": "csv", "path": str(path), "targets": ["sales"], "series_column": "store",
            "static_covariates": ["size", "kind"], "input_window": 8, "horizon": 2}  # fmt: skip
    base.update(cfg)
    config = run_config_from_dict({"task": "forecast", "data": base}).data
    return ForecastData(config, batch_size=16, seed=0).prepare()


def test_static_covariates_are_constant_features_per_series(tmp_path):
    dm = store_data(write_stores(tmp_path / "s.csv"))
    art = dm.artifacts
    assert art["covariates"] == ["size", "kind=mall", "kind=street"]
    assert art["static_covariates"] == ["size", "kind"] and art["categorical"] == ["kind"]
    assert Forecast(artifacts=art).known == [0, 1, 2]
    for x, _ in dm.splits["train"][:20]:
        assert torch.equal(x[:, 1:], x[:1, 1:].expand_as(x[:, 1:]))  # constant over time


def test_a_varying_static_covariate_names_the_series_column_and_line(tmp_path):
    path = write_stores(tmp_path / "s.csv", change_at=5)
    with pytest.raises(ValueError) as e:
        store_data(path)
    msg = str(e.value)
    assert "data.static_covariates column 'size' must be constant within a series" in msg
    assert "series s1 has 40 at line 62 and 41 at line 67" in msg and "\n" not in msg


def test_static_and_covariate_lists_must_not_overlap(tmp_path):
    with pytest.raises(ValueError, match=r"static_covariates: \['size'\] are also targets"):
        store_data(write_stores(tmp_path / "s.csv"), covariates=["size"])
    with pytest.raises(ValueError, match=r"known_covariates: \['promo'\] are not in"):
        promo_data(write_promo(tmp_path / "p.csv"), covariates=["temp"])


def test_predict_repeats_static_covariates_and_needs_known_future_rows(tmp_path):
    dm = store_data(write_stores(tmp_path / "s.csv"))
    model = Forecast(artifacts=dm.artifacts).eval()
    history = [{"store": "s1", "size": "40", "kind": "street", "sales": str(4 + i / 10)}
               for i in range(8)]  # fmt: skip
    out = model.predict_raw(history)  # no future rows: static values repeat
    assert [r["step"] for r in out] == [1, 2] and all(math.isfinite(r["sales"]) for r in out)

    pm = promo_data(write_promo(tmp_path / "p.csv"))
    promo_model = Forecast(artifacts=pm.artifacts).eval()
    rows = [{"sales": "10", "promo": "0", "temp": "0.1"} for _ in range(12)]
    with pytest.raises(ValueError, match=r"known_covariates \['promo'\]: give the 4 rows after"):
        promo_model.predict_raw(rows)
    future = [{"promo": "1", "temp": ""} for _ in range(4)]  # temp is past-only: may be empty
    out = promo_model.predict_raw(rows + future)
    assert len(out) == 4


# -- the season length from the frequency --------------------------------------------------------
def test_seasonality_defaults_to_the_frequencys_season(tmp_path, caplog):
    from deeprnn.data.seasonality import season_length

    assert [season_length(f) for f in ("h", "MS", "QS-OCT", "15min", "D", "W-SUN", "B")] == [
        24, 12, 4, 96, 1, 1, 5,
    ]  # fmt: skip
    assert season_length(None) == season_length("no such freq") == season_length("7h") == 1
    lines = ["time,y"] + [f"2020-01-01 {h:02d}:00,{h}" for h in range(24)]
    lines += [f"2020-01-{d:02d} {h:02d}:00,{h}" for d in range(2, 6) for h in range(24)]
    path = tmp_path / "hourly.csv"
    path.write_text("\n".join(lines) + "\n")
    base = {"source": "csv", "path": str(path), "targets": ["y"], "time_column": "time",
            "input_window": 24, "horizon": 2}  # fmt: skip
    with caplog.at_level("WARNING", logger="deeprnn.tasks.forecast"):
        dm = ForecastData(run_config_from_dict({"task": "forecast", "data": base}).data).prepare()
    assert dm.artifacts["seasonality"] == 24 and "data.seasonality: 24" in caplog.text
    given = run_config_from_dict({"task": "forecast", "data": {**base, "seasonality": 6}}).data
    assert ForecastData(given).prepare().artifacts["seasonality"] == 6
    untimed = {k: v for k, v in base.items() if k != "time_column"}
    plain = run_config_from_dict({"task": "forecast", "data": untimed}).data
    assert ForecastData(plain).prepare().artifacts["seasonality"] == 1
