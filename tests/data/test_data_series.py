"""CSV/Parquet series, sliding windows, splits by time, scalers and the naive baselines."""

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.data import (
    DataFormatError,
    Scaler,
    WindowDataset,
    mae,
    mase,
    mse,
    naive_forecast,
    read_series,
    rmse,
    seasonal_naive_forecast,
    sliding_windows,
    split_by_time,
)

CSV = """date,load,temp,holiday,note
2024-01-01,10,1.5,0,a
2024-01-02,11,2.5,0,b
2024-01-03,12,3.5,1,c
2024-01-04,13,4.5,0,d
"""


def test_read_csv_targets_covariates(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text(CSV)
    s = read_series(p, time_column="date", targets=["load", "temp"], covariates="holiday")
    assert s.targets.shape == (4, 2) and s.targets.dtype == np.float32
    assert s.covariates.tolist() == [[0], [0], [1], [0]]
    assert s.values().shape == (4, 3)
    assert isinstance(s.time, pd.DatetimeIndex) and s.time[0] == pd.Timestamp("2024-01-01")
    assert not s.filled and not s.skipped
    # default targets: every numeric column but time and covariates
    assert read_series(p, time_column="date", covariates=["holiday"]).target_names == [
        "load",
        "temp",
    ]
    # a numeric time column (years, step numbers) stays numeric
    y = tmp_path / "years.csv"
    y.write_text("year,v\n1990,1\n1991,\n1993,4\n")
    s3 = read_series(y, time_column="year", fill="interpolate")
    assert s3.time.tolist() == [1990, 1991, 1993] and s3.targets[:, 0].tolist() == [1, 2, 4]
    # without a time column
    s2 = read_series(p, targets="load")
    assert s2.time is None and s2.targets[:, 0].tolist() == [10, 11, 12, 13]


def test_read_parquet_same_as_csv(tmp_path):
    pytest.importorskip("pyarrow")
    df = pd.read_csv(pd.io.common.StringIO(CSV))
    pq = tmp_path / "s.parquet"
    df.to_parquet(pq)
    csv = tmp_path / "s.csv"
    csv.write_text(CSV)
    a = read_series(pq, time_column="date", targets="load", covariates=["temp"])
    b = read_series(csv, time_column="date", targets="load", covariates=["temp"])
    np.testing.assert_array_equal(a.values(), b.values())


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".tsv.gz", ".csv.zip"])
def test_compressed_files_read_as_the_plain_file(tmp_path, suffix):
    import bz2
    import gzip
    import lzma
    import zipfile

    text = CSV.replace(",", "\t") if suffix.startswith(".tsv") else CSV
    p = tmp_path / f"s{suffix}"
    if suffix.endswith(".zip"):
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("s.csv", text)
    else:
        pack = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
        p.write_bytes(pack[p.suffix](text.encode()))
    s = read_series(p, time_column="date", targets=["load", "temp"], covariates="holiday")
    assert s.targets.tolist() == [[10, 1.5], [11, 2.5], [12, 3.5], [13, 4.5]]


def test_numeric_column_names_may_be_ints(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("t,1,2\n0,10,5\n1,11,6\n2,12,7\n")
    s = read_series(p, time_column="t", targets=1, covariates=[2])
    assert s.target_names == ["1"] and s.covariate_names == ["2"]
    assert s.values().tolist() == [[10, 5], [11, 6], [12, 7]]
    with pytest.raises(TypeError, match=r"targets must be column names \(str or int\), got"):
        read_series(p, targets=[1.5])


def test_missing_column_lists_available(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text(CSV)
    with pytest.raises(
        ValueError,
        match=r"s.csv: targets column 'lod' not found; available columns: \['date', 'load', 'temp', 'holiday', 'note'\]",
    ):
        read_series(p, time_column="date", targets="lod")
    with pytest.raises(ValueError, match=r"time_column column 'time' not found"):
        read_series(p, time_column="time")


def test_nan_needs_a_fill_policy(tmp_path):
    p = tmp_path / "gap.csv"
    p.write_text(
        "t,y,x\n2024-01-01,1,0\n2024-01-02,,0\n2024-01-03,3,0\n2024-01-04,,1\n2024-01-05,8,1\n"
    )
    with pytest.raises(
        DataFormatError,
        match=r"gap.csv:3: row 1, column 'y': missing value \(NaN\); 2 in all. Choose fill=",
    ):
        read_series(p, time_column="t", targets="y")
    f = read_series(p, time_column="t", targets="y", fill="ffill")
    assert f.targets[:, 0].tolist() == [1, 1, 3, 3, 8] and f.filled == {"y": 2}
    i = read_series(p, time_column="t", targets="y", fill="interpolate")
    assert i.targets[:, 0].tolist() == [1, 2, 3, 5.5, 8]
    z = read_series(p, time_column="t", targets="y", fill="zero")
    assert z.targets[:, 0].tolist() == [1, 0, 3, 0, 8]
    d = read_series(p, time_column="t", targets="y", covariates="x", fill="drop")
    assert len(d) == 3 and d.skipped == {"row with a missing value": 2}
    assert list(d.time.day) == [1, 3, 5]
    with pytest.raises(
        ValueError,
        match=r"fill must be one of \['ffill', 'interpolate', 'zero', 'drop'\], got 'mean'",
    ):
        read_series(p, targets="y", fill="mean")


def test_bad_values_and_times(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("t,y\n2024-01-01,1\n2024-01-02,two\n")
    with pytest.raises(
        DataFormatError, match=r"bad.csv:3: row 1, column 'y': 'two' is not a number"
    ):
        read_series(p, time_column="t", targets="y")
    with pytest.raises(
        ValueError, match=r"bad.csv: no numeric target column; available columns: \['t', 'y'\]"
    ):
        read_series(p, time_column="t")
    p.write_text("t,y\n2024-01-01,1\n2024-01-03,2\n2024-01-02,3\n")
    with pytest.raises(
        DataFormatError, match=r"bad.csv:4: row 2, column 't': time goes back in time"
    ):
        read_series(p, time_column="t")
    p.write_text("t,y\n2024-01-01,1\n2024-01-01,2\n")
    with pytest.raises(DataFormatError, match=r"bad.csv:3: .* time repeats"):
        read_series(p, time_column="t")
    p.write_text("t,y\n2024-01-01,1\nsoon,2\n")
    with pytest.raises(
        DataFormatError, match=r"bad.csv:3: row 1, column 't': cannot parse 'soon' as a time"
    ):
        read_series(p, time_column="t")
    p.write_text("t,y\n")
    with pytest.raises(DataFormatError, match=r"bad.csv: empty series"):
        read_series(p, time_column="t")
    p.write_text("")
    with pytest.raises(DataFormatError, match=r"bad.csv: empty file"):
        read_series(p)
    p.write_bytes(b"t,y\n2024-01-01,1\n\n2024-01-02,\xff\n")
    with pytest.raises(DataFormatError, match=r"bad.csv:4: not valid utf-8 text"):
        read_series(p)
    p.write_text(
        "t,y\n2024-01-01,1\n\n2024-01-02,2\n"
    )  # a blank line is reported, lines stay right
    s = read_series(p, time_column="t")
    assert len(s) == 2 and s.skipped == {"blank line": 1}


def test_sliding_windows_one_and_several_series():
    x, y = sliding_windows(np.arange(6.0), input_length=3, horizon=1)
    assert x.shape == (3, 3, 1) and y.shape == (3, 1, 1) and x.dtype == np.float32
    assert x[:, :, 0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]] and y[:, 0, 0].tolist() == [
        3,
        4,
        5,
    ]
    series = np.stack([np.arange(10.0), -np.arange(10.0)], axis=1)  # (T, 2)
    x, y = sliding_windows(series, 4, horizon=2, stride=3, target_columns=[1])
    assert x.shape == (2, 4, 2) and y.shape == (2, 2, 1)
    assert y[1, :, 0].tolist() == [-7, -8]
    # windows never cross from one series into another
    x, y = sliding_windows([np.arange(5.0), 100 + np.arange(4.0)], 3)
    assert len(x) == 2 + 1 and x[2, :, 0].tolist() == [100, 101, 102]
    ds = WindowDataset([np.arange(5.0), 100 + np.arange(4.0)], 3)
    assert len(ds) == 3 and ds.series_ids.tolist() == [0, 0, 1] and ds.starts.tolist() == [0, 1, 0]
    xi, yi = ds[2]
    assert isinstance(xi, torch.Tensor) and xi.shape == (3, 1) and yi.item() == 103
    with pytest.raises(
        ValueError, match=r"series\[1\] has 2 steps, fewer than input_length \+ horizon = 4"
    ):
        sliding_windows([np.arange(5.0), np.arange(2.0)], 3)
    with pytest.raises(ValueError, match="horizon must be a positive int, got 0"):
        sliding_windows(np.arange(5.0), 3, horizon=0)
    with pytest.raises(
        ValueError, match=r"target_columns must be column indices in \[0, 1\), got 3"
    ):
        sliding_windows(np.arange(5.0), 3, target_columns=[3])


def test_split_by_time():
    tr, va, te = split_by_time(np.arange(10), 0.6, 0.2)
    assert tr.tolist() == list(range(6)) and va.tolist() == [6, 7] and te.tolist() == [8, 9]
    tr, va, te = split_by_time(np.arange(10), 5, 2, overlap=2)
    assert va.tolist() == [3, 4, 5, 6] and te.tolist() == [5, 6, 7, 8, 9]
    df = pd.DataFrame({"y": range(6)}, index=pd.date_range("2024-01-01", periods=6, freq="D"))
    tr, va, te = split_by_time(df, "2024-01-03", "2024-01-05")
    assert len(tr) == 2 and len(va) == 2 and len(te) == 2
    trs, vas, _ = split_by_time([np.arange(10), np.arange(20)], 0.5)
    assert [len(t) for t in trs] == [5, 10] and [len(v) for v in vas] == [0, 0]
    with pytest.raises(ValueError, match=r"train must be a fraction in \[0, 1\], got 1.5"):
        split_by_time(np.arange(10), 1.5)
    with pytest.raises(ValueError, match="train \\+ val must fit in the 10 steps"):
        split_by_time(np.arange(10), 8, 5)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_scaler_fits_train_only_and_inverts(kind):
    rng = np.random.default_rng(0)
    series = rng.normal(5.0, 3.0, size=(200, 3))
    train, _, test = split_by_time(series, 0.7)
    scaler = Scaler(kind).fit(train)
    z = scaler.transform(train)
    if kind == "standard":
        np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(z.std(0), 1)
    else:
        np.testing.assert_allclose(z.min(0), 0)
        np.testing.assert_allclose(z.max(0), 1)
    # the test part is scaled with training statistics, not its own
    assert not np.allclose(scaler.transform(test).mean(0), Scaler(kind).fit_transform(test).mean(0))
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test)
    # windows (N, L, D) and tensors work the same way
    x, _ = sliding_windows(test, 5)
    t = torch.from_numpy(x)
    back = scaler.inverse_transform(scaler.transform(t))
    assert isinstance(back, torch.Tensor)
    torch.testing.assert_close(back, t, rtol=1e-5, atol=1e-5)
    again = Scaler.from_state_dict(scaler.state_dict())
    np.testing.assert_allclose(again.transform(test), scaler.transform(test))


def test_scaler_errors_and_constant_feature():
    s = Scaler().fit(np.ones((4, 1)))
    assert s.transform(np.ones((2, 1))).tolist() == [[0], [0]]
    with pytest.raises(RuntimeError, match="Scaler is not fitted"):
        Scaler().transform(np.ones(3))
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        Scaler().fit(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"x must have 1 features \(last axis\), got 2"):
        s.transform(np.ones((3, 2)))
    with pytest.raises(
        ValueError, match=r"kind must be one of \['standard', 'minmax'\], got 'robust'"
    ):
        Scaler("robust")


def test_naive_baselines_and_metrics():
    assert naive_forecast([1.0, 2.0, 3.0], 2).tolist() == [3.0, 3.0]
    assert seasonal_naive_forecast([1, 2, 3, 4], 3, season=2).tolist() == [3, 4, 3]
    windows = np.arange(24.0).reshape(2, 4, 3)  # (N, L, D)
    assert naive_forecast(windows, 2).shape == (2, 2, 3)
    np.testing.assert_array_equal(naive_forecast(windows, 2)[:, 0], windows[:, -1])
    assert seasonal_naive_forecast(windows, 5, season=4).shape == (2, 5, 3)
    assert mae([1, 2], [2, 4]) == 1.5 and mse([1, 2], [2, 4]) == 2.5 and rmse([0], [3]) == 3
    # MASE: MAE divided by the in-sample naive MAE (here 1 per step)
    assert mase([5, 6], [5, 8], y_train=[1, 2, 3, 4]) == pytest.approx(1.0)
    with pytest.raises(
        ValueError, match=r"y_pred must have the shape of y_true \(2,\), got \(3,\)"
    ):
        mae([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="history must hold at least season = 12 steps, got 4"):
        seasonal_naive_forecast([1, 2, 3, 4], 2, season=12)
    with pytest.raises(ValueError, match="MASE is undefined"):
        mase([1], [2], y_train=[3, 3, 3])


def test_geron_naive_baseline_level():
    """Géron ch. 15: the naive forecast on the sine series has a validation MSE near 0.020."""
    from deeprnn.data import generate_time_series

    series = generate_time_series(10_000, 51, generator=42)
    x_valid, y_valid = series[7000:9000, :50], series[7000:9000, -1]
    assert mse(y_valid, naive_forecast(x_valid)[:, 0]) == pytest.approx(0.020, abs=0.002)


@pytest.mark.data
def test_airline_passengers(shared_data):
    s = read_series(shared_data / "forecasting" / "airline-passengers.csv", time_column="Month")
    assert len(s) == 144 and s.target_names == ["Passengers"]  # monthly, 1949-1960
    assert s.time[0] == pd.Timestamp("1949-01-01") and s.time[-1] == pd.Timestamp("1960-12-01")
    y = s.targets[:, 0]
    train, _, test = split_by_time(y, 120)
    naive = mae(test, naive_forecast(train, 24))
    seasonal = mae(test, seasonal_naive_forecast(train, 24, season=12))
    assert seasonal < naive  # the yearly cycle matters
    assert mase(test, seasonal_naive_forecast(train, 24, 12), train, season=12) == pytest.approx(
        2.4935, abs=1e-3
    )
