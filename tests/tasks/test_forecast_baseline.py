"""``model.baseline: auto`` is chosen on the validation windows: of ``none``, ``naive`` and
``snaive`` the forecast that scores best there, said in one log line and recorded
(``baseline_chosen``, ``baseline_val`` and ``metrics.json``). It picked the seasonal-naive
correction on an hourly series where seasonal naive was far worse than naive. Each test makes
its own series."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from deeprnn.tasks import Forecast, ForecastData
from deeprnn.tasks.forecast import resolve_baseline
from deeprnn.training import fit, run_config_from_dict


def write(path, values: np.ndarray):
    times = pd.date_range("2021-01-01", periods=len(values), freq="h")
    pd.DataFrame({"time": times, "value": values}).to_csv(path, index=False)
    return path


def random_walk(n: int = 600, seed: int = 0) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(size=n))


def seasonal(n: int = 600, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    return 10 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(seed).normal(0, 0.3, n)


def data_config(path, **over) -> dict:
    base = {"source": "csv", "path": str(path), "targets": ["value"], "time_column": "time",
            "input_window": 48, "horizon": 6}  # fmt: skip
    return {**base, **over}


def prepared(path, **over) -> ForecastData:
    cfg = run_config_from_dict({"task": "forecast", "data": data_config(path, **over)}).data
    return ForecastData(cfg, batch_size=32, seed=0).prepare()


def chosen(dm: ForecastData, **model) -> str:
    return Forecast(model or None, artifacts=dm.artifacts).baseline


def test_a_random_walk_with_a_spurious_season_gets_naive(tmp_path):
    dm = prepared(write(tmp_path / "rw.csv", random_walk()))  # hourly: season 24 declared
    scores = dm.artifacts["baseline_val"]
    assert dm.artifacts["seasonality"] == 24
    assert scores["snaive"] > 3 * scores["naive"]  # the series: snaive far worse
    assert chosen(dm) == "naive"
    assert resolve_baseline(run_config_from_dict({"task": "forecast"}).model, 24, 48) == "snaive"


def test_a_strongly_seasonal_series_gets_snaive(tmp_path):
    dm = prepared(write(tmp_path / "s.csv", seasonal()))
    scores = dm.artifacts["baseline_val"]
    assert scores["snaive"] < scores["naive"] and chosen(dm) == "snaive"
    assert chosen(dm, revin=False) == "snaive"
    season_1 = prepared(write(tmp_path / "s1.csv", random_walk()), seasonality=1)
    assert "snaive" not in season_1.artifacts["baseline_val"]
    assert chosen(season_1) == "naive"  # no season: naive is still a candidate (was none)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["walk", "seasonal", "noise", "walk+season"])
def test_the_choice_is_never_worse_than_naive_or_snaive_on_validation(tmp_path, kind, seed):
    rng = np.random.default_rng(seed)
    values = {
        "walk": random_walk(seed=seed),
        "seasonal": seasonal(seed=seed),
        "noise": rng.normal(size=600),
        "walk+season": random_walk(seed=seed) + seasonal(seed=seed) * rng.uniform(0, 1),
    }[kind]
    dm = prepared(write(tmp_path / "v.csv", values))
    scores = dm.artifacts["baseline_val"]
    best = min(scores["naive"], scores["snaive"])
    for model, none in (({}, "mean"), ({"revin": False}, "zero")):
        pick = chosen(dm, **model)
        assert {"none": scores[none], "naive": scores["naive"], "snaive": scores["snaive"]}[
            pick
        ] <= best


def test_the_choice_is_logged_recorded_and_kept(tmp_path, caplog):
    run = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"),
           "data": data_config(write(tmp_path / "rw.csv", random_walk(300))),
           "model": {"rnn": {"hidden_size": 4, "num_layers": 1}},
           "trainer": {"max_epochs": 1, "progress_bar": False, "tensorboard": False,
                       "num_threads": 1}}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="deeprnn.tasks.forecast"):
        result = fit(run_config_from_dict(run))
    lines = [r.getMessage() for r in caplog.records if "model.baseline auto" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("model.baseline auto: naive, the best on the ")
    assert "train + 55 validation windows (rolling origin" in lines[0]  # 300 steps: few windows
    assert "none " in lines[0] and "naive " in lines[0] and "snaive (m=24) " in lines[0]
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["baseline_chosen"] == "naive"
    assert set(metrics["baseline_val_mse_scaled"]) == {"mean", "naive", "snaive", "zero"}
    assert metrics["baseline_chosen_on"].endswith("(rolling origin: the validation windows "
                                                  "alone are fewer than 100)")  # fmt: skip
    assert set(metrics["baseline_selection_mse_scaled"]) == {"mean", "naive", "snaive", "zero"}
    from deeprnn.export import load_exported
    from deeprnn.tasks import load_checkpoint

    for saved in (load_exported(result.export_dir), load_checkpoint(result.best_checkpoint)):
        assert saved.artifacts["baseline_chosen"] == "naive" and saved.baseline == "naive"
    art = {**result.model.artifacts, "baseline_chosen": "seasonal"}
    with pytest.raises(ValueError, match=r"artifacts\['baseline_chosen'\] must be one of"):
        Forecast(result.model.config, artifacts=art)


def test_few_validation_windows_choose_on_the_train_windows_too(tmp_path, caplog):
    """A short series (a dozen validation windows): ``auto`` chooses on every train and
    validation window (each baseline forecast from its window's own past), recorded beside the
    validation-only scores; with 100 or more validation windows on those alone."""
    from deeprnn.tasks.forecast.baselines import POOL_BELOW, selection_scores

    short = prepared(write(tmp_path / "short.csv", seasonal(160)), val_fraction=0.15)
    art = short.artifacts
    n_train, n_val = len(short.splits["train"]), len(short.splits["val"])
    assert n_val < POOL_BELOW and art["baseline_windows"] == {"train": n_train, "val": n_val}
    train, val = art["baseline_train"], art["baseline_val"]
    pooled = selection_scores(art)
    for name in ("mean", "naive", "snaive"):  # each split weighted by its windows
        expected = (n_train * train[name] + n_val * val[name]) / (n_train + n_val)
        assert pooled[name] == pytest.approx(expected)
    score = {"none": pooled["mean"], "naive": pooled["naive"], "snaive": pooled["snaive"]}
    with caplog.at_level(logging.WARNING, logger="deeprnn.tasks.forecast"):
        model = Forecast(None, artifacts=short.artifacts)
        model.bind_data(short)  # one target: auto chooses once the data is bound
        assert model.baseline == min(score, key=score.get)
    line = next(r.getMessage() for r in caplog.records if "model.baseline auto" in r.getMessage())
    assert f"the best on the {n_train} train + {n_val} validation windows" in line
    long = prepared(write(tmp_path / "long.csv", seasonal(1200)))
    assert len(long.splits["val"]) >= POOL_BELOW
    assert "baseline_train" not in long.artifacts
    assert selection_scores(long.artifacts) == long.artifacts["baseline_val"]
