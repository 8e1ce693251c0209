"""``deeprnn demo``: train a 2-layer LSTM forecaster on the seeds' noisy-sines generator.

It prints the test MSE next to the naive last-value baseline, and writes a loss curve, a
forecast-vs-truth plot and the trained model (``config.json`` + ``model.safetensors``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import deeprnn
from deeprnn._config import atomic_write_text


def generate_time_series(batch_size: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """Sums of two sines with random frequencies and phases plus noise (Géron, HOML ch. 15).

    Returns float32 (batch_size, n_steps, 1).
    """
    freq1, freq2, offsets1, offsets2 = rng.random((4, batch_size, 1))
    t = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((t - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((t - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.random((batch_size, n_steps)) - 0.5)
    return series[..., None].astype(np.float32)


class Forecaster(nn.Module):
    """DeepRNN body + a linear head on the last step: predicts the next value."""

    def __init__(self, hidden_size: int = 32, num_layers: int = 2):
        super().__init__()
        self.rnn = deeprnn.LSTM(
            1, hidden_size, num_layers, return_sequences=False, return_state=False
        )
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        return self.head(self.rnn(x))  # (N, 1)


def run(out_dir: Path, seconds: float = 60.0, seed: int = 42, n_steps: int = 50) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    series = torch.from_numpy(generate_time_series(10000, n_steps + 1, rng))
    x_train, y_train = series[:7000, :n_steps], series[:7000, -1]
    x_val, y_val = series[7000:9000, :n_steps], series[7000:9000, -1]
    x_test, y_test = series[9000:, :n_steps], series[9000:, -1]

    model = Forecaster()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    history = {"epoch": [], "train_mse": [], "val_mse": []}
    start = time.perf_counter()
    epoch = 0
    print(deeprnn.summary(model, input_size=(n_steps, 1), print_fn=None))
    while time.perf_counter() - start < seconds:
        model.train()
        perm = torch.randperm(len(x_train))
        total = 0.0
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            loss = nn.functional.mse_loss(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            deeprnn.clip_gradients(model, max_norm=1.0)
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val = float(nn.functional.mse_loss(model(x_val), y_val))
        sched.step(val)
        epoch += 1
        history["epoch"].append(epoch)
        history["train_mse"].append(total / len(x_train))
        history["val_mse"].append(val)
        print(
            f"epoch {epoch:3d}  train MSE {total / len(x_train):.5f}  val MSE {val:.5f}  "
            f"({time.perf_counter() - start:.0f}s)",
            flush=True,
        )
    model.eval()
    with torch.no_grad():
        pred = model(x_test)
    mse = float(nn.functional.mse_loss(pred, y_test))
    naive = float(nn.functional.mse_loss(x_test[:, -1], y_test))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.rnn.save_pretrained(out_dir / "model")
    metrics = {
        "test_mse": mse,
        "naive_last_value_mse": naive,
        "improvement_over_naive": naive / mse,
        "epochs": epoch,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    plots = _plots(out_dir, history, x_test, y_test, pred)
    print()
    print(f"test MSE {mse:.5f}   naive last-value MSE {naive:.5f}   ({naive / mse:.1f}x better)")
    for p in [out_dir / "metrics.json", *plots, out_dir / "model"]:
        print(f"wrote {p}")
    return metrics


def _plots(out_dir: Path, history: dict, x, y, pred) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["epoch"], history["train_mse"], label="train")
    ax.plot(history["epoch"], history["val_mse"], label="validation")
    ax.set(xlabel="epoch", ylabel="MSE", yscale="log", title="2-layer LSTM on noisy sines")
    ax.legend()
    paths.append(out_dir / "loss_curve.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
    steps = x.shape[1]
    for ax, i in zip(axes, range(3)):
        ax.plot(range(steps), x[i, :, 0], ".-", label="input")
        ax.plot(steps, y[i, 0], "bo", label="truth")
        ax.plot(steps, pred[i, 0], "rx", markersize=10, label="forecast")
        ax.axvline(steps - 0.5, color="grey", lw=0.5)
        ax.set(xlabel="t")
    axes[0].legend()
    paths.append(out_dir / "forecast.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train a small LSTM forecaster on synthetic sines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)"
    )
    p.add_argument("--seconds", type=float, default=60.0, help="training time budget (default 60)")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=lambda a: run(a.out, a.seconds, a.seed) and 0)
