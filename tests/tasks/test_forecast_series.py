"""Global models over panels (issue 29): per-series scaling of the targets
(``data.series_scaler``) and the series-id embedding (``model.series_embedding``)."""

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.models import InputConfig, RNNConfig
from deeprnn.tasks.forecast import Forecast, ForecastConfig
from deeprnn.tasks.forecast.data import ForecastData, ForecastDataConfig
from deeprnn.tasks.forecast.series import SeriesInputs, from_series, series_codes, to_series

W, H = 12, 3
SPLIT = {"train": 60, "val": 15, "test": 15}


def _panel(path, n_series: int = 3, steps: int = 90, seed: int = 0):
    """Series of very different levels (1, 100, 10,000) and one covariate, interleaved rows."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        t = np.arange(steps)
        level = 10.0 ** (2 * i)
        parts.append(
            pd.DataFrame(
                {
                    "sid": f"s{i}",
                    "time": pd.date_range("2021-03-01", periods=steps, freq="h"),
                    "y": level * (2 + np.sin(t / 3) + rng.normal(0, 0.1, steps)),
                    "x": rng.normal(0, 1, steps),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True).sort_values("time", kind="stable")
    if str(path).endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return frame


def _data(path, artifacts=None, **extra) -> ForecastData:
    keys = dict(targets=["y"], covariates=["x"], series_column="sid", time_column="time")
    extra.setdefault("seasonality", 1)
    cfg = ForecastDataConfig(
        source="csv", path=str(path), input_window=W, horizon=H, split=SPLIT, **keys, **extra
    )
    cfg.validate("data")
    return ForecastData(cfg, batch_size=8, artifacts=artifacts).prepare()


def _model(dm, **extra) -> Forecast:
    cfg = ForecastConfig(rnn=RNNConfig(hidden_size=8, num_layers=1), baseline="none", **extra)
    cfg.validate("model")
    model = Forecast(cfg, artifacts=dm.artifacts)
    model.bind_data(dm)
    return model.eval()


# -- per-series scaling --------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("kind", ["mean", "standard"])
def test_series_statistics_come_from_each_series_train_rows_only(tmp_path, kind, suffix):
    path = tmp_path / f"p{suffix}"
    frame = _panel(path)
    art = _data(path, series_scaler=kind).artifacts
    assert art["series_ids"] == ["s0", "s1", "s2"]
    state = art["series_scaler"]
    assert state["kind"] == kind and state["columns"] == ["y"]
    for i, sid in enumerate(art["series_ids"]):
        train = frame[frame.sid == sid]["y"].to_numpy()[: SPLIT["train"]]
        if kind == "mean":  # DeepAR: 1 + mean |z| of the train part
            want_shift, want_scale = 0.0, 1 + np.abs(train).mean()
        else:
            want_shift, want_scale = train.mean(), train.std()
        np.testing.assert_allclose(state["shift"][i], [want_shift], rtol=1e-6)
        np.testing.assert_allclose(state["scale"][i], [want_scale], rtol=1e-6)
    # the val / test rows changed: the statistics stay
    other = frame.copy()
    later = other.groupby("sid").cumcount() >= SPLIT["train"]
    other.loc[later, "y"] *= 50
    moved = tmp_path / f"q{suffix}"
    other.to_parquet(moved, index=False) if suffix == ".parquet" else other.to_csv(
        moved, index=False
    )
    assert _data(moved, series_scaler=kind).artifacts["series_scaler"] == state


def test_the_general_and_columnar_readers_fit_the_same_series_statistics(tmp_path):
    _panel(tmp_path / "p.csv")
    fast = _data(tmp_path / "p.csv", series_scaler="standard").artifacts
    general = _data(tmp_path / "p.csv", series_scaler="standard", fill="ffill").artifacts
    np.testing.assert_allclose(
        general["series_scaler"]["scale"], fast["series_scaler"]["scale"], rtol=1e-6
    )
    np.testing.assert_allclose(
        general["series_scaler"]["shift"], fast["series_scaler"]["shift"], rtol=1e-6
    )


@pytest.mark.parametrize("global_scaler", ["standard", "minmax", "none"])
@pytest.mark.parametrize("kind", ["mean", "standard"])
def test_series_scaling_round_trips_the_data(tmp_path, kind, global_scaler):
    """The panel's values (data.scaler) -> each series' units is (z - shift_s) / scale_s of the
    original values, and back gives the panel's values (and the original data) again, to float32
    precision of each series' own values (the panel keeps the targets uncentred: centred on the
    panel's mean, the 1-level series would keep only ~1e-4 of its scale)."""
    frame = _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler=kind, scaler=global_scaler)
    model = _model(dm)
    windows = dm.splits["test"]
    x, _, series = windows.batch(np.arange(len(windows)))
    ab = model.series_inputs.affine(series)
    z = to_series(x, ab, 1)
    state = dm.artifacts["series_scaler"]
    shift = torch.tensor(state["shift"], dtype=torch.float32)[series][:, None]
    scale = torch.tensor(state["scale"], dtype=torch.float32)[series][:, None]
    original = dm.scaler.inverse(x[..., :1], 1)
    torch.testing.assert_close(z[..., :1], (original - shift) / scale, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(z[..., 1:], x[..., 1:])  # covariates keep data.scaler's values
    back = from_series(z[..., :1], ab)
    torch.testing.assert_close(back, x[..., :1], rtol=1e-5, atol=1e-5)
    first = windows.rows[0] - windows.panel.offsets[windows.series[0]]
    sid = windows.panel.ids[windows.series[0]]
    raw = frame[frame.sid == sid]["y"].to_numpy()[first : first + W + H]
    np.testing.assert_allclose(dm.scaler.inverse(back, 1)[0, :, 0], raw, rtol=1e-6)


def test_the_loss_weighs_each_series_in_its_own_units(tmp_path):
    """The same forecast error relative to each series' scale costs the same: a 10,000-level
    series does not drown the 1-level one."""
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="mean")
    model = _model(dm)
    x, y, series = dm.splits["val"].batch(np.arange(len(dm.splits["val"])))
    with torch.no_grad():
        pred = model(*model._split(x), None, series)
        loss, _ = model.step((x, y, series), "train")
    _, b = model.series_inputs.affine(series)
    torch.testing.assert_close(loss, (((pred - y) / b) ** 2).mean())


# -- stored with the model -----------------------------------------------------------------------
def test_an_export_predicts_what_evaluate_forecasts_and_refuses_an_unseen_series(tmp_path):
    from deeprnn.export import export_folder, load_exported

    frame = _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="mean")
    model = _model(dm, series_embedding=3)
    loaded = load_exported(export_folder(model, tmp_path / "model")).eval()
    assert loaded.config.series_embedding == 3
    assert loaded.artifacts["series_scaler"] == dm.artifacts["series_scaler"]
    assert loaded.artifacts["series_ids"] == ["s0", "s1", "s2"]
    windows = dm.splits["test"]
    j = len(windows) - 1  # the last test window of the last series
    x, _, series = windows.batch(np.array([j]))
    with torch.no_grad():
        want = dm.scaler.inverse(loaded(*loaded._split(x), None, series), 1)[0, :, 0]
    sid = windows.panel.ids[int(windows.series[j])]
    start = int(windows.rows[j] - windows.panel.offsets[windows.series[j]])
    rows = frame[frame.sid == sid].iloc[start : start + W]
    records = [
        {"sid": r.sid, "time": str(r.time), "y": r.y, "x": r.x} for r in rows.itertuples()
    ] + [
        {"sid": r.sid, "time": str(r.time), "x": r.x}
        for r in frame[frame.sid == sid].iloc[start + W : start + W + H].itertuples()
    ]
    got = loaded.predict_raw(records)
    assert [r["series"] for r in got] == [sid] * H
    np.testing.assert_allclose([r["y"] for r in got], want.numpy(), rtol=1e-4)
    with pytest.raises(ValueError, match=r"series 'new' \(--input\) had no training rows"):
        loaded.predict_raw([dict(r, sid="new") for r in records])


def test_evaluate_data_with_a_series_the_model_never_saw_is_an_error(tmp_path):
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="standard")
    _panel(tmp_path / "more.csv", n_series=4)
    other = _data(tmp_path / "more.csv", artifacts=dm.artifacts)
    model = Forecast(ForecastConfig(baseline="none"), artifacts=dm.artifacts)
    with pytest.raises(ValueError, match=r"series 's3' \(the train split\) had no training rows"):
        model.bind_data(other)


# -- the id embedding ----------------------------------------------------------------------------
def test_the_series_embedding_changes_the_forecast_with_the_id(tmp_path):
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv")  # no series scaling: the embedding alone
    assert "series_scaler" not in dm.artifacts
    model = _model(dm, series_embedding=4)
    assert model.series_inputs.embedding.weight.shape == (3, 4)
    x, _, series = dm.splits["val"].batch(np.arange(4))
    history, future = model._split(x)
    with torch.no_grad():
        outs = [model(history, future, None, torch.full_like(series, c)) for c in range(3)]
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])
    with pytest.raises(ValueError, match=r"pass series \(N,\) codes"):
        model(history, future)
    plain = _model(dm)
    assert not plain.series_inputs.used and len(dm.splits["val"].batch(np.arange(2))) == 3


def test_the_embedding_trains_and_round_trips_through_a_run(tmp_path):
    from _tiny import tiny_config

    from deeprnn.export import load_exported
    from deeprnn.training import fit_run, run_config_from_dict

    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "run", max_epochs=2)
    cfg["data"]["series_scaler"] = "mean"
    cfg["model"]["series_embedding"] = 2
    result = fit_run(run_config_from_dict(cfg))
    assert np.isfinite(result.metrics["test_mse"])
    model = result.model
    loaded = load_exported(result.export_dir)
    assert loaded.config.series_embedding == 2 and loaded.artifacts["series_ids"] == ["a", "b"]
    torch.testing.assert_close(
        loaded.series_inputs.embedding.weight, model.series_inputs.embedding.weight.cpu()
    )


# -- the boundary --------------------------------------------------------------------------------
def test_bad_settings_are_errors_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"data.series_scaler must be one of"):
        ForecastDataConfig(source="csv", series_scaler="robust").validate("data")
    with pytest.raises(ValueError, match=r"data.series_scaler='mean' .* needs a csv or reader"):
        ForecastDataConfig(series_scaler="mean").validate("data")
    with pytest.raises(ValueError, match=r"model.series_embedding must be an int >= 0"):
        ForecastConfig(series_embedding=-1).validate("model")
    with pytest.raises(ValueError, match=r"model.series_embedding=2 needs model.mode='direct'"):
        ForecastConfig(series_embedding=2, mode="autoregressive").validate("model")
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="mean")
    with pytest.raises(ValueError, match=r"negative_binomial' models counts on their own scale"):
        Forecast(
            ForecastConfig(likelihood="negative_binomial", revin=False), artifacts=dm.artifacts
        )
    art = {k: v for k, v in dm.artifacts.items() if k not in ("series_ids", "series_scaler")}
    with pytest.raises(ValueError, match=r"needs the series ids .* set data.series_column"):
        Forecast(ForecastConfig(series_embedding=2), artifacts=art)
    with pytest.raises(ValueError, match=r"had no training rows"):
        series_codes(dm.artifacts, ["s9"], "here")
    assert isinstance(_model(dm).series_inputs, SeriesInputs)


@pytest.mark.parametrize("likelihood", ["gaussian", "quantile"])
def test_a_probabilistic_head_learns_in_each_series_units_and_scores_on_the_panel(
    tmp_path, likelihood
):
    """The loss is the distribution's in the series' units (the truth mapped there too); the
    distribution handed to the metrics and to predict is mapped back to the panel's values."""
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="standard")
    model = _model(dm, likelihood=likelihood)
    x, y, series = dm.splits["val"].batch(np.arange(6))
    history, future = model._split(x)
    ab = model.series_inputs.affine(series)
    with torch.no_grad():
        inner = model._distribution(to_series(history, ab, 1), future=future, series=series)
        dist = model.distribution(history, future=future, series=series)
        loss, logged = model.step((x, y, series), "val")
        point = model(history, future, None, series)
    torch.testing.assert_close(loss, inner.loss(to_series(y, ab, 1)))
    torch.testing.assert_close(dist.point(), from_series(inner.point(), ab))
    torch.testing.assert_close(point, dist.point())
    q = dist.quantiles((0.1, 0.9))
    assert bool((q[0] <= q[1]).all()) and "crps" in logged


def test_autoregressive_mode_reads_the_series_scaling(tmp_path):
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="mean")
    model = _model(dm, mode="autoregressive")
    x, y, series = dm.splits["val"].batch(np.arange(4))
    with torch.no_grad():
        pred = model(*model._split(x), None, series)
        loss, _ = model.step((x, y, series), "train")
    assert pred.shape == y.shape and torch.isfinite(loss)
    scaled = model.series_inputs.affine(series)[1]
    assert bool((scaled > 0).all())  # 1 + mean |value| over data.scaler's scale


def test_onnx_and_summary_take_the_series_codes_as_an_input(tmp_path):
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv", series_scaler="mean")
    model = _model(dm, series_embedding=2)
    inputs = model.onnx_inputs(2, W)
    assert inputs["series"].dtype == torch.long
    x, _, series = dm.splits["val"].batch(np.arange(3))
    history, _ = model._split(x)
    lengths = torch.full((3,), W)
    with torch.no_grad():
        got = model.onnx_forward(history, lengths, series=series)
        torch.testing.assert_close(got, model(history, None, None, series))
    from deeprnn.export.onnx import task_wrapper
    from deeprnn.summary import summary

    table = summary(task_wrapper(model), input_data=tuple(model.example_input().values()))
    assert "Embedding" in table
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from deeprnn.export.onnx import export_onnx, run_onnx

    path = export_onnx(model, tmp_path / "m.onnx")
    out = run_onnx(path, x=history, lengths=lengths, series=series)[0]
    np.testing.assert_allclose(out, got.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "extra",
    [
        {"channel_independent": True},
        {"encoder": "segment", "segment_length": 4},
        {"input": InputConfig(projection=5)},
    ],
    ids=["channel-independent", "segment", "projection"],
)
def test_the_embedding_feeds_every_encoder(tmp_path, extra):
    _panel(tmp_path / "p.csv")
    dm = _data(tmp_path / "p.csv")  # the embedding alone changes with the id
    model = _model(dm, series_embedding=3, **extra)
    x, y, series = dm.splits["val"].batch(np.arange(4))
    history, future = model._split(x)
    with torch.no_grad():
        a = model(history, future, None, series)
        b = model(history, future, None, (series + 1) % 3)
    assert a.shape == y.shape and not torch.allclose(a, b)
