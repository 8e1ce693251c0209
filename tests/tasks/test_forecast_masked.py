"""``data.fill: {target: mask}``: a target's gaps stay missing — its inputs are forward-filled,
the loss and every metric skip the missing steps (GluonTS's observed-values mask), the scaler
is fitted on the observed values. Each test writes its own small CSV."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from deeprnn.tasks import Forecast, ForecastData
from deeprnn.training import fit, run_config_from_dict

GAPS = set(range(30, 45)) | {3, 77, 150, 151}


def write_gappy(path, n: int = 240, seed: int = 0):
    rng = random.Random(seed)
    lines = ["t,y,x"]
    for t in range(n):
        y = "" if t in GAPS else f"{5 + 2 * math.sin(t / 3) + rng.gauss(0, 0.1):.4f}"
        lines.append(f"{t},{y},{math.cos(t / 3):.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def cfg(path, **over) -> dict:
    base = {"source": "csv", "path": str(path), "targets": ["y"], "covariates": ["x"],
            "input_window": 12, "horizon": 3, "fill": {"y": "mask"}}  # fmt: skip
    base.update(over)
    return base


def data(path, **over) -> ForecastData:
    config = run_config_from_dict({"task": "forecast", "data": cfg(path, **over)}).data
    return ForecastData(config, batch_size=16, seed=0).prepare()


def test_masked_gaps_are_nan_targets_and_filled_inputs(tmp_path):
    path = write_gappy(tmp_path / "g.csv")
    dm = data(path)
    xs = torch.stack([x for s in dm.splits.values() for x, _ in s])
    ys = torch.stack([y for s in dm.splits.values() for _, y in s])
    assert torch.isfinite(xs).all()
    assert torch.isnan(ys).any() and torch.isfinite(ys).any()
    # the scaler's statistics are those of the observed train values
    raw = np.genfromtxt(path, delimiter=",", skip_header=1)[:, 1]
    n_train = len(raw) - int(0.2 * len(raw)) - int(0.1 * len(raw))
    shift = dm.artifacts["scaler"]["shift"][0]
    assert shift == pytest.approx(np.nanmean(raw[: int(n_train)]), abs=0.05)
    # the first window whose forecast covers the long gap: NaN exactly at the gap steps
    w = dm.artifacts["input_window"]
    for (_, start), (_, y) in zip(dm.window_starts["train"], dm.splits["train"]):
        steps = [start + w + j for j in range(3)]
        assert [s in GAPS for s in steps] == torch.isnan(y[:, 0]).tolist()


def test_the_loss_and_metrics_skip_the_gaps(tmp_path):
    dm = data(write_gappy(tmp_path / "g.csv"))
    model = Forecast(artifacts=dm.artifacts)
    batch = dm.collate(dm.splits["train"][15:40])
    x, y = batch
    gaps = torch.isnan(y)
    assert gaps.any()
    loss, _ = model.step(batch, "train")
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # the loss equals the MSE over the observed steps only
    with torch.no_grad():
        pred = model(*model._split(x))
        expected = ((pred - y)[~gaps] ** 2).mean()
        assert float(model.step(batch, "train")[0]) == pytest.approx(float(expected), rel=1e-5)
        model.step(batch, "val")
    mse = float(model.metrics["val_model"]["mse_scaled"].compute())
    assert mse == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("likelihood", ["gaussian", "quantile"])
def test_probabilistic_heads_train_on_observed_steps(tmp_path, likelihood):
    dm = data(write_gappy(tmp_path / "g.csv"))
    model_cfg = run_config_from_dict({"task": "forecast", "model": {"likelihood": likelihood}})
    model = Forecast(model_cfg.model, artifacts=dm.artifacts)
    batch = dm.collate(dm.splits["train"][15:40])
    loss, _ = model.step(batch, "train")
    assert torch.isfinite(loss)
    with torch.no_grad():
        model.step(batch, "val")
    for name in ("crps_scaled", "coverage_80", "mase"):
        assert math.isfinite(float(model.metrics["val_model"][name].compute()))


def test_a_masked_target_trains_tests_and_predicts(tmp_path):
    path = write_gappy(tmp_path / "g.csv")
    run = {"task": "forecast", "seed": 0, "out_dir": str(tmp_path / "run"), "data": cfg(path),
           "model": {"rnn": {"hidden_size": 8, "num_layers": 1}},
           "trainer": {"max_epochs": 2, "progress_bar": False, "tensorboard": False,
                       "num_threads": 1}}  # fmt: skip
    result = fit(run_config_from_dict(run))
    for k in ("test_mse_scaled", "test_mse", "test_mase", "test_naive_mse_scaled"):
        assert math.isfinite(result.metrics[k]), k
    per_step = result.metrics.get("test_mse_scaled_per_step")
    assert per_step is None or all(math.isfinite(v) for v in per_step)
    from deeprnn.export import load_exported

    model = load_exported(tmp_path / "run" / "model")
    rows = [{"y": ("" if i in (4, 5) else str(5 + i / 10)), "x": "0.5"} for i in range(12)]
    out = model.predict_raw(rows)  # the gaps in the history are forward-filled
    assert len(out) == 3 and all(math.isfinite(r["y"]) for r in out)


def test_mask_is_for_targets_and_direct_mode(tmp_path):
    path = write_gappy(tmp_path / "g.csv")
    with pytest.raises(ValueError, match=r"fill 'mask' applies to targets only: give a mapping"):
        data(path, fill="mask")
    with pytest.raises(ValueError, match=r"'mask' applies to targets only .* got it for \['x'\]"):
        data(path, fill={"y": "mask", "x": "mask"})
    dm = data(path)
    ar = run_config_from_dict({"task": "forecast", "model": {"mode": "autoregressive"}}).model
    with pytest.raises(ValueError, match=r"data.fill 'mask' .* needs model.mode 'direct'"):
        Forecast(ar, artifacts=dm.artifacts)
