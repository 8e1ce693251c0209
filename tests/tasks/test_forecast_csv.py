"""A forecast from a CSV as distributed (an hourly air-quality table: an index column,
year / month / day / hour columns, ``NA`` gaps in the target, a text wind-direction column,
numeric covariates): ``data.fill``, one-hot covariates, calendar features, the time and its
frequency, dated forecasts, and every bad layout as a one-line error. Each test writes its own
small CSV."""

from __future__ import annotations

import datetime as dt
import logging
import math
import random

import pytest
import torch

from deeprnn._schema import apply_overrides, parse_value
from deeprnn.cli.predict import write_records
from deeprnn.tasks import Forecast, ForecastData
from deeprnn.training import run_config_from_dict

HEADER = "No,year,month,day,hour,pm2.5,DEWP,TEMP,cbwd,Iws"


def air_rows(n: int = 160, seed: int = 0, start=dt.datetime(2010, 1, 1)) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        t = start + dt.timedelta(hours=i)
        pm = "NA" if i in (0, 1, 40) else f"{50 + 30 * math.sin(i / 4) + rng.gauss(0, 2):.1f}"
        wind = rng.choice(["NE", "NW", "SE", "cv"])
        rows.append(
            f"{i + 1},{t.year},{t.month},{t.day},{t.hour},{pm},{rng.randint(-12, -8)},"
            f"{rng.randint(-7, -3)},{wind},{rng.random() * 10:.2f}"
        )
    return rows


def write(path, rows, header=HEADER, sep=",", newline="\n", bom=False):
    text = newline.join([header, *rows]).replace(",", sep) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def data(path, **cfg) -> ForecastData:
    base = {
        "source": "csv",
        "path": str(path),
        "targets": ["pm2.5"],
        "covariates": ["DEWP", "TEMP", "cbwd", "Iws"],
        "input_window": 12,
        "horizon": 3,
        "fill": {"pm2.5": "interpolate"},
        "time_columns": ["year", "month", "day", "hour"],
    }
    base.update(cfg)
    config = run_config_from_dict({"task": "forecast", "data": base}).data
    return ForecastData(config, batch_size=8, seed=0).prepare()


# -- 1. missing values ---------------------------------------------------------------------------
def test_gaps_error_names_only_the_gappy_columns_and_the_key(tmp_path):
    path = write(tmp_path / "aq.csv", air_rows())
    with pytest.raises(ValueError) as e:
        data(path, fill=None)
    msg = str(e.value)
    assert "\n" not in msg
    assert "missing values in 'pm2.5' (3, first at line 2); set data.fill" in msg
    for clean in ("DEWP", "TEMP", "Iws"):
        assert clean not in msg


def _pm(rows) -> list[float | None]:
    """The pm2.5 column of ``air_rows`` as written (None where it is NA)."""
    return [None if r.split(",")[5] == "NA" else float(r.split(",")[5]) for r in rows]


def _series(dm, split="train") -> tuple[dict[int, float], dict[int, float]]:
    """The target as the model sees it, row by row, unscaled: the inputs (row -> value) and
    the truth the loss compares with (row -> value, NaN where masked), read from the windows."""
    w, inputs, truth = dm.artifacts["input_window"], {}, {}
    shift, scale = dm.scaler.shift_[0], dm.scaler.scale_[0]
    for (_, start), (x, y) in zip(dm.window_starts[split], dm.splits[split]):
        for i in range(w):
            inputs[start + i] = float(x[i, 0]) * scale + shift
        for j in range(len(y)):
            truth[start + w + j] = float(y[j, 0]) * scale + shift
    return inputs, truth


def _trained_losses(dm) -> tuple[float, float]:
    """The mean training loss before and after two epochs of Adam on ``dm``."""
    torch.manual_seed(0)
    model = Forecast({"rnn": {"hidden_size": 8}}, dm.artifacts)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def mean_loss() -> float:
        with torch.no_grad():
            return sum(float(model.step(b, "val")[0]) for b in dm.train_dataloader()) / len(
                dm.train_dataloader()
            )

    before = mean_loss()
    for _ in range(2):
        for batch in dm.train_dataloader():
            opt.zero_grad()
            model.step(batch, "train")[0].backward()
            opt.step()
    return before, mean_loss()


FILLS = ["ffill", "interpolate", "zero", "drop", {"pm2.5": "ffill"}, {"pm2.5": "mask"}]


@pytest.mark.parametrize("fill", FILLS, ids=["ffill", "interpolate", "zero", "drop", "map", "mask"])
def test_every_fill_policy_trains(tmp_path, fill):
    """Each policy does to the gaps (pm2.5 rows 0, 1 and 40) what it says, and a model trains
    on the result: a finite loss that goes down (issue 26 item 13: this only checked that the
    first window was finite)."""
    rows = air_rows()
    pm = _pm(rows)
    dm = data(write(tmp_path / "aq.csv", rows), fill=fill)
    assert dm.artifacts["fill"] == fill
    inputs, truth = _series(dm)
    policy = fill["pm2.5"] if isinstance(fill, dict) else fill
    if policy == "drop":  # the gap rows are gone: every later row moves up
        kept = [v for v in pm if v is not None]
        assert [inputs[i] for i in sorted(inputs)] == pytest.approx(kept[: len(inputs)], abs=1e-3)
        assert len(dm.splits["train"]) == 98 - 2  # 160 - 3 rows cut the same way: 2 windows fewer
    else:
        filled = {
            "ffill": (pm[2], pm[39]),  # the first rows take the first value (then back-filled)
            "mask": (pm[2], pm[39]),  # as an input a masked target is forward-filled
            "interpolate": (pm[2], (pm[39] + pm[41]) / 2),
            "zero": (0.0, 0.0),
        }[policy]
        expected = [*(filled[0],) * 2, *pm[2:40], filled[1], *pm[41:]]
        assert [inputs[i] for i in sorted(inputs)] == pytest.approx(
            expected[: len(inputs)], abs=1e-3
        )
        assert len(dm.splits["train"]) == 98
    gaps = {i for i, v in truth.items() if math.isnan(v)}
    assert gaps == ({40} if policy == "mask" else set())  # the loss skips exactly the gap
    before, after = _trained_losses(dm)
    assert math.isfinite(before) and math.isfinite(after)
    assert after < before


def test_fill_through_the_config_and_command_line():
    cfg = apply_overrides(
        {"task": "forecast", "data": {"source": "csv", "path": "x.csv"}},
        [("data.fill", parse_value("{pm2.5: interpolate}"))],
    )
    assert run_config_from_dict(cfg).data.fill == {"pm2.5": "interpolate"}
    cfg["data"]["fill"] = "ffil"
    with pytest.raises(ValueError, match=r"data.fill must be one of .*did you mean 'ffill'"):
        run_config_from_dict(cfg)


# -- 2. covariates of every kind -----------------------------------------------------------------
def test_text_columns_are_one_hot_from_the_train_rows(tmp_path, caplog):
    rows = air_rows()
    rows[-1] = rows[-1].replace(",cv,", ",NNE,").replace(",NE,", ",NNE,").replace(",SE,", ",NNE,")
    rows[-1] = rows[-1].replace(",NW,", ",NNE,")  # a category seen only in the test rows
    with caplog.at_level(logging.WARNING, logger="deeprnn.tasks.forecast"):
        dm = data(write(tmp_path / "aq.csv", rows), time_features=["hour", "dayofweek"])
    art = dm.artifacts
    assert art["categories"] == {"cbwd": ["NE", "NW", "SE", "cv"]}
    assert (
        "column 'cbwd' is categorical (not numeric, or named in data.categorical): one-hot encoded into 4 columns"
        in caplog.text
    )
    assert art["covariates"] == [
        "DEWP", "TEMP", "cbwd=NE", "cbwd=NW", "cbwd=SE", "cbwd=cv", "Iws",
        "hour_sin", "hour_cos", "dayofweek_sin", "dayofweek_cos",
    ]  # fmt: skip
    x, _ = dm.splits["train"][0]
    assert x.shape == (15, 1 + len(art["covariates"]))
    model = Forecast(artifacts=art)
    assert model.n_features == 12


def test_numeric_codes_listed_as_categorical(tmp_path):
    dm = data(write(tmp_path / "aq.csv", air_rows()), categorical=["DEWP"])
    assert dm.artifacts["categories"]["DEWP"] == ["-10", "-11", "-12", "-8", "-9"]
    with pytest.raises(
        ValueError, match=r"data.categorical: \['nope'\] are not in data.covariates"
    ):
        data(write(tmp_path / "aq.csv", air_rows()), categorical=["nope"])


def test_time_features_need_a_time(tmp_path):
    with pytest.raises(ValueError, match=r"data.time_features needs \S*data.time_column"):
        data(tmp_path / "aq.csv", time_columns=None, time_features=["hour"])
    with pytest.raises(ValueError, match=r"data.time_features must be one of .*'hour'"):
        data(tmp_path / "aq.csv", time_features=["hours"])


# -- 3. time -------------------------------------------------------------------------------------
def test_time_from_parts_and_inferred_frequency(tmp_path):
    path = write(tmp_path / "aq.csv", air_rows())
    dm = data(path)
    assert dm.artifacts["freq"] == "h"
    split = data(path, split={"train": "2010-01-05", "val": "2010-01-06"})
    assert split.window_starts["val"][0] == ("0", 96 - 12)  # 4 days of hours
    with pytest.raises(
        ValueError, match=r"set \S*data.time_column or \S*data.time_columns, not both"
    ):
        data(path, time_column="No")


def test_duplicated_out_of_order_and_irregular_times_name_the_lines(tmp_path):
    rows = air_rows(60)
    dup = [*rows[:30], rows[29], *rows[30:]]
    with pytest.raises(ValueError, match=r"line 32 .* repeats the time of line 31; sort the file"):
        data(write(tmp_path / "a.csv", dup))
    swapped = [*rows[:20], rows[21], rows[20], *rows[22:]]
    with pytest.raises(ValueError, match=r"line 23 .* goes back in time from line 22"):
        data(write(tmp_path / "b.csv", swapped))
    gap = rows[:25] + rows[27:]
    with pytest.raises(ValueError, match=r"irregular time steps: line 27 .*set data.freq"):
        data(write(tmp_path / "c.csv", gap))
    with pytest.raises(ValueError, match=r"'h': 2 missing time stamp\(s\) added .* after line 26"):
        data(write(tmp_path / "c.csv", gap), freq="h")  # data.freq: the rows to fill


# -- 4. dated output -----------------------------------------------------------------------------
def test_predict_forecasts_the_steps_after_the_last_row_with_their_times(tmp_path):
    import csv
    import io

    dm = data(write(tmp_path / "aq.csv", air_rows()), time_features=["hour"])
    model = Forecast(artifacts=dm.artifacts).eval()
    history = air_rows(30, seed=1, start=dt.datetime(2011, 3, 1))
    history[-5] = history[-5].replace(",cv,", ",XX,").replace(",NE,", ",XX,")  # unseen: zeros
    records = list(csv.DictReader(io.StringIO("\n".join([HEADER, *history]))))
    out = model.predict_raw(records)
    assert [r["time"] for r in out] == [
        "2011-03-02 06:00:00",
        "2011-03-02 07:00:00",
        "2011-03-02 08:00:00",
    ]
    assert [r["step"] for r in out] == [1, 2, 3] and all(math.isfinite(r["pm2.5"]) for r in out)
    target = tmp_path / "forecast.csv"
    write_records(out, str(target), "csv")
    lines = target.read_text().splitlines()
    assert lines[0] == "series,step,time,pm2.5" and len(lines) == 4
    assert lines[1].startswith("0,1,2011-03-02 06:00:00,")


def test_predict_without_a_time_has_no_timestamps(tmp_path):
    dm = data(write(tmp_path / "aq.csv", air_rows()), time_columns=None, covariates=["Iws"])
    records = [{"pm2.5": str(50 + i), "Iws": "1.0"} for i in range(12)]
    out = Forecast(artifacts=dm.artifacts).eval().predict_raw(records)
    assert len(out) == 3 and "time" not in out[0]


# -- 5. bad layouts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layout",
    [
        {"bom": True},
        {"sep": ";"},
        {"sep": "\t"},
        {"newline": "\r\n"},
        {"bom": True, "sep": ";", "newline": "\r\n"},
    ],
)
def test_layouts_that_train(tmp_path, layout):
    dm = data(write(tmp_path / "aq.csv", air_rows(), **layout))
    plain = data(write(tmp_path / "plain.csv", air_rows()))
    assert dm.window_starts == plain.window_starts
    torch.testing.assert_close(dm.splits["train"][0][0], plain.splits["train"][0][0])


def test_a_mixed_type_column_names_the_column_line_and_fix(tmp_path):
    rows = air_rows()
    rows[50] = rows[50].replace(rows[50].split(",")[6], "n/a?", 1)
    with pytest.raises(ValueError) as e:
        data(write(tmp_path / "aq.csv", rows))
    msg = str(e.value)
    assert "column 'DEWP' line 52: 'n/a?' is not a number" in msg and "\n" not in msg
    assert "leave them empty" in msg and "data.categorical" in msg
    rows = air_rows()
    rows[60] = rows[60].replace(rows[60].split(",")[5], "high", 1)  # the target
    with pytest.raises(ValueError, match=r"column 'pm2.5' line 62: 'high' is not a number"):
        data(write(tmp_path / "aq.csv", rows))


def test_a_bad_time_value_names_the_line(tmp_path):
    rows = air_rows(40)
    rows[10] = rows[10].replace(",2010,1,1,", ",2010,1,32,", 1)
    with pytest.raises(ValueError, match=r"line 12: year=2010, month=1, day=32, hour=10 is not"):
        data(write(tmp_path / "aq.csv", rows))
    text = ["date,pm2.5", "2020-01-01 00:00,1", "yesterday,2", "2020-01-01 02:00,3"]
    (tmp_path / "d.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=r"time_column 'date' line 3: cannot read 'yesterday'"):
        data(tmp_path / "d.csv", covariates=[], time_columns=None, time_column="date")


def test_train_and_predict_from_the_command_line(tmp_path, capsys):
    from deeprnn.cli import main

    path = write(tmp_path / "aq.csv", air_rows(120))
    run = tmp_path / "run"
    argv = ["train", "--task", "forecast", "--data.source", "csv", "--data.path", str(path)]
    argv += ["--data.targets", "[pm2.5]", "--data.covariates", "[DEWP, cbwd]"]
    argv += [
        "--data.fill",
        "{pm2.5: interpolate}",
        "--data.time_columns",
        "[year, month, day, hour]",
    ]
    argv += ["--data.time_features", "[hour]", "--data.input_window", "12", "--data.horizon", "2"]
    argv += ["--model.rnn.hidden_size", "4", "--model.rnn.num_layers", "1", "--out_dir", str(run)]
    argv += ["--trainer.max_epochs", "1", "--trainer.progress_bar", "false"]
    argv += ["--trainer.tensorboard", "false", "--trainer.num_threads", "1"]
    assert main(argv) == 0
    history = write(tmp_path / "history.csv", air_rows(20, seed=2))
    capsys.readouterr()
    assert main(["predict", str(run / "model"), "-i", str(history), "--output-format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "series,step,time,pm2.5"
    assert [ln.split(",")[2] for ln in lines[1:]] == ["2010-01-01 20:00:00", "2010-01-01 21:00:00"]
