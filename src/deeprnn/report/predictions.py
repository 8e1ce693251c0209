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
        forecasts: ``{target: (history, truth, pred)}`` for every target (forecast runs).
        intervals: ``{target: (q0.1, q0.9)}`` for every target of a probabilistic model.
        windows: where each of the N forecast windows comes from (``series a, rows
            192-218``); they are spread over the split (first, middle, last), never
            neighbours one step apart.
        total: how many examples (windows) the split has.
    """

    split: str
    labels: list[str] = field(default_factory=list)
    y_true: list[int] = field(default_factory=list)
    y_pred: list[int] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    forecast: tuple | None = None
    interval: tuple | None = None  # (lower, upper) (N, H) of a probabilistic forecast
    forecasts: dict[str, tuple] = field(default_factory=dict)
    intervals: dict[str, tuple] = field(default_factory=dict)
    windows: list[str] = field(default_factory=list)
    total: int = 0


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


def _text(ids, vocab: list[str] | None, limit: int = 160) -> str:
    """Token ids as words (cut at ``limit`` characters), or a numeric (T, F) sequence as its
    length, width and range: something a person can read in a table cell."""
    if vocab is None:
        a = torch.as_tensor(ids, dtype=torch.float64)
        a = a[:, None] if a.dim() == 1 else a
        f = a.shape[-1] if a.dim() > 1 else 1
        finite = a[torch.isfinite(a)]
        span = (
            f", values {float(finite.min()):.3g} to {float(finite.max()):.3g}"
            if len(finite)
            else ""
        )
        return f"{len(a)} steps × {f} feature{'s' if f != 1 else ''}{span}"
    text = " ".join(vocab[int(i)] for i in ids)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def brief(values, digits: int = 3) -> str:
    """A few numbers as text: all of them up to 4, else the first two, the last and the mean.

    >>> brief([1.0, 2.0]), brief(range(24))
    ('1, 2', '0, 1 … 23 (24 values, mean 11.5)')
    """
    v = [float(x) for x in values]
    f = f"{{:.{digits}g}}"
    if len(v) <= 4:
        return ", ".join(f.format(x) for x in v)
    mean = sum(v) / len(v)
    return (
        f"{f.format(v[0])}, {f.format(v[1])} … {f.format(v[-1])} "
        f"({len(v)} values, mean {f.format(mean)})"
    )


def spread(total: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(total)`` (first and last included), distinct.

    >>> spread(44, 3), spread(2, 3), spread(5, 4)
    ([0, 22, 43], [0, 1], [0, 1, 3, 4])
    """
    if total <= 0 or n <= 0:
        return []
    if n >= total:
        return list(range(total))
    if n == 1:
        return [0]
    return sorted({round(i * (total - 1) / (n - 1)) for i in range(n)})


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
    every = dm.splits.get(name) or []
    if isinstance(model, Forecast):
        model.bind_data(dm)  # a classical baseline's forecasts ride with the windows
    items = list(every[:limit])  # only these: a panel's split builds a window per item
    if not items:
        return None
    model = model.eval()
    art = model.artifacts
    out = Predictions(name, labels=list(art.get("labels", [])), total=len(every))
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
        _forecasts(model, dm, name, every, out, n_samples)
    return out


def _forecasts(model, dm, split: str, items: list, out: Predictions, n_samples: int) -> None:
    """Forecasts of windows spread over the split, in the original scale, for every target."""
    art = model.artifacts
    targets = list(art["targets"])
    k, w = len(targets), int(art["input_window"])
    idx = spread(len(items), max(n_samples, 3))
    starts = (getattr(dm, "window_starts", None) or {}).get(split) or []
    h = int(art["horizon"])
    out.total = len(items)
    for i in idx:
        if i < len(starts):
            sid, row = starts[i]
            out.windows.append(f"series {sid}, rows {row}–{row + w + h - 1}")
        else:
            out.windows.append(f"window {i + 1} of {len(items)}")
    # (N, W + H, F), (N, H, K) scaled; a classical forecast and the series codes when used
    x, y, base, series = model.unpack(dm.collate([items[i] for i in idx]))
    pred = model(x[:, :w], x[:, w:, k:], base, series)  # (N, H, K)
    history = model.scaler.inverse(x[:, :w, :k], k)  # (N, W, K)
    truth = model.scaler.inverse(y, k)
    forecast = model.scaler.inverse(pred, k)
    q = None
    if model.config.likelihood != "none":  # the 80% interval, shaded in the plot
        dist = model.distribution(x[:, :w], series=series)
        q = dist.quantiles((0.1, 0.9))
        q = model.scaler.inverse(q, k) if dist.space == "scaled" else q
    for j, target in enumerate(targets):
        out.forecasts[target] = tuple(a[..., j].numpy() for a in (history, truth, forecast))
        if q is not None:
            out.intervals[target] = (q[0, ..., j].numpy(), q[1, ..., j].numpy())
    out.forecast = out.forecasts[targets[0]]
    out.interval = out.intervals.get(targets[0])
    for i in range(min(n_samples, len(idx))):
        for j, target in enumerate(targets[:3]):
            err = (forecast[i, :, j] - truth[i, :, j]).abs()
            err = err[torch.isfinite(err)]
            out.samples.append(
                {
                    "window": out.windows[i],
                    "target": target,
                    f"input ({w} steps)": f"{float(history[i, :, j].min()):.3g} to "
                    f"{float(history[i, :, j].max()):.3g}, last {float(history[i, -1, j]):.3g}",
                    "truth": brief(truth[i, :, j]),
                    "forecast": brief(forecast[i, :, j]),
                    "mean abs error": f"{float(err.mean()):.3g}" if len(err) else "",
                }
            )
