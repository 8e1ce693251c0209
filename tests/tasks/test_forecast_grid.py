"""Time stamps on their grid: the irregular-steps error shows the true durations whatever the
stamps' unit (pandas 3 parses dates in microseconds), and ``data.freq`` puts a series with
missing dates onto its regular grid, the added rows' targets missing (masked with
``fill: {target: mask}``, never interpolated silently). Each test writes its own small CSV."""

from __future__ import annotations

import datetime as dt
import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.tasks import ForecastData
from deeprnn.tasks.forecast import tables
from deeprnn.training import fit, run_config_from_dict

START = dt.date(2021, 1, 1)
ABSENT = (40, 41)  # the days missing from the daily file


def daily(path, n: int = 120, absent=ABSENT, freq_days: int = 1):
    lines = ["date,value,temp"]
    for t in range(n):
        if t in absent:
            continue
        day = START + dt.timedelta(days=t * freq_days)
        value = 10 + 3 * math.sin(2 * math.pi * t / 7) + 0.01 * t
        lines.append(f"{day.isoformat()},{value:.4f},{math.cos(t / 5):.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def config(path, **over) -> dict:
    base = {"source": "csv", "path": str(path), "targets": ["value"], "covariates": ["temp"],
            "time_column": "date", "input_window": 14, "horizon": 2}  # fmt: skip
    base.update(over)
    return base


def data(path, **over) -> ForecastData:
    cfg = run_config_from_dict({"task": "forecast", "data": config(path, **over)}).data
    return ForecastData(cfg, batch_size=16, seed=0).prepare()


# -- the irregular-steps message -----------------------------------------------------------------
def test_irregular_steps_show_days_as_days(tmp_path):
    """pandas 3 reads dates as datetime64[us] (pandas 2 as [ns]); their int64 read as
    nanoseconds made one day ``0 days 00:01:26.4``. The file (whatever unit this pandas reads)
    and the same stamps in every unit say days."""
    with pytest.raises(ValueError) as e:
        data(daily(tmp_path / "d.csv"))
    msg = str(e.value)
    assert "irregular time steps: line 42 (2021-02-12 00:00:00) is 3 days 00:00:00 after " in msg
    assert "most steps are 1 days 00:00:00" in msg and "00:01:26" not in msg
    for unit in ("s", "ms", "us", "ns"):  # the same durations in every unit
        stamps = pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-04", "2021-01-05"])
        with pytest.raises(ValueError, match=r"is 2 days 00:00:00 .* most steps are 1 days"):
            tables.check_times(stamps.as_unit(unit).to_numpy(), np.arange(4) + 2, None, "f")


# -- data.freq: the series on its grid -----------------------------------------------------------
def test_freq_puts_missing_dates_on_the_grid_masked_not_interpolated(tmp_path, caplog):
    path = daily(tmp_path / "d.csv")
    fill = {"value": "mask", "temp": "ffill"}
    with caplog.at_level(logging.WARNING, logger="deeprnn.tasks.forecast"):
        dm = data(path, freq="D", fill=fill)
    assert "data.freq 'D': 2 missing time stamp(s) added (first 2021-02-10" in caplog.text
    assert dm.artifacts["freq"] == "D" and dm.artifacts["regrid"] is True
    w, h = 14, 2
    masked, seen = 0, 0
    for split in ("train", "val", "test"):
        for (_, start), (x, y) in zip(dm.window_starts[split], dm.splits[split]):
            assert torch.isfinite(x).all()  # the inputs are forward-filled
            for j in range(h):
                day = start + w + j  # the row of the grid = the day since START
                assert bool(torch.isnan(y[j, 0])) == (day in ABSENT), (split, start, j)
                masked += day in ABSENT
            if start < ABSENT[0] < start + w - 1:  # absent days inside an input: the last value
                seen += 1
                i = ABSENT[0] - start
                assert x[i, 0] == x[i - 1, 0] and x[i + 1, 0] == x[i - 1, 0]
    assert masked == 4 and seen > 0  # two days, each in the horizon of two windows
    # 120 days on the grid: the windows of a file with every day
    full = data(daily(tmp_path / "full.csv", absent=()), freq="D", fill=fill)
    assert dm.window_starts == full.window_starts


def test_freq_trains_and_predicts_a_gappy_history_on_its_grid(tmp_path):
    path = daily(tmp_path / "d.csv", n=90, absent=(30, 31))
    run = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"),
           "data": config(path, freq="D", fill={"value": "mask", "temp": "ffill"}),
           "model": {"rnn": {"hidden_size": 4, "num_layers": 1}},
           "trainer": {"max_epochs": 1, "batch_size": 16, "progress_bar": False,
                       "tensorboard": False, "num_threads": 1}}  # fmt: skip
    model = fit(run_config_from_dict(run)).model.eval()
    rows = [ln.split(",") for ln in path.read_text().splitlines()[1:]][-20:]
    records = [{"date": d, "value": v, "temp": c} for d, v, c in rows]
    gappy = records[:8] + records[10:]  # two dates left out of the history
    filled = records[:8] + [{**records[7], "date": records[i]["date"]} for i in (8, 9)]
    filled += records[10:]  # ... and the same dates holding the last value
    out, expected = model.predict_raw(gappy), model.predict_raw(filled)
    assert [r["value"] for r in out] == [r["value"] for r in expected]
    assert [r["time"] for r in out] == [r["time"] for r in expected]


def test_freq_errors_name_what_to_set(tmp_path):
    path = daily(tmp_path / "d.csv")
    with pytest.raises(ValueError) as e:
        data(path, freq="D")  # the added rows have no values: say which key fills them
    msg = str(e.value)
    assert "data.freq 'D': 2 missing time stamp(s) added (first 2021-02-10 00:00:00, after " in msg
    assert "set data.fill for ['value', 'temp'] (not 'drop')" in msg and "mask" in msg
    with pytest.raises(ValueError, match=r"set data.fill for \['value', 'temp'\] \(not 'drop'\)"):
        data(path, freq="D", fill="drop")  # dropping them would leave the grid again
    odd = daily(tmp_path / "odd.csv", absent=())
    lines = odd.read_text().splitlines()
    text = "\n".join([lines[0]] + [ln.replace(",", " 00:00,", 1) for ln in lines[1:]])
    odd.write_text(text.replace("2021-01-05 00:00,", "2021-01-05 12:00,") + "\n")
    with pytest.raises(ValueError, match=r"line 6 \(2021-01-05 12:00:00\) is off the 'D' grid"):
        data(odd, freq="D", fill="ffill")
    with pytest.raises(ValueError, match=r"data.freq: not a pandas frequency: 'daily'"):
        data(path, freq="daily", fill="ffill")
