"""Panels of many series (issue 29): windows as row indices into one float32 block, the
columnar CSV / Parquet reader, ``data.windows_per_epoch`` and the chunked baseline scores."""

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.tasks.forecast import columnar
from deeprnn.tasks.forecast.baselines import validation_scores
from deeprnn.tasks.forecast.data import ForecastData, ForecastDataConfig
from deeprnn.tasks.forecast.windows import WindowSample, baseline_scores

W, H = 12, 3


def _panel(n_series: int = 6, steps: int = 80, seed: int = 0) -> pd.DataFrame:
    """Series of different lengths and levels, interleaved rows (not grouped by series)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        t = np.arange(steps - 7 * i)
        parts.append(
            pd.DataFrame(
                {
                    "sid": f"s{i}",
                    "time": pd.date_range("2021-03-01", periods=len(t), freq="h"),
                    "y": (10 * i + np.sin(t / 3) + rng.normal(0, 0.1, len(t))).astype("float32"),
                    "x": rng.normal(0, 1, len(t)).astype("float32"),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.sample(frac=1.0, random_state=1).sort_values("time", kind="stable")


def _config(path, **extra) -> ForecastDataConfig:
    keys = dict(targets=["y"], covariates=["x"], series_column="sid", time_column="time")
    return ForecastDataConfig(
        source="csv", path=str(path), input_window=W, horizon=H, **keys, **extra
    )


@pytest.fixture
def files(tmp_path):
    frame = _panel()
    frame.to_csv(tmp_path / "panel.csv", index=False)
    frame.to_parquet(tmp_path / "panel.parquet")
    return frame, tmp_path


def test_every_window_is_the_slice_of_its_original_series(files):
    frame, folder = files
    dm = ForecastData(_config(folder / "panel.csv"), batch_size=8).prepare()
    assert len(dm.panel.ids) == 6 and dm.panel.values.dtype == np.float32
    for split in ("train", "val", "test"):
        windows = dm.splits[split]
        x, y = windows.batch(np.arange(len(windows)))  # (N, W + H, 2), (N, H, 1)
        original = dm.scaler.inverse_transform(x.double()).numpy()
        for j, (sid, start) in enumerate(dm.window_starts[split]):
            rows = frame[frame["sid"] == sid].iloc[start : start + W + H]
            np.testing.assert_allclose(original[j], rows[["y", "x"]], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(y, x[:, W:, :1])
        past, future = windows.targets(np.arange(len(windows)))
        torch.testing.assert_close(past, x[:, :W, :1], rtol=0, atol=0)
        torch.testing.assert_close(future, y, rtol=0, atol=0)
        one_x, _ = windows[len(windows) - 1]  # an item is a fresh copy, as before
        torch.testing.assert_close(one_x, x[-1])
        one_x += 1
        assert not torch.equal(windows[len(windows) - 1][0], one_x)


def test_parquet_and_csv_give_the_same_windows_and_artifacts(files):
    _, folder = files
    a = ForecastData(_config(folder / "panel.csv"), batch_size=8).prepare()
    b = ForecastData(_config(folder / "panel.parquet"), batch_size=8).prepare()
    assert a.artifacts == b.artifacts and a.artifacts["freq"] == "h"
    for split in ("train", "val", "test"):
        assert a.window_starts[split] == b.window_starts[split]
        n = np.arange(len(a.splits[split]))
        for ta, tb in zip(a.splits[split].batch(n), b.splits[split].batch(n)):
            torch.testing.assert_close(ta, tb, rtol=0, atol=0)
    assert "panel.parquet: windows forecasting the train rows" in b.provenance()["train"]["source"]


def test_the_columnar_reader_leaves_other_tables_to_the_general_path(files):
    frame, folder = files
    assert columnar.read_panel(_config(folder / "panel.parquet"), {}) is not None
    gappy = frame.copy()
    gappy.loc[gappy.index[5], "y"] = np.nan
    gappy.to_parquet(folder / "gappy.parquet")
    assert columnar.read_panel(_config(folder / "gappy.parquet"), {}) is None
    with pytest.raises(ValueError, match="missing"):  # the general path's error, with the row
        ForecastData(_config(folder / "gappy.parquet"), batch_size=8).prepare()
    texts = frame.assign(x=np.where(frame["x"] > 0, "up", "down"))
    texts.to_parquet(folder / "text.parquet")
    assert columnar.read_panel(_config(folder / "text.parquet"), {}) is None
    dm = ForecastData(_config(folder / "text.parquet"), batch_size=8).prepare()
    assert dm.artifacts["covariates"] == ["x=down", "x=up"]  # one-hot, from the Parquet file


def test_windows_per_epoch_draws_a_fixed_number_per_epoch(files):
    _, folder = files
    dm = ForecastData(_config(folder / "panel.csv", windows_per_epoch=40), batch_size=8).prepare()
    loader = dm.train_dataloader()
    assert len(loader) == 5 and dm.batch_rows() == 40
    x, y = next(iter(loader))
    assert x.shape == (8, W + H, 2) and y.shape == (8, H, 1)
    series = dm.splits["train"].series
    first = WindowSample(series, 40, seed=0)
    again = WindowSample(series, 40, seed=0)
    assert list(first) == list(again)  # (seed, epoch) alone decides the draw
    again.set_epoch(1)
    assert list(first) != list(again)
    with pytest.raises(ValueError, match=r"data\.window_sampling must be one of"):
        WindowSample(series, 40, seed=0, sampling="uniform")


def test_series_sampling_draws_short_series_as_often_as_long_ones():
    series = np.repeat(np.arange(4), [1000, 10, 10, 10])  # windows of 4 series
    counts = np.bincount(series[WindowSample(series, 40_000, seed=3, sampling="series").draw()])
    assert counts.min() > 9_000  # each about 10,000
    by_length = np.bincount(series[WindowSample(series, 40_000, seed=3).draw()], minlength=4)
    assert by_length[0] > 35_000


@pytest.mark.parametrize("n", [39, 40, 41])
def test_ranks_sample_equal_shares_of_one_draw(n):
    series = np.repeat(np.arange(5), 20)
    shares = [list(WindowSample(series, n, 7, rank=r, world=2)) for r in range(2)]
    assert len(shares[0]) == len(shares[1]) == len(WindowSample(series, n, 7, rank=1, world=2))
    whole = WindowSample(series, n, 7, world=2).draw()
    assert sorted(shares[0] + shares[1]) == sorted(whole.tolist()) and len(whole) % 2 == 0


def test_val_baselines_scored_in_chunks_match_the_whole(files):
    _, folder = files
    dm = ForecastData(_config(folder / "panel.csv"), batch_size=8).prepare()
    val = dm.splits["val"]
    whole = validation_scores(list(val), W, 1, 24)
    chunked = baseline_scores(val, W, 1, 24, chunk=7)
    assert whole.keys() == chunked.keys()
    for name in whole:
        assert chunked[name] == pytest.approx(whole[name], rel=1e-12)


def test_windows_per_epoch_must_be_a_positive_int(files):
    _, folder = files
    with pytest.raises(ValueError, match=r"data\.windows_per_epoch"):
        _config(folder / "panel.csv", windows_per_epoch=0).validate("data")


def test_chunked_baselines_skip_masked_gaps_as_the_whole_does(files):
    frame, folder = files
    gappy = frame.copy()
    gappy.loc[gappy.index[::11], "y"] = np.nan
    gappy.to_csv(folder / "gappy.csv", index=False)
    dm = ForecastData(_config(folder / "gappy.csv", fill={"y": "mask"}), batch_size=8).prepare()
    val = dm.splits["val"]
    assert dm.panel.truth is not None and torch.isnan(val.targets(np.arange(len(val)))[1]).any()
    whole = validation_scores(list(val), W, 1, 24)
    chunked = baseline_scores(val, W, 1, 24, chunk=5)
    for name in whole:
        assert chunked[name] == pytest.approx(whole[name], rel=1e-12)


def test_a_truncated_parquet_file_is_named_by_the_general_path(files):
    _, folder = files
    bad = folder / "bad.parquet"
    bad.write_bytes((folder / "panel.parquet").read_bytes()[:300])
    assert columnar.read_panel(_config(bad), {}) is None
    with pytest.raises(ValueError, match=r"bad\.parquet.*not a readable Parquet file"):
        ForecastData(_config(bad), batch_size=8).prepare()


def test_a_quoted_csv_is_read_by_columns_to_the_same_windows(files):
    import csv

    frame, folder = files
    frame.to_csv(folder / "quoted.csv", index=False, quoting=csv.QUOTE_NONNUMERIC)
    assert (folder / "quoted.csv").read_text().startswith('"sid","time","y","x"')
    assert columnar.read_panel(_config(folder / "quoted.csv"), {}) is not None
    a = ForecastData(_config(folder / "panel.csv"), batch_size=8).prepare()
    b = ForecastData(_config(folder / "quoted.csv"), batch_size=8).prepare()
    assert a.window_starts["val"] == b.window_starts["val"]
    np.testing.assert_array_equal(a.panel.values, b.panel.values)
