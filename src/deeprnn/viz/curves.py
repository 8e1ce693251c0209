"""Loss / metric curves from a run's CSV log, and forecast-vs-truth plots (matplotlib, Agg)."""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from deeprnn._headline import BASELINES
from deeprnn._run_folder import RunFolder
from deeprnn.viz._mpl import pyplot as _pyplot
from deeprnn.viz._mpl import save, to_numpy


def metrics_csv(run: str | Path) -> Path:
    """The CSV log of a run folder (``RUN/logs/csv/metrics.csv``), or the CSV file itself."""
    path = Path(run)
    if path.is_dir():
        path = RunFolder(path).csv_log
    if not path.is_file():
        raise ValueError(f"no metrics log found at {path} (is {run} a deeprnn run folder?)")
    return path


def read_metrics(run: str | Path) -> dict[str, list[tuple[float, float]]]:
    """``{metric: [(epoch, value), ...]}`` from a Lightning CSV log (one value per epoch: the
    epoch-level entries; step-only metrics are averaged per epoch)."""
    rows = list(csv.DictReader(metrics_csv(run).open(encoding="utf-8")))
    per_epoch: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        epoch = row.get("epoch")
        if epoch in (None, ""):
            continue
        for key, value in row.items():
            if key in ("epoch", "step") or value in (None, ""):
                continue
            try:
                v = float(value)
            except ValueError:
                continue
            if math.isfinite(v):
                per_epoch[key][int(float(epoch))].append(v)
    return {
        k.removesuffix("_epoch"): [(e, float(np.mean(vs))) for e, vs in sorted(d.items())]
        for k, d in per_epoch.items()
        if not k.endswith("_step")
    }


_STAGES = ("train_", "val_", "test_")


def history_metrics(history) -> dict[str, list[tuple[float, float]]]:
    """``{metric: [(epoch, value), ...]}`` from a Keras-style history: an object with a
    ``.history`` dict of per-epoch lists (what ``deeprnn.fit`` returns) or such a dict itself.
    Keras' names (``loss``, ``val_loss``, ``accuracy`` ...) become ``train_loss``, ``val_loss``,
    ``train_accuracy``; epochs count from 0 (``history.epoch`` when there is one)."""
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict) or not all(
        isinstance(v, list | tuple | np.ndarray) for v in hist.values()
    ):
        raise TypeError(
            "run must be a run folder or its metrics CSV, a History (with a .history dict of "
            f"per-epoch lists) or such a dict, got {type(history).__name__}"
        )
    epochs = list(getattr(history, "epoch", None) or [])
    out = {}
    for key, values in hist.items():
        values = [float(v) for v in values]
        xs = epochs if len(epochs) == len(values) else range(len(values))
        name = key if key.startswith(_STAGES) else f"train_{key}"
        out[name] = [(float(e), v) for e, v in zip(xs, values) if math.isfinite(v)]
    return out


def curve_panels(data: dict[str, list[tuple[float, float]]]) -> list[str]:
    """The metric names worth a panel of their own: ``loss`` first, then each validation metric
    that is not a copy of another in other units. A metric whose validation curve is the loss's
    (a forecaster's ``mse_scaled``), ``rmse`` beside ``mse`` and ``X_scaled`` beside ``X`` are
    left out; baselines' curves (``val_naive_mae``) go inside their metric's panel.

    >>> curve_panels({"val_loss": [(0, 1.0)], "val_mse_scaled": [(0, 1.0)], "val_mse": [(0, 4.0)],
    ...               "val_rmse": [(0, 2.0)], "val_naive_mse": [(0, 9.0)], "train_loss": []})
    ['loss', 'mse']
    """
    names = {k.split("_", 1)[1] for k in data if k.startswith("val_")}
    if not names:
        names = {k.split("_", 1)[1] for k in data if k.startswith("train_")}
    names = {n for n in names if not n.startswith(tuple(BASELINES))}
    loss = [v for _, v in data.get("val_loss", data.get("train_loss", []))]
    keep = []
    for n in sorted(names, key=lambda n: (n != "loss", n)):
        vals = [v for _, v in data.get(f"val_{n}", data.get(f"train_{n}", []))]
        if n != "loss" and loss and len(vals) == len(loss) and np.allclose(vals, loss):
            continue  # the loss under another name
        if n.endswith("_scaled") and n.removesuffix("_scaled") in names:
            continue  # the same quantity, shown in the data's own units
        if n.startswith("rmse") and "mse" + n[4:] in names:
            continue  # the square root of a panel already there
        keep.append(n)
    return keep


def plot_curves(
    run: str | os.PathLike | Any,
    out: str | Path,
    metrics: list[str] | None = None,
    *,
    best_epoch: int | None = None,
) -> Path:
    """One panel per metric name (loss first), train and validation curves together;
    baselines (``val_naive_mae`` ...) are dotted lines in their metric's panel.

    ``run`` is a run folder (or its ``metrics.csv``), or the :class:`~deeprnn.History` that
    ``deeprnn.fit`` returns (anything with a ``.history`` dict of per-epoch lists, as Keras'
    ``History``), or such a dict: ``{"loss": [...], "val_loss": [...]}``. ``metrics`` picks the
    names (``["loss", "acc"]``); default: :func:`curve_panels` (the loss and each validation
    metric that is not the same curve in other units; for a history without validation, the
    training metrics). Test metrics (one point) are left out. ``best_epoch`` (counted from 1,
    as ``metrics.json["training"]["best_epoch"]``) draws a vertical line in every panel at the
    epoch whose weights were kept.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    from_history = not isinstance(run, str | os.PathLike)
    data = history_metrics(run) if from_history else read_metrics(run)
    for key in [k for k in data if not k.startswith(_STAGES) and f"val_{k}" in data]:
        data.setdefault(f"train_{key}", data[key])  # a CSV of deeprnn.fit: Keras' names
    where = "the history" if from_history else metrics_csv(run)
    if best_epoch is not None and (
        isinstance(best_epoch, bool) or not isinstance(best_epoch, int) or best_epoch < 1
    ):
        raise ValueError(f"best_epoch must be an int >= 1 (counted from 1), got {best_epoch!r}")
    names = curve_panels(data) if metrics is None else list(metrics)
    names = [
        n
        for n in names
        if (f"train_{n}" in data or f"val_{n}" in data) and not n.startswith(tuple(BASELINES))
    ]
    if not names:
        raise ValueError(f"no train/val metrics to plot in {where}; logged: {sorted(data)}")
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.3 * rows), squeeze=False)
    colors = ("tab:green", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")
    for ax, name in zip(axes.flat, names):
        for stage, style in (("train", "-"), ("val", "--")):
            points = data.get(f"{stage}_{name}")
            if points:
                xs, ys = zip(*points)
                ax.plot(np.array(xs) + 1, ys, style, marker="o", ms=3, label=stage)
        for (prefix, label), color in zip(BASELINES.items(), colors * 4):
            points = data.get(f"val_{prefix}{name}")
            if points:
                xs, ys = zip(*points)
                ax.plot(np.array(xs) + 1, ys, ":", color=color, label=f"val {label}")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.35", ls="-.", lw=1, label=f"kept: epoch {best_epoch}")
        ax.set(xlabel="epoch (from 1)", title=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if name in ("loss", "mse", "ppl") and all(
            v > 0 for s in ("train", "val") for _, v in data.get(f"{s}_{name}", [])
        ):
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out)


def plot_forecast(
    history: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    out: str | Path,
    *,
    baseline: np.ndarray | None = None,
    interval: tuple | None = None,
    interval_label: str = "80% interval",
    n: int = 3,
    title: str | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Forecast vs truth for the first ``n`` series: history (N, W), truth and pred (N, H)
    (arrays or tensors), an optional baseline (N, H) dashed, and an optional prediction
    ``interval`` ``(lower, upper)`` (each (N, H)) shaded around the forecast. The forecast
    horizon is shaded and marked: a dotted line where the forecast starts and an ``H steps``
    label over the shading. ``labels``: a title for each panel (which window it is).
    ``title`` names the figure (say the target and the split the windows come from)."""
    plt = _pyplot()
    history, truth, pred = (to_numpy(a) for a in (history, truth, pred))
    if history.ndim != 2 or truth.ndim != 2 or truth.shape != pred.shape:
        raise ValueError(
            "history must be (N, W), truth and pred (N, H) of the same shape; got "
            f"{history.shape}, {truth.shape}, {pred.shape}"
        )
    if interval is not None:
        interval = tuple(to_numpy(a) for a in interval)
        if len(interval) != 2 or any(a.shape != pred.shape for a in interval):
            raise ValueError(
                f"interval must be (lower, upper), each of pred's shape {pred.shape}; got "
                f"{[a.shape for a in interval]}"
            )
    n = min(n, len(history))
    w, h = history.shape[1], truth.shape[1]
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.3), sharey=True, squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.plot(range(w), history[i], ".-", color="0.4", label="history")
        steps = range(w, w + h)
        ax.plot(steps, truth[i], "o-", color="tab:blue", label="truth")
        ax.plot(steps, pred[i], "x-", color="tab:red", ms=8, label="forecast")
        if interval is not None:
            lo, hi = interval[0][i], interval[1][i]
            ax.fill_between(steps, lo, hi, color="tab:red", alpha=0.18, lw=0, label=interval_label)
        if baseline is not None:
            ax.plot(steps, to_numpy(baseline)[i], "+--", color="tab:green", label="naive")
        ax.axvspan(w - 0.5, w + h - 0.5, color="tab:orange", alpha=0.12, lw=0, label="horizon")
        ax.axvline(w - 0.5, color="tab:orange", ls=":", lw=1.2)
        ax.text(  # above the axes, so it never hides the lines
            w + (h - 1) / 2,
            1.01,
            f"horizon {h}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            color="tab:orange",
        )
        ax.set(xlabel="t")
        if labels is not None and i < len(labels):
            ax.set_title(labels[i], fontsize=9)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out)
