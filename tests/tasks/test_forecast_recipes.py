"""Forecasting in the long-horizon benchmark setting: split boundaries (row counts, dates,
reach-back windows), RevIN, channel independence, the segment-wise RNN (SegRNN), the paper
metrics (``*_scaled``, per horizon step) and the default recipe against the naive baseline."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
import torch
from _tiny import QUIET

from deeprnn.layers import RevIN
from deeprnn.models.encoder import RNNConfig, build_rnn
from deeprnn.models.segment import SegmentRNN
from deeprnn.tasks import Forecast, ForecastData
from deeprnn.training import fit, run_config_from_dict


def write_hourly(path, rows: int = 300, seed: int = 0, trend: float = 0.01):
    """CSV date,a,b,t: two daily-seasonal series and a covariate, one row an hour."""
    rng = random.Random(seed)
    lines = ["date,a,b,t"]
    for i in range(rows):
        stamp = f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00:00"
        day = 2 * math.pi * i / 24
        a = 5 + 2 * math.sin(day) + rng.gauss(0, 0.1)
        b = -3 + math.cos(day) + trend * i + rng.gauss(0, 0.1)
        lines.append(f"{stamp},{a:.4f},{b:.4f},{math.cos(day):.4f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _data(path, **cfg) -> ForecastData:
    base = {"source": "csv", "path": str(path), "targets": ["a", "b"], "covariates": ["t"]}
    base.update(input_window=12, horizon=4, **cfg)
    config = run_config_from_dict({"task": "forecast", "data": base}).data
    return ForecastData(config, batch_size=8, seed=0).prepare()


# -- splits ----------------------------------------------------------------------------------
def test_split_by_row_counts_reaches_back_like_the_informer_loaders(tmp_path):
    path = write_hourly(tmp_path / "s.csv", rows=300)
    dm = _data(path, split={"train": 120, "val": 60, "test": 60})  # rows 240.. unused
    starts = {s: [start for _, start in v] for s, v in dm.window_starts.items()}
    w, h = 12, 4
    assert starts["train"] == list(range(0, 120 - w - h + 1))
    # the first val input starts w rows before the boundary, its forecast at the boundary
    assert starts["val"][0] == 120 - w and starts["val"][-1] == 180 - w - h
    assert len(starts["val"]) == 60 - h + 1  # Informer: border2 - border1 - seq_len - pred_len + 1
    assert starts["test"][0] == 180 - w and starts["test"][-1] == 240 - w - h
    # the scaler saw the train rows only
    import pandas as pd

    frame = pd.read_csv(path)
    shift = dm.artifacts["scaler"]["shift"]
    assert shift[0] == pytest.approx(frame["a"][:120].mean(), rel=1e-5)
    # without reach-back the inputs stay inside their split
    inside = _data(path, split={"train": 120, "val": 60, "test": 60}, reach_back=False)
    assert inside.window_starts["val"][0][1] == 120
    assert len(inside.splits["val"]) == 60 - w - h + 1


def test_split_by_dates_matches_the_same_rows(tmp_path):
    path = write_hourly(tmp_path / "s.csv", rows=300)
    by_rows = _data(path, split={"train": 120, "val": 60, "test": 60})
    by_dates = _data(
        path,
        time_column="date",
        split={"train": "2020-01-06", "val": "2020-01-08 12:00", "test": "2020-01-11"},
    )
    assert by_dates.window_starts == by_rows.window_starts
    for s in ("train", "val", "test"):
        torch.testing.assert_close(by_dates.splits[s][0][0], by_rows.splits[s][0][0])
    # fractions through data.split are the val_fraction / test_fraction split
    a = _data(path, split={"train": 0.7, "val": 0.2, "test": 0.1})
    b = _data(path, val_fraction=0.2, test_fraction=0.1)
    assert a.window_starts == b.window_starts


def test_rows_and_dates_use_part_of_the_file(tmp_path):
    path = write_hourly(tmp_path / "s.csv", rows=300)
    part = _data(path, rows=[24, 144], split={"train": 72, "val": 24, "test": 24})
    full = _data(path, split={"train": 96, "val": 24, "test": 24})
    # row 24 of the file is row 0 of the part: its first training window is the file's 25th
    first = part.scaler.inverse(part.splits["train"][0][0], 3)  # original values
    file_rows = full.scaler.inverse(full.splits["train"][24][0], 3)
    torch.testing.assert_close(first, file_rows, atol=1e-4, rtol=1e-4)
    ranged = _data(
        path,
        time_column="date",
        dates=["2020-01-02", "2020-01-07"],
        split={"train": 72, "val": 24, "test": 24},
    )
    assert ranged.window_starts == part.window_starts


@pytest.mark.parametrize(
    "split, match",
    [
        ({"train": 100, "val": 0.2}, r"values must all be row counts .* or dates"),
        ({"train": 100}, r"must have keys train, val"),
        ({"train": 100, "val": 50, "tset": 10}, r"must have keys train, val"),
        ({"train": 200, "val": 80, "test": 80}, r"data.split needs 360 rows .* has 300"),
        ({"train": 0.8, "val": 0.3}, r"fractions must sum to at most 1"),
        ({"train": "2020-01-06", "val": "2020-01-08"}, r"split by dates needs .*time_column"),
        ({"train": -5, "val": 10}, r"values must all be row counts"),
    ],
)
def test_bad_splits_name_the_argument(tmp_path, split, match):
    path = write_hourly(tmp_path / "s.csv", rows=300)
    with pytest.raises(ValueError, match=match):
        _data(path, split=split)


def test_bad_rows_and_dates(tmp_path):
    path = write_hourly(tmp_path / "s.csv", rows=300)
    with pytest.raises(
        ValueError, match=r"data.rows must be a row count N >= 1 or \[start, stop\]"
    ):
        _data(path, rows=[50, 10])
    with pytest.raises(ValueError, match=r"data.dates needs \S*data.time_column"):
        _data(path, dates=["2020-01-02", "2020-01-07"])
    with pytest.raises(ValueError, match=r"data.dates .* no row falls in that range"):
        _data(path, time_column="date", dates=["2021-01-02", "2021-01-07"])


# -- RevIN -----------------------------------------------------------------------------------
def test_revin_round_trip_is_the_identity():
    torch.manual_seed(0)
    revin = RevIN(3)
    with torch.no_grad():
        revin.weight.uniform_(0.5, 2.0)
        revin.bias.normal_()
    x = torch.randn(4, 20, 3, dtype=torch.float64) * 7 + 30
    revin = revin.double()
    z, stats = revin.normalize(x)
    torch.testing.assert_close(revin.denormalize(z, stats), x)
    plain = RevIN(3, affine=False).double()
    z, _ = plain.normalize(x)
    torch.testing.assert_close(z.mean(1), torch.zeros(4, 3, dtype=torch.float64))
    ones = torch.ones(4, 3, dtype=x.dtype)  # up to eps in the variance
    torch.testing.assert_close(z.std(1, unbiased=False), ones, atol=1e-5, rtol=0)


def test_revin_masked_statistics_are_those_of_the_real_steps():
    revin = RevIN(2, affine=False)
    x = torch.randn(3, 10, 2)
    lengths = torch.tensor([10, 6, 3])
    mask = torch.arange(10)[None] < lengths[:, None]
    z, (mean, _) = revin.normalize(x, mask)
    for i, n in enumerate(lengths.tolist()):
        zi, (mi, _) = revin.normalize(x[i : i + 1, :n])
        torch.testing.assert_close(z[i : i + 1, :n], zi)
        torch.testing.assert_close(mean[i], mi[0])
        assert (z[i, n:] == 0).all()
    with pytest.raises(ValueError, match=r"x must have 2 features \(num_features\)"):
        revin.normalize(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"num_features must be a positive int, got 0"):
        RevIN(0)


# -- channel independence ------------------------------------------------------------------------
ART = {"covariates": ["t"], "input_window": 12, "horizon": 4, "seasonality": 1, "scaler": None}


def _one_series_model(model: Forecast, k: int) -> Forecast:
    """The shared network of ``model`` on target ``k`` alone."""
    single = Forecast(model.config, {**ART, "targets": ["y"]}).eval()
    state = model.state_dict()
    if model.revin is not None and model.revin.affine:
        state["revin.weight"] = state["revin.weight"][k : k + 1]
        state["revin.bias"] = state["revin.bias"][k : k + 1]
    single.load_state_dict(state)
    return single


@pytest.mark.parametrize("mode", ["direct", "autoregressive"])
def test_channel_independent_model_equals_k_runs_of_the_shared_model(mode):
    torch.manual_seed(0)
    cfg = {"rnn": {"hidden_size": 6}, "channel_independent": True, "revin": True, "mode": mode}
    model = Forecast(cfg, {**ART, "targets": ["a", "b", "c"]}).eval()
    with torch.no_grad():
        model.revin.weight.uniform_(0.5, 2.0)  # per-series affine parameters differ
    history, future = torch.randn(5, 12, 4), torch.randn(5, 4, 1)
    out = model(history, future)  # (N, H, K)
    assert out.shape == (5, 4, 3)
    for k in range(3):
        single = _one_series_model(model, k)
        alone = single(torch.cat([history[..., k : k + 1], history[..., 3:]], -1), future)
        torch.testing.assert_close(out[..., k : k + 1], alone, rtol=1e-5, atol=1e-6)


def test_channel_independent_segment_model_keeps_the_series_apart():
    torch.manual_seed(0)
    cfg = {
        "encoder": "segment",
        "segment_length": 4,
        "rnn": {"cell": "gru", "hidden_size": 8, "num_layers": 1},
        "channel_independent": True,
        "revin": True,
    }
    model = Forecast(cfg, {**ART, "covariates": [], "targets": ["a", "b", "c"]}).eval()
    history = torch.randn(2, 12, 3)
    out = model(history)
    changed = history.clone()
    changed[..., 1] += torch.randn(2, 12)  # series b only
    out2 = model(changed)
    torch.testing.assert_close(out[..., [0, 2]], out2[..., [0, 2]])
    assert not torch.allclose(out[..., 1], out2[..., 1])


# -- the segment encoder ---------------------------------------------------------------------
def _segment(horizon=10, s=4, channels=None):
    torch.manual_seed(0)
    rnn = build_rnn(8, RNNConfig(cell="gru", hidden_size=8, num_layers=1))
    return SegmentRNN(2, 3, s, horizon, rnn, 8, channels=channels).eval()


def test_segment_encoder_shapes():
    net = _segment(horizon=10, s=4)  # ceil(10 / 4) = 3 output segments, cut to 10 steps
    assert net(torch.randn(5, 12, 2)).shape == (5, 10, 3)
    assert net.position.shape == (3, 8)
    with_channels = _segment(horizon=8, s=4, channels=3)
    assert with_channels(torch.randn(6, 16, 2)).shape == (6, 8, 3)
    assert with_channels.channel.shape == (3, 4) and with_channels.position.shape == (2, 4)


def test_segment_encoder_masking_matches_unpadded_runs():
    net = _segment(horizon=6, s=4)
    x = torch.randn(3, 16, 2)
    lengths = torch.tensor([16, 8, 4])
    x = x * (torch.arange(16)[None, :, None] < lengths[:, None, None])
    out = net(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out[i : i + 1], net(x[i : i + 1, :n]))
    with pytest.raises(ValueError, match=r"lengths must be multiples of segment_length=4"):
        net(x, torch.tensor([16, 7, 4]))
    with pytest.raises(ValueError, match=r"x must have a multiple of segment_length=4 steps"):
        net(torch.randn(2, 10, 2))


def test_segment_forecaster_masked_onnx_forward_matches_forward():
    cfg = {
        "encoder": "segment",
        "segment_length": 4,
        "rnn": {"cell": "gru", "hidden_size": 8, "num_layers": 1},
        "revin": True,
    }
    model = Forecast(cfg, {**ART, "targets": ["a", "b"]}).eval()
    x = torch.randn(2, 12, 3)
    padded = torch.cat([x, torch.zeros(2, 4, 3)], dim=1)
    out = model.onnx_forward(padded, torch.tensor([12, 12]))
    torch.testing.assert_close(out, model(x))


@pytest.mark.parametrize("baseline", ["naive", "snaive"])
def test_revin_keeps_the_baseline_a_zero_network_corrects(baseline):
    art = {**ART, "covariates": [], "targets": ["a", "b"], "seasonality": 3}
    cfg = {"rnn": {"hidden_size": 4}, "baseline": baseline, "revin": True}
    model = Forecast(cfg, art).eval()
    torch.nn.init.zeros_(model.head[-1].weight)
    torch.nn.init.zeros_(model.head[-1].bias)
    history = torch.randn(2, 12, 2) * 3 + 5
    index = [11] * 4 if baseline == "naive" else [9, 10, 11, 9]
    torch.testing.assert_close(model(history), history[:, index], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"encoder": "segment"}, r"model.segment_length must be a positive int .*got None"),
        ({"encoder": "segment", "segment_length": 0}, r"segment_length must be a positive int"),
        ({"encoder": "segment", "segment_length": 5}, r"segment_length=5 must divide .*=12"),
        (
            {"encoder": "segment", "segment_length": 4, "mode": "autoregressive"},
            r"model.mode must be 'direct', got 'autoregressive'",
        ),
        ({"segment_length": 4}, r"model.segment_length=4 needs model.encoder='segment'"),
        (
            {"encoder": "segment", "segment_length": 4, "rnn": {"bidirectional": True}},
            r"model.rnn.bidirectional must be false",
        ),
        ({"head_dropout": 1.0}, r"model.head_dropout must be in \[0, 1\), got 1.0"),
    ],
)
def test_segment_encoder_bad_arguments(cfg, match):
    with pytest.raises(ValueError, match=match):
        Forecast(cfg, {**ART, "targets": ["a"]})


# -- metrics and the default recipe ----------------------------------------------------------
def _run(tmp_path, model=None, trend=0.01, trainer=None, **data):
    d = {
        "source": "csv",
        "path": str(write_hourly(tmp_path / "s.csv", rows=480, trend=trend)),
        "targets": ["a", "b"],
        "input_window": 24,
        "horizon": 6,
        "seasonality": 24,
        **data,
    }
    cfg = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"), "data": d}
    cfg["trainer"] = {**QUIET, **(trainer or {})}
    if model is not None:
        cfg["model"] = model
    return fit(run_config_from_dict(copy.deepcopy(cfg)))


@pytest.mark.parametrize("trend", [0.0, 0.01])
def test_default_recipe_beats_the_naive_forecast(tmp_path, trend):
    """Only data keys set: the default model, optimiser and trainer (RevIN, early stopping with
    the best checkpoint restored, a plateau schedule, clipping) beat the naive forecast, on
    seasonal series with and without a trend."""
    m = _run(tmp_path, trend=trend, split={"train": 288, "val": 96, "test": 96}).metrics
    assert m["test_mse_scaled"] < m["test_naive_mse_scaled"]
    assert m["test_mae"] < m["test_naive_mae"]


def test_the_default_recipe_is_the_measured_one():
    """The defaults benchmarks/default_recipe.py chose on validation (recipe E: D and the
    seasonal-naive correction where the season fits the window)."""
    from deeprnn.tasks.forecast import resolve_baseline

    run = run_config_from_dict({"task": "forecast"})
    t = run.trainer
    assert (t.max_epochs, t.early_stopping_patience, t.gradient_clip_norm) == (30, 5, 1.0)
    m = run.model
    assert run.optim.scheduler.name == "plateau" and m.revin is None and m.baseline == "auto"
    assert resolve_baseline(m, 12, 24) == "snaive"
    assert resolve_baseline(m, 1, 24) == "none" and resolve_baseline(m, 48, 24) == "none"
    ar = run_config_from_dict({"task": "forecast", "model": {"mode": "autoregressive"}}).model
    nb = run_config_from_dict({"task": "forecast", "model": {"likelihood": "negative_binomial"}})
    assert resolve_baseline(ar, 12, 24) == "none" and resolve_baseline(nb.model, 12, 24) == "none"
    art = {"targets": ["y"], "covariates": [], "input_window": 24, "horizon": 3}
    assert Forecast(nb.model, artifacts={**art, "seasonality": 12}).revin is None  # counts
    assert Forecast(m, artifacts={**art, "seasonality": 12}).revin is not None


def test_a_config_saved_before_revin_was_the_default_loads_as_it_was_trained(tmp_path):
    """Checkpoints and export folders written before ``revin`` existed have no such key: they
    mean RevIN off, and are rebuilt without it (their weights have no RevIN parameters)."""
    from deeprnn.export import load_exported

    result = _run(tmp_path, model={"revin": False}, trainer={"max_epochs": 1})
    folder = result.export_dir
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["config"].pop("revin") is False
    (folder / "config.json").write_text(json.dumps(cfg))
    assert load_exported(folder).revin is None


def test_paper_metrics_per_horizon_step_beside_the_baselines(tmp_path):
    model = {
        "encoder": "segment",
        "segment_length": 6,
        "rnn": {"cell": "gru", "hidden_size": 16, "num_layers": 1},
        "channel_independent": True,
        "revin": True,
    }
    split = {"train": 288, "val": 96, "test": 96}
    result = _run(tmp_path, model, split=split)
    m = result.metrics
    for who in ("", "naive_", "snaive_"):
        for name in ("mse_scaled", "mae_scaled", "mse", "mae"):
            steps = m[f"test_{who}{name}_per_step"]
            assert len(steps) == 6
            assert sum(steps) / 6 == pytest.approx(m[f"test_{who}{name}"], rel=1e-4)
    # the scaled metrics are the original-scale ones divided by the scale (per target)
    assert m["test_naive_mse_scaled"] != pytest.approx(m["test_naive_mse"], rel=1e-3)
    assert m["test_mse_scaled"] < m["test_naive_mse_scaled"]
    rows = result.model.predict_raw([{"a": 5.0, "b": -3.0 + i / 24} for i in range(24)])
    assert len(rows) == 6 and set(rows[0]) == {"series", "step", "a", "b"}
