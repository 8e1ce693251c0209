"""The forecasting ensemble (``model.ensemble: k``): averaging k identical members is the single
forecaster (every encoder and head shape), each member trains on exactly its own gradient, the
members differ, and an ensemble trains, exports and predicts through the CLI's path."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from deeprnn.export import export_folder, load_exported
from deeprnn.tasks import Forecast
from deeprnn.training import fit, run_config_from_dict

W, H = 12, 3


def _art(targets=("a", "b"), covariates=("c",), **more) -> dict:
    return {"targets": list(targets), "covariates": list(covariates), "input_window": W,
            "horizon": H, "seasonality": 4, **more}  # fmt: skip


SHAPES = {
    "rnn": {},
    "projection+head_hidden": {"input": {"projection": 5}, "head_hidden": 7},
    "channel_independent": {"channel_independent": True},
    "segment": {"encoder": "segment", "segment_length": 4, "rnn": {"cell": "gru"}},
}


def _model(k: int, seed: int = 0, art: dict | None = None, **cfg) -> Forecast:
    torch.manual_seed(seed)
    config = {"rnn": {"hidden_size": 6, "num_layers": 1}, "baseline": "naive", **cfg}
    return Forecast({**config, "ensemble": k}, art or _art())


def _batch(n: int = 4, features: int = 3):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, W + H, features, generator=g), torch.randn(n, H, 2, generator=g)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_k_identical_members_are_the_single_forecaster(shape):
    one = _model(1, **SHAPES[shape]).eval()
    three = _model(3, seed=5, **SHAPES[shape]).eval()
    assert len(three.ensemble) == 3
    weights = {k: v for k, v in one.state_dict().items() if not k.startswith(("metrics", "revin"))}
    three.revin.load_state_dict(one.revin.state_dict())
    for member in three.ensemble.members:  # the single model's network copied into each member
        member.load_state_dict(weights)
    x, y = _batch()
    with torch.no_grad():
        torch.testing.assert_close(three(x[:, :W]), one(x[:, :W]))
        lengths = torch.tensor([W, 4, 8, 4])  # whole segments (SegRNN's requirement)
        torch.testing.assert_close(three._direct(x[:, :W], lengths), one._direct(x[:, :W], lengths))
        loss_one, _ = one.step((x, y), "val")
        loss_three, _ = three.step((x, y), "val")
    torch.testing.assert_close(loss_three, loss_one)


def test_the_forecast_is_the_mean_of_the_members_forecasts():
    model = _model(3).eval()
    x, _ = _batch()
    with torch.no_grad():
        each = model._direct(x[:, :W], members=True)  # (K, N, H, targets)
        assert each.shape == (3, 4, H, 2)
        assert not torch.allclose(each[0], each[1])  # different initialisations
        torch.testing.assert_close(model(x[:, :W]), each.mean(0))


@pytest.mark.parametrize("clip", [None, 1e-3])
def test_each_member_gets_the_gradient_it_would_get_alone(clip):
    model = _model(3, revin_affine=False).train()
    model.clip_norm = clip
    x, y = _batch()
    loss, _ = model.step((x, y), "train")
    loss.backward()
    if clip:
        model.configure_gradient_clipping(None)
    losses = []
    for j, member in enumerate(model.ensemble.members):
        lone = _model(1, revin_affine=False).train()
        lone.load_state_dict(
            {**lone.state_dict(), **copy.deepcopy(member.state_dict())}, strict=True
        )
        own, _ = lone.step((x, y), "train")
        own.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(list(lone.parameters()), clip)
        losses.append(own.detach())
        for name, p in member.named_parameters():
            torch.testing.assert_close(p.grad, lone.get_parameter(name).grad, msg=f"{j}.{name}")
    torch.testing.assert_close(loss.detach(), torch.stack(losses).mean())


@pytest.mark.parametrize(
    "over, words",
    [
        ({"mode": "autoregressive", "baseline": "none"}, "mode 'direct'"),
        ({"likelihood": "gaussian", "baseline": "none"}, "likelihood 'none'"),
        ({"ensemble": 0}, "model.ensemble must be an int >= 1"),
    ],
)
def test_what_an_ensemble_cannot_be_is_said_at_the_config(over, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        run_config_from_dict({"task": "forecast", "model": {"ensemble": 3, **over}})


def test_an_ensemble_trains_exports_and_predicts(tmp_path):
    t = np.arange(300)
    values = np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(0).normal(size=t.size)
    times = pd.date_range("2020-01-01", periods=t.size, freq="h")
    path = tmp_path / "s.csv"
    pd.DataFrame({"time": times, "value": values}).to_csv(path, index=False)
    cfg = run_config_from_dict({
        "task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"),
        "data": {"source": "csv", "path": str(path), "time_column": "time",
                 "input_window": W, "horizon": H},
        "model": {"rnn": {"hidden_size": 8, "num_layers": 1}, "ensemble": 2},
        "trainer": {"max_epochs": 2, "batch_size": 32, "num_threads": 1, "min_steps": 0},
    })  # fmt: skip
    result = fit(cfg)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert np.isfinite(metrics["test_mse"])
    assert metrics["test_mse"] == pytest.approx(result.metrics["test_mse"])
    back = load_exported(export_folder(result.model, tmp_path / "export"))
    assert back.config.ensemble == 2 and len(back.ensemble) == 2
    for k, v in result.model.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v)
    rows = [{"time": str(s), "value": float(v)} for s, v in zip(times[-W:], values[-W:])]
    assert back.predict_raw(rows) == result.model.predict_raw(rows)
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from deeprnn.export.onnx import export_onnx, run_onnx

    model = result.model.eval()
    path = export_onnx(model, tmp_path / "ensemble.onnx")
    x, lengths = torch.randn(3, W, 1), torch.tensor([W, 5, 1])
    with torch.no_grad():
        expected = model.onnx_forward(x, lengths).numpy()
    (got,) = run_onnx(path, x=x, lengths=lengths)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
