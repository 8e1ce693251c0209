"""Tables as distributed (:mod:`deeprnn.tasks.forecast.tables`): delimiter sniffing, BOM, CRLF, decimal
commas, gaps and their fill policies, text columns, calendar features and time checks. Each
test writes its own small CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deeprnn.tasks.forecast import tables as sio


def _write(tmp_path, text: str, name: str = "t.csv", newline: str = "\n", bom: bool = False):
    path = tmp_path / name
    raw = text.replace("\n", newline).encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + raw if bom else raw)
    return path


TABLE = "date,y,x\n2020-01-01,1.5,2\n2020-01-02,2.5,3\n2020-01-03,3.5,4\n"


@pytest.mark.parametrize(
    "layout",
    [
        {},
        {"bom": True},
        {"newline": "\r\n"},
        {"bom": True, "newline": "\r\n"},
    ],
)
def test_bom_and_crlf_read_the_same_table(tmp_path, layout):
    frame = sio.read_table(_write(tmp_path, TABLE, **layout))
    assert list(frame.columns) == ["date", "y", "x"]
    assert frame["y"].tolist() == [1.5, 2.5, 3.5]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_the_delimiter_is_sniffed(tmp_path, sep):
    frame = sio.read_table(_write(tmp_path, TABLE.replace(",", sep)))
    assert list(frame.columns) == ["date", "y", "x"] and frame["x"].tolist() == [2, 3, 4]


def test_semicolons_with_decimal_commas(tmp_path):
    text = "date;y;x\n2020-01-01;1,5;2\n2020-01-02;2,25;3\n"
    frame = sio.read_table(_write(tmp_path, text))
    assert frame["y"].tolist() == [1.5, 2.25]


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"data.path: file not found"):
        sio.read_table(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"empty file"):
        sio.read_table(_write(tmp_path, ""))


def test_numeric_column_names_the_line_and_the_fix():
    lines = np.arange(4) + 2
    col = pd.Series(["1", "NA", "", "x2"], dtype=object)
    with pytest.raises(ValueError, match=r"column 'v' line 5: 'x2' is not a number .*categorical"):
        sio.numeric_column(col, "v", lines, "data.path f.csv")
    with pytest.raises(
        ValueError, match=r"line 5: 'x2' is not a number \(1 such value\(s\)\); fix"
    ):
        sio.numeric_column(col, "v", lines, "f.csv", covariate=False)
    ok = sio.numeric_column(col.iloc[:3], "v", lines, "f.csv")
    assert ok.iloc[0] == 1.0 and ok.iloc[1:].isna().all()


def test_gaps_name_only_the_columns_that_have_them():
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    lines = np.arange(4) + 2
    with pytest.raises(ValueError) as e:
        sio.fill_gaps(frame, ["a", "b"], None, lines, "data.path f.csv")
    msg = str(e.value)
    assert "'a' (2, first at line 3)" in msg and "'b'" not in msg.split(";")[0]
    assert "set data.fill" in msg and "{a: interpolate}" in msg


@pytest.mark.parametrize(
    ("fill", "expected", "rows"),
    [
        ("ffill", [1.0, 1.0, 1.0, 4.0], 4),
        ("interpolate", [1.0, 2.0, 3.0, 4.0], 4),
        ("zero", [1.0, 0.0, 0.0, 4.0], 4),
        ("drop", [1.0, 4.0], 2),
        ({"a": "interpolate"}, [1.0, 2.0, 3.0, 4.0], 4),
    ],
)
def test_fill_policies(fill, expected, rows):
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    out, lines = sio.fill_gaps(frame, ["a", "b"], fill, np.arange(4) + 2, "f.csv")
    assert out["a"].tolist() == expected and len(lines) == rows


def test_fill_mapping_is_checked():
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, 2.0]})
    lines = np.arange(2) + 2
    with pytest.raises(ValueError, match=r"missing values in 'b' \(1, first at line 2\)"):
        sio.fill_gaps(frame, ["a", "b"], {"a": "ffill"}, lines, "f.csv")
    with pytest.raises(ValueError, match=r"data.fill: 'c' is not a numeric target or covariate"):
        sio.fill_gaps(frame, ["a", "b"], {"c": "ffill"}, lines, "f.csv")
    with pytest.raises(ValueError, match=r"data.fill.a must be one of .*did you mean 'ffill'"):
        sio.fill_gaps(frame, ["a", "b"], {"a": "fill"}, lines, "f.csv")


def test_text_columns_and_one_hot():
    col = pd.Series(["NE", "cv", None, "SE", "NE"])
    assert sio.is_text_column(col) and not sio.mostly_numbers(col)
    assert sio.mostly_numbers(pd.Series(["1"] * 9 + ["x"]))
    cats = sio.fit_categories(col)
    assert cats == ["NE", "SE", "cv"]
    hot = sio.one_hot(pd.Series(["SE", "NW", None]), cats)  # unseen / missing: all zeros
    np.testing.assert_array_equal(hot, [[0, 1, 0], [0, 0, 0], [0, 0, 0]])


def test_calendar_features_are_sin_cos_pairs():
    stamps = pd.date_range("2020-01-01", periods=48, freq="h")
    f = sio.time_features(stamps, ["hour", "dayofweek", "month", "dayofyear"])
    assert f.shape == (48, 8)
    assert sio.time_feature_names(["hour"]) == ["hour_sin", "hour_cos"]
    np.testing.assert_allclose(f[0, :2], [0.0, 1.0], atol=1e-6)  # hour 0
    np.testing.assert_allclose(f[6, 0], 1.0, atol=1e-6)  # hour 6: a quarter turn
    np.testing.assert_allclose(f[:, 0] ** 2 + f[:, 1] ** 2, 1.0, rtol=1e-5)


def test_time_from_parts():
    frame = pd.DataFrame({"year": [2010, 2010], "month": [1, 1], "day": [1, 1], "hour": [0, 1]})
    stamps = sio.assemble_time(frame, ["year", "month", "day", "hour"], np.array([2, 3]), "w")
    assert str(pd.Timestamp(stamps[1])) == "2010-01-01 01:00:00"
    frame.loc[1, "month"] = 13
    with pytest.raises(
        ValueError, match=r"w: line 3: year=2010, month=13, day=1, hour=1 is not a valid date"
    ):
        sio.assemble_time(frame, ["year", "month", "day", "hour"], np.array([2, 3]), "w")


def test_time_checks_name_the_rows():
    lines = np.arange(5) + 2
    hourly = pd.date_range("2020-01-01", periods=5, freq="h").to_numpy()
    assert sio.check_times(hourly, lines, None, "f.csv") == "h"
    dup = hourly.copy()
    dup[3] = dup[2]
    with pytest.raises(ValueError, match=r"line 5 .* repeats the time of line 4; sort the file"):
        sio.check_times(dup, lines, None, "f.csv")
    back = hourly[[0, 1, 3, 2, 4]]
    with pytest.raises(ValueError, match=r"line 5 .* goes back in time from line 4"):
        sio.check_times(back, lines, None, "f.csv")
    gap = np.delete(pd.date_range("2020-01-01", periods=8, freq="h").to_numpy(), 4)
    with pytest.raises(ValueError, match=r"irregular time steps: line 6 .*set data.freq"):
        sio.check_times(gap, np.arange(7) + 2, None, "f.csv")
    with pytest.raises(ValueError, match=r"line 6 .* is off the 'h' grid"):
        sio.check_times(gap, np.arange(7) + 2, "h", "f.csv")
    with pytest.raises(ValueError, match=r"data.freq: not a pandas frequency: 'hourly'"):
        sio.check_times(hourly, lines, "hourly", "f.csv")
    assert sio.next_times(hourly[-1], "h", 2) == ["2020-01-01 05:00:00", "2020-01-01 06:00:00"]
