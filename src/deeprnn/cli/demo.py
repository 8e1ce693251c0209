"""``deeprnn demo``: train a stacked LSTM forecaster (the Lightning ``forecast`` task) on the
seeds' noisy-sines generator: 10 epochs (under a minute on a free 2-core CPU), stopped early
at the ``--seconds`` cap on a busy machine.

It prints the test MSE next to the naive last-value baseline, and writes a loss curve, a
forecast-vs-truth plot, metrics.json and the export folder (config.json + model.safetensors).
The same run as a config: examples/forecast_sines.yaml.

``deeprnn demo --task seq2seq`` trains the attention encoder-decoder of the ``seq2seq`` task on
the built-in dates task ("3 mar 2021" -> "2021-03-03", about a minute) and prints its exact
match on 1,000 held-out dates, sample translations, and the paths of its loss curve and
attention heatmaps (examples/seq2seq_dates.yaml).
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


SEQ2SEQ_CONFIG = {
    "task": "seq2seq",
    "data": {"source": "synthetic", "synthetic": "dates", "synthetic_sizes": [20000, 1000, 1000]},
    "model": {"embedding_size": 32, "hidden_size": 64, "attention": "bahdanau"},
    "optim": {"lr": 3e-3},
    "trainer": {
        "max_epochs": 6,
        "batch_size": 64,
        "gradient_clip_norm": 1.0,
        "monitor": "val_exact",
        "mode": "max",
        "num_threads": 1,
    },
}


def run_seq2seq(out_dir: Path, seconds: float = 120.0, seed: int = 0, epochs: int = 6) -> dict:
    from deeprnn.training import RunFolder, apply_overrides, fit, run_config_from_dict
    from deeprnn.viz.curves import plot_curves

    cfg = apply_overrides(
        SEQ2SEQ_CONFIG,
        [
            ("seed", seed),
            ("out_dir", str(out_dir)),
            ("trainer.max_time", seconds),
            ("trainer.max_epochs", epochs),
        ],
    )
    result = fit(run_config_from_dict(cfg))
    m = result.metrics
    print()
    print(f"test exact match {m['test_exact']:.1f}% on 1,000 held-out dates (greedy decoding)")
    for sample in m["samples"][:3]:
        print(f"  {sample['source']!r:32} -> {sample['translation']!r}")
    paths = [RunFolder(out_dir).metrics]
    paths.append(plot_curves(out_dir, out_dir / "loss_curve.png", ["loss", "exact"]))
    paths += [*RunFolder(out_dir).attention_figures(), result.export_dir]
    for p in paths:
        print(f"wrote {p}")
    return m


def run(
    out_dir: Path,
    seconds: float = 100.0,
    seed: int = 42,
    num_series: int = 10000,
    epochs: int = 10,
) -> dict:
    from deeprnn.training import RunFolder, apply_overrides, fit, run_config_from_dict
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

    paths = [RunFolder(out_dir).metrics]
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
        epilog="examples:\n  deeprnn demo\n  deeprnn demo --epochs 3 --out runs/demo3\n"
        "  deeprnn demo --task seq2seq",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", choices=("forecast", "seq2seq"), default="forecast")
    p.add_argument(
        "--out", type=Path, help="output folder (default runs/demo or runs/demo_seq2seq)"
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="cap on the training time (100 / 120 s)"
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs (10 / 6)")
    p.add_argument("--seed", type=int, default=None, help="seed (42 / 0)")
    p.add_argument("--num-series", type=int, default=10000, help="synthetic series (default 10000)")
    p.set_defaults(func=_main)


def _main(a, extra) -> int:
    from deeprnn._validation import check_out_folder

    if a.out is not None:
        check_out_folder("--out", a.out)  # a file there fails before the data is made
    if a.task == "seq2seq":
        run_seq2seq(
            a.out or Path("runs/demo_seq2seq"),
            a.seconds or 120.0,
            0 if a.seed is None else a.seed,
            a.epochs or 6,
        )
    else:
        run(
            a.out or Path("runs/demo"),
            a.seconds or 100.0,
            42 if a.seed is None else a.seed,
            a.num_series,
            a.epochs or 10,
        )
    return 0
