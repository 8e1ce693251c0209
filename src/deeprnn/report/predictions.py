"""Predictions of a run's exported model on its own data, for the confusion matrix and the
sample table of the report (classify, tag and forecast runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class Predictions:
    """What a model predicted on one split.

    Attributes:
        split: ``"test"`` or ``"val"``.
        labels: class / tag names (classify, tag), else empty.
        y_true, y_pred: class ids per example (classify) or per token (tag), for a confusion
            matrix; empty for forecasting.
        samples: a few rows for a table (``{"input": ..., "truth": ..., "prediction": ...}``).
        forecast: ``(history (N, W), truth (N, H), pred (N, H))`` of the first target in the
            original scale (forecast runs), for :func:`~deeprnn.viz.plot_forecast`.
        interval: ``(q0.1, q0.9)`` (N, H) of the same target, for a probabilistic model.
    """

    split: str
    labels: list[str] = field(default_factory=list)
    y_true: list[int] = field(default_factory=list)
    y_pred: list[int] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    forecast: tuple | None = None
    interval: tuple | None = None  # (lower, upper) (N, H) of a probabilistic forecast


def load_run_model(run_dir: str | Path):
    """The model of ``RUN_DIR/model`` (the export folder), or None when the run has none."""
    from deeprnn.training.runner.reopen import open_export

    saved = open_export(run_dir)
    return None if saved is None else saved.model


def load_run_data(run_dir: str | Path, model):
    """The run's data module (from ``RUN_DIR/config.yaml``, the model's artifacts), prepared."""
    from deeprnn.training.runner.reopen import run_datamodule

    return run_datamodule(run_dir, model)


def _batches(items: list, size: int = 256):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _text(ids, vocab: list[str] | None) -> str:
    if vocab is None:
        return f"{len(ids)} steps"
    return " ".join(vocab[int(i)] for i in ids)


@torch.no_grad()
def predict_split(
    model, dm, split: str = "test", limit: int = 2000, n_samples: int = 8
) -> Predictions | None:
    """Run ``model`` over up to ``limit`` examples of ``split`` (falling back to the other of
    test / val); None for tasks without a per-example prediction here (language models)."""
    from deeprnn.tasks import Classify, Forecast, Tag

    if not isinstance(model, (Classify, Tag, Forecast)):
        return None
    other = "val" if split == "test" else "test"
    name = split if dm.splits.get(split) else other
    items = list(dm.splits.get(name) or [])[:limit]
    if not items:
        return None
    model = model.eval()
    art = model.artifacts
    out = Predictions(name, labels=list(art.get("labels", [])))
    if isinstance(model, Classify):
        vocab = art.get("vocab")
        for chunk in _batches(items):
            x, lengths, y = dm.collate(chunk)
            pred = model(x, lengths).argmax(-1)  # (N,)
            out.y_true += y.tolist()
            out.y_pred += pred.tolist()
            if len(out.samples) < n_samples:
                for i in range(min(n_samples - len(out.samples), len(chunk))):
                    ids = x[i, : int(lengths[i])].tolist() if vocab else x[i, : int(lengths[i])]
                    out.samples.append(
                        {
                            "input": _text(ids, vocab),
                            "truth": out.labels[int(y[i])],
                            "prediction": out.labels[int(pred[i])],
                        }
                    )
    elif isinstance(model, Tag):
        vocab = art["vocab"]
        for chunk in _batches(items):
            words, chars, lengths, tags = dm.collate(chunk)
            paths = model.decode(model(words, chars, lengths), lengths)
            for i, (path, n) in enumerate(zip(paths, lengths.tolist())):
                true = tags[i, :n].tolist()
                out.y_true += true
                out.y_pred += list(path)
                if len(out.samples) < n_samples:
                    out.samples.append(
                        {
                            "input": _text(words[i, :n].tolist(), vocab),
                            "truth": " ".join(out.labels[t] for t in true),
                            "prediction": " ".join(out.labels[t] for t in path),
                        }
                    )
    else:
        k = len(art["targets"])
        w = int(art["input_window"])
        x, y = dm.collate(items[: max(n_samples, 3)])  # (N, W + H, F), (N, H, K) scaled
        pred = model(x[:, :w], x[:, w:, k:])  # (N, H, K)
        history = model.scaler.inverse(x[:, :w, :k], k)[..., 0]
        truth = model.scaler.inverse(y, k)[..., 0]
        forecast = model.scaler.inverse(pred, k)[..., 0]
        out.forecast = (history.numpy(), truth.numpy(), forecast.numpy())
        if model.config.likelihood != "none":  # the 80% interval, shaded in the plot
            dist = model.distribution(x[:, :w])
            q = dist.quantiles((0.1, 0.9))
            q = model.scaler.inverse(q, k) if dist.space == "scaled" else q
            out.interval = (q[0, ..., 0].numpy(), q[1, ..., 0].numpy())
        for i in range(min(n_samples, len(truth))):
            out.samples.append(
                {
                    "input": f"last of {w}: " + ", ".join(f"{v:.3g}" for v in history[i, -3:]),
                    "truth": ", ".join(f"{v:.3g}" for v in truth[i]),
                    "prediction": ", ".join(f"{v:.3g}" for v in forecast[i]),
                }
            )
    return out
