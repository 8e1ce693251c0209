"""``deeprnn demo``: train a stacked LSTM forecaster (the Lightning ``forecast`` task) on the
seeds' noisy-sines generator: 10 epochs (under a minute on a free 2-core CPU), stopped early
at the ``--seconds`` cap on a busy machine.

It prints the test MSE next to the naive last-value baseline, and writes a loss curve, a
forecast-vs-truth plot, metrics.json and the export folder (config.json + model.safetensors).
The same run as a config: examples/forecast_sines.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

DEMO_CONFIG = {
    "task": "forecast",
    "data": {"source": "sines", "num_series": 10000, "input_window": 50, "horizon": 1},
    "model": {"rnn": {"cell": "lstm", "hidden_size": 32, "num_layers": 2}},
    "optim": {"name": "adam", "lr": 3e-3, "scheduler": {"name": "plateau", "patience": 2}},
    "trainer": {
        "max_epochs": 10,
        "batch_size": 64,
        "gradient_clip_norm": 1.0,
        "log_every_n_steps": 50,
        "num_threads": 1,  # a small model: one thread is fastest, and robust on a busy CPU
    },
}


def run(
    out_dir: Path,
    seconds: float = 100.0,
    seed: int = 42,
    num_series: int = 10000,
    epochs: int = 10,
) -> dict:
    from deeprnn.training.config import apply_overrides, run_config_from_dict
    from deeprnn.training.fit import fit
    from deeprnn.viz.curves import plot_curves, plot_forecast

    cfg = apply_overrides(
        DEMO_CONFIG,
        [
            ("seed", seed),
            ("out_dir", str(out_dir)),
            ("trainer.max_time", seconds),
            ("data.num_series", num_series),
            ("trainer.max_epochs", epochs),
        ],
    )
    result = fit(run_config_from_dict(cfg))
    m = result.metrics
    model, dm = result.model.eval(), result.datamodule
    x, y = dm.collate(dm.splits["test"][:3])  # scaled (N, W + H, 1), (N, H, 1)
    with torch.no_grad():
        pred = model(x[:, :50])

    def original(t):  # back to the series' own scale
        return model.scaler.inverse(t, 1)[..., 0]

    paths = [out_dir / "metrics.json"]
    paths.append(plot_curves(out_dir, out_dir / "loss_curve.png", ["loss", "mse"]))
    paths.append(
        plot_forecast(
            original(x[:, :50]),
            original(y),
            original(pred),
            out_dir / "forecast.png",
            baseline=original(x[:, 49:50]),
            title="2-layer LSTM forecasts (test series)",
        )
    )
    paths.append(result.export_dir)
    mse, naive = m["test_mse"], m["test_naive_mse"]
    print()
    print(f"test MSE {mse:.5f}   naive last-value MSE {naive:.5f}   ({naive / mse:.1f}x better)")
    for p in paths:
        print(f"wrote {p}")
    return m


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train a small LSTM forecaster on synthetic sines (under a minute)",
        description=__doc__,
        epilog="examples:\n  deeprnn demo\n  deeprnn demo --epochs 3 --out runs/demo3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)"
    )
    p.add_argument(
        "--seconds", type=float, default=100.0, help="cap on the training time (default 100)"
    )
    p.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--num-series", type=int, default=10000, help="synthetic series (default 10000)")
    p.set_defaults(
        func=lambda a, extra: run(a.out, a.seconds, a.seed, a.num_series, a.epochs) and 0
    )
