"""``data.source: reader`` as docs/tasks/forecast.md documents it: the reader returns one
DataFrame (or ``{"frame": DataFrame}``) handled like a CSV, or splits of (T, F) arrays (or of
DataFrames) whose first columns are the targets. Each form trains end to end and predicts; the
reader is ``_tiny:forecast_reader``, on data it makes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeprnn.tasks import ForecastData
from deeprnn.training import fit, run_config_from_dict


def run(tmp_path, form: str, **data) -> dict:
    cfg = {"source": "reader", "reader": "_tiny:forecast_reader", "reader_args": {"form": form},
           "targets": ["value"], "covariates": ["temp"], "input_window": 12, "horizon": 3,
           "seasonality": 12, **data}  # fmt: skip
    return {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / form), "data": cfg,
            "model": {"rnn": {"hidden_size": 8, "num_layers": 1}},
            "trainer": {"max_epochs": 1, "batch_size": 16, "progress_bar": False,
                        "tensorboard": False, "num_threads": 1}}  # fmt: skip


def prepared(tmp_path, form: str, **data) -> ForecastData:
    cfg = run_config_from_dict(run(tmp_path, form, **data)).data
    return ForecastData(cfg, batch_size=16, seed=0).prepare()


@pytest.mark.parametrize("form", ["frame", "dict"])
def test_a_reader_frame_trains_like_a_csv(tmp_path, form):
    import _tiny

    result = fit(run_config_from_dict(run(tmp_path, form, series_column="id")))
    dm = result.datamodule
    assert set(dm.window_starts["train"]) >= {("a", 0), ("b", 0)}  # two series, cut in time
    assert dm.artifacts["covariates"] == ["temp"] and len(dm.splits["val"]) > 0
    assert np.isfinite(result.metrics["test_mae"])
    frame = _tiny.forecast_reader("frame")
    csv = tmp_path / "s.csv"
    frame.to_csv(csv, index=False)
    like = prepared(tmp_path, form, series_column="id")
    cfg = run(tmp_path, "csv", series_column="id")["data"]
    cfg.update(source="csv", path=str(csv), reader=None, reader_args={})
    plain = ForecastData(run_config_from_dict({"task": "forecast", "data": cfg}).data).prepare()
    assert like.window_starts == plain.window_starts
    torch.testing.assert_close(like.splits["test"][0][0], plain.splits["test"][0][0])
    history = frame[frame["id"] == "b"].tail(12).to_dict("records")
    rows = result.model.predict_raw(history)
    assert [r["series"] for r in rows] == ["b"] * 3 and all(np.isfinite(r["value"]) for r in rows)


@pytest.mark.parametrize("form", ["arrays", "frames"])
def test_reader_splits_of_series_train(tmp_path, form):
    import _tiny

    extra = {"series_column": "id"} if form == "frames" else {}
    result = fit(run_config_from_dict(run(tmp_path, form, **extra)))
    dm = result.datamodule
    # each split's series (a and b) cut into windows of 15 rows: 80, 44 and 44 rows
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [2 * 66, 2 * 30, 2 * 30]
    x, y = dm.splits["val"][0]
    assert x.shape == (15, 2) and y.shape == (3, 1)
    # the scaler is fitted on the train series only
    train = np.concatenate([v[:80] for v in _tiny.forecast_reader("arrays")["train"]])
    assert dm.artifacts["scaler"]["shift"][0] == pytest.approx(train[:, 0].mean(), rel=1e-5)
    assert np.isfinite(result.metrics["test_mae"])
    test = _tiny.forecast_reader("arrays")["test"][0][-12:]
    history = [{"id": "a", "value": v, "temp": c} for v, c in test]  # id: read with "frames"
    assert len(result.model.predict_raw(history)) == 3


def test_bad_reader_outputs_name_the_problem(tmp_path, monkeypatch):
    import _tiny

    with pytest.raises(
        ValueError, match=r"series 0: expected a \(T, 2\) array .*got shape \(80, 3\)"
    ):
        monkeypatch.setattr(_tiny, "bad", lambda: {s: [np.zeros((80, 3))] for s in ("train", "val")},
                            raising=False)  # fmt: skip
        prepared(tmp_path, "x", reader="_tiny:bad", reader_args={})
    gap = np.ones((80, 2))
    gap[7, 0] = np.nan
    monkeypatch.setattr(_tiny, "bad", lambda: {"train": [gap], "val": [gap]}, raising=False)
    with pytest.raises(ValueError, match=r"split 'train' series 0: row 7 holds a missing or"):
        prepared(tmp_path, "x", reader="_tiny:bad", reader_args={})
    monkeypatch.setattr(_tiny, "bad", lambda: [np.ones((80, 2))], raising=False)
    with pytest.raises(ValueError, match=r"must return a DataFrame, \{'frame': DataFrame\} or"):
        prepared(tmp_path, "x", reader="_tiny:bad", reader_args={})
    with pytest.raises(ValueError, match=r"data.time_column needs a table: return a DataFrame"):
        prepared(tmp_path, "arrays", time_column="t")
    with pytest.raises(ValueError, match=r"data.reader: cannot import '_tiny:nope'"):
        prepared(tmp_path, "x", reader="_tiny:nope")
    with pytest.raises(ValueError, match=r"data.reader: column\(s\) \['nope'\] not found"):
        prepared(tmp_path, "frame", covariates=["nope"])
