"""Probabilistic forecasting: the likelihood and quantile heads, CRPS / coverage beside the
seasonal-naive empirical quantiles, ``--quantiles`` at predict time and the shaded plot."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from _tiny import QUIET
from test_forecast_recipes import write_hourly

from deeprnn.tasks import Forecast
from deeprnn.tasks.forecast import distributions as D
from deeprnn.training import fit, run_config_from_dict

ART = {"targets": ["a"], "covariates": [], "input_window": 12, "horizon": 4, "seasonality": 4}


# -- the distributions -------------------------------------------------------------------------
def test_gaussian_quantiles_and_crps_match_the_closed_forms():
    loc, scale = torch.tensor([[[1.0]]]), torch.tensor([[[2.0]]])
    dist = D.Predictive("gaussian", {"loc": loc, "scale": scale})
    q = dist.quantiles((0.1, 0.5, 0.9))[:, 0, 0, 0]
    z = 1.2815515655446004  # the 0.9 quantile of N(0, 1)
    assert q.tolist() == pytest.approx([1 - 2 * z, 1.0, 1 + 2 * z], abs=1e-5)
    # CRPS of N(mu, s) at y: s (w (2 Phi(w) - 1) + 2 phi(w) - 1 / sqrt(pi)), w = (y - mu) / s
    y = torch.tensor([[[2.5]]])
    w = 0.75
    phi = math.exp(-w * w / 2) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + math.erf(w / math.sqrt(2)))
    exact = 2.0 * (w * (2 * Phi - 1) + 2 * phi - 1 / math.sqrt(math.pi))
    levels = tuple(i / 100 for i in range(1, 100))
    approx = float(D.crps(y, dist.quantiles(levels), levels))
    assert approx == pytest.approx(exact, rel=0.03)


def test_sampled_quantiles_are_seeded_and_leave_the_global_stream_alone():
    p = {
        "df": torch.full((2, 3, 1), 50.0),
        "loc": torch.zeros(2, 3, 1),
        "scale": torch.ones(2, 3, 1),
    }
    dist = D.Predictive("student_t", p)
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    a = dist.quantiles((0.1, 0.9), seed=3)
    assert torch.equal(torch.rand(1), before)  # the global generator did not move
    assert torch.equal(a, dist.quantiles((0.1, 0.9), seed=3))
    # 50 degrees of freedom are nearly normal: q0.9 ~ 1.28 (400 samples)
    assert float(a[1].mean()) == pytest.approx(1.2816, abs=0.2)


def test_heads_map_raw_outputs_to_valid_parameters_through_revin_and_the_baseline():
    raw = torch.randn(3, 4, 2, 3) * 5
    affine = lambda t: 2.0 * t + 1.0  # noqa: E731 - RevIN's inverse is an increasing affine map
    shift = torch.full((3, 4, 2), 0.5)
    g = D.build("gaussian", raw[..., :2], (), shift=shift, denormalise=affine)
    assert torch.allclose(g.params["loc"], 2 * (raw[..., 0] + 0.5) + 1)
    expected = 2 * (torch.nn.functional.softplus(raw[..., 1]) + D.MIN_SCALE)
    assert torch.allclose(g.params["scale"], expected, atol=1e-5)
    t = D.build("student_t", raw, ())
    assert bool((t.params["df"] > 2).all()) and bool((t.params["scale"] > 0).all())
    q = D.build("quantile", raw, (0.1, 0.5, 0.9), shift=shift, denormalise=affine)
    assert bool((q.params["q"][1:] >= q.params["q"][:-1]).all())  # kept in order
    nb = D.build("negative_binomial", raw[..., :2], (), count_scale=torch.full((3, 1, 2), 9.0))
    assert nb.space == "original" and bool((nb.params["mu"] > 0).all())
    counts = nb.quantiles((0.5,))
    assert torch.equal(counts, counts.round())  # samples of a count distribution


def test_quantile_levels_interpolate_inside_the_trained_range_only():
    q = torch.tensor([[0.0], [10.0], [20.0]])  # levels 0.1, 0.5, 0.9
    got = D.interpolate_levels(q, (0.1, 0.5, 0.9), (0.3, 0.9))
    assert got[:, 0].tolist() == pytest.approx([5.0, 20.0])
    with pytest.raises(ValueError, match=r"quantile 0.95 is outside the levels .*0.1 .. 0.9"):
        D.interpolate_levels(q, (0.1, 0.5, 0.9), (0.95,))


def test_naive_quantiles_centre_on_the_seasonal_naive_and_widen_by_season():
    past = torch.tensor([float(i % 4) + 0.1 * (i % 3) for i in range(16)])[None, :, None]
    q = D.naive_quantiles(past, 4, 8, (0.1, 0.5, 0.9))  # (3, 1, 8, 1)
    snaive = past[0, -4:, 0].repeat(2)
    assert torch.allclose(q[1, 0, :, 0], snaive, atol=1e-6)  # the median is the point forecast
    width = q[2, 0, :, 0] - q[0, 0, :, 0]
    assert torch.allclose(width[4:], width[:4] * math.sqrt(2))  # second season: sqrt(2) wider


def test_coverage_and_pinball():
    y = torch.tensor([[[0.0], [1.0], [5.0]]])
    lo, hi = torch.zeros_like(y), torch.full_like(y, 2.0)
    assert D.coverage(y, lo, hi).flatten().tolist() == [1.0, 1.0, 0.0]
    loss = D.pinball(torch.tensor([[[1.0]]]), torch.tensor([[[[0.0]]], [[[2.0]]]]), (0.1, 0.9))
    assert loss.flatten().tolist() == pytest.approx([0.1, 0.1])


@pytest.mark.parametrize(
    ("model", "match"),
    [
        ({"likelihood": "gaussian", "mode": "autoregressive"}, r"likelihood='gaussian' needs"),
        ({"likelihood": "negative_binomial", "revin": True}, r"set config.model.revin false"),
        ({"likelihood": "quantile", "quantiles": [0.6, 0.9]}, r"must span the median"),
        ({"likelihood": "quantile", "quantiles": [0.5, 0.1]}, r"must be increasing"),
        ({"quantiles": [0.0, 0.5]}, r"levels in \(0, 1\), got 0.0"),
        ({"likelihood": "poisson"}, r"likelihood"),
    ],
)
def test_bad_likelihood_settings_are_one_line_errors(model, match):
    cfg = {"task": "forecast", "model": model}
    with pytest.raises(ValueError, match=match):
        run_config_from_dict(cfg)


# -- trained end to end ------------------------------------------------------------------------
def write_ar(path, rows: int = 480, seed: int = 0):
    """CSV date,a,b,t: daily seasons plus AR(1) noise (phi 0.9), which the last values predict
    and the seasonal-naive forecast does not."""
    rng = np.random.default_rng(seed)
    lines, e = ["date,a,b,t"], np.zeros(2)
    for i in range(rows):
        e = 0.9 * e + rng.normal(0, 0.3, size=2)
        day = 2 * math.pi * i / 24
        stamp = f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00:00"
        a, b = 5 + 2 * math.sin(day) + e[0], -3 + math.cos(day) + e[1]
        lines.append(f"{stamp},{a:.4f},{b:.4f},{math.cos(day):.4f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(tmp_path, model, data=None, epochs=12):
    d = {
        "source": "csv",
        "path": str(write_ar(tmp_path / "s.csv")),
        "targets": ["a", "b"],
        "input_window": 48,
        "horizon": 6,
        "seasonality": 24,
        "split": {"train": 288, "val": 96, "test": 96},
        **(data or {}),
    }
    cfg = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"), "data": d}
    cfg["trainer"] = {**QUIET, "max_epochs": epochs}
    cfg["optim"] = {"lr": 1e-2}
    cfg["model"] = {"rnn": {"hidden_size": 16, "num_layers": 1}, **model}
    return fit(run_config_from_dict(copy.deepcopy(cfg)))


@pytest.mark.parametrize("likelihood", ["gaussian", "student_t", "quantile"])
def test_a_probabilistic_forecaster_reports_crps_and_coverage_beside_the_baseline(
    tmp_path, likelihood
):
    result = _run(tmp_path, {"likelihood": likelihood, "revin": True})
    m = result.metrics
    for who in ("", "snaive_"):
        for name in ("crps_scaled", "crps", "coverage_80"):
            assert math.isfinite(m[f"test_{who}{name}"])
        assert 0.0 <= m[f"test_{who}coverage_80"] <= 1.0
    assert m["test_crps_scaled"] < m["test_snaive_crps_scaled"]  # it reads the AR(1) part
    assert m["test_mse_scaled"] < m["test_naive_mse_scaled"]
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["test_crps"] == pytest.approx(m["test_crps"])
    history = [{"date": f"2021-01-01 {i % 24:02d}:00:00", "a": 5 + math.sin(i / 4), "b": -3.0,
                "t": 0.0} for i in range(48)]  # fmt: skip
    rows = result.model.predict_raw(history, quantiles=[0.1, 0.5, 0.9])
    assert len(rows) == 6
    for r in rows:
        assert r["a_q0.1"] <= r["a_q0.5"] <= r["a_q0.9"]
        assert r["a_q0.5"] == pytest.approx(r["a"], abs=0.05 if likelihood != "gaussian" else 1e-4)


def test_negative_binomial_trains_on_counts_and_refuses_negative_targets(tmp_path):
    lines = ["date,a"]
    for i in range(400):
        rate = 6 + 4 * math.sin(2 * math.pi * i / 24)
        lines.append(
            f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00:00,{np.random.default_rng(i).poisson(rate)}"
        )
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    data = {"path": str(tmp_path / "c.csv"), "targets": ["a"], "scaler": "none",
            "split": {"train": 240, "val": 80, "test": 80}}  # fmt: skip
    m = _run(tmp_path, {"likelihood": "negative_binomial", "revin": False}, data).metrics
    assert 0.5 <= m["test_coverage_80"] <= 1.0
    assert math.isfinite(m["test_crps"]) and m["test_crps"] < m["test_snaive_crps"] * 1.2
    (tmp_path / "neg").mkdir()
    bad = {"path": str(write_hourly(tmp_path / "neg.csv", rows=480)), "targets": ["b"],
           "scaler": "none"}  # fmt: skip
    with pytest.raises(ValueError, match="negative_binomial' needs non-negative counts"):
        _run(tmp_path / "neg", {"likelihood": "negative_binomial", "revin": False}, bad, epochs=1)


def test_quantiles_at_predict_time_need_a_probabilistic_model():
    model = Forecast({}, {**ART})
    with pytest.raises(ValueError, match="quantiles need a probabilistic model"):
        model.predict_raw([{"a": 1.0}] * 12, quantiles=[0.1, 0.9])


def test_the_cli_predicts_quantiles_and_the_report_shades_the_interval(tmp_path, capsys):
    from deeprnn.cli import main
    from deeprnn.report.predictions import load_run_data, load_run_model, predict_split

    _run(tmp_path, {"likelihood": "gaussian"}, epochs=2)
    hist = tmp_path / "hist.csv"
    hist.write_text(
        "date,a,b,t\n"
        + "".join(
            f"2021-01-01 {i % 24:02d}:00:00,{5 + math.sin(i / 4):.3f},-3,0\n" for i in range(48)
        )
    )
    capsys.readouterr()
    args = [
        "predict",
        str(tmp_path / "run" / "model"),
        "--input",
        str(hist),
        "--quantiles",
        "0.1",
        "0.9",
    ]
    assert main(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 6 and {"a_q0.1", "a_q0.9", "b_q0.1", "b_q0.9"} <= set(rows[0])
    assert main([*args[:4], "--quantiles", "1.5"]) == 2
    assert "quantiles must hold levels in (0, 1), got 1.5" in capsys.readouterr().err
    model = load_run_model(tmp_path / "run")
    preds = predict_split(model, load_run_data(tmp_path / "run", model))
    lo, hi = preds.interval
    assert lo.shape == preds.forecast[2].shape and bool((lo <= hi).all())


def test_seasonal_naive_is_the_last_season_repeated_per_row():
    past = torch.arange(2 * 7 * 1, dtype=torch.float32).view(2, 7, 1)  # rows 0..6, 7..13
    out = D.seasonal_naive(past, 3, 5)
    assert out[0, :, 0].tolist() == [4, 5, 6, 4, 5]
    assert D.seasonal_naive(past, 1, 2)[:, :, 0].tolist() == [[6, 6], [13, 13]]
    ragged = D.seasonal_naive(past, 3, 4, lengths=torch.tensor([7, 5]))  # row 1 ends at 11
    assert ragged[1, :, 0].tolist() == [9, 10, 11, 9]
    q = D.naive_quantiles(past, 3, 5, (0.5,))
    torch.testing.assert_close(q[0], out)  # centred differences: the median is the point
