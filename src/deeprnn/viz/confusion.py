"""Confusion matrices for classifiers and taggers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deeprnn.viz._mpl import pyplot, save


def _indices(values, labels: list[str], name: str) -> np.ndarray:
    """Label names or integer class ids -> ids into ``labels``."""
    values = list(values.tolist() if hasattr(values, "tolist") else values)
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for v in values:
        if isinstance(v, str):
            if v not in index:
                raise ValueError(f"{name} has label {v!r} that is not in labels {labels}")
            out.append(index[v])
        else:
            i = int(v)
            if not 0 <= i < len(labels):
                raise ValueError(f"{name} has class id {i}, outside 0..{len(labels) - 1}")
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def confusion_matrix(y_true, y_pred, labels: Sequence[str]) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class (torchmetrics)."""
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    labels = [str(x) for x in labels]
    t, p = _indices(y_true, labels, "y_true"), _indices(y_pred, labels, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} vs {len(p)}")
    if not len(t):
        raise ValueError("y_true is empty")
    cm = multiclass_confusion_matrix(torch.from_numpy(p), torch.from_numpy(t), len(labels))
    return cm.numpy()


def plot_confusion(
    y_true,
    y_pred,
    labels: Sequence[str],
    path: str | Path,
    normalize: bool = True,
    title: str | None = None,
) -> Path:
    """Confusion matrix of ``y_true`` vs ``y_pred`` (label names or class ids), rows the true
    class. ``normalize`` divides each row by its count (recall on the diagonal); cells are
    annotated when there are at most 20 classes."""
    plt = pyplot()
    labels = [str(x) for x in labels]
    cm = confusion_matrix(y_true, y_pred, labels).astype(float)
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    c = len(labels)
    size = 2.2 + 0.45 * c
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(shown.max(), 1))
    ax.set_xticks(range(c), labels, rotation=45 if c > 4 else 0, ha="right" if c > 4 else "center")
    ax.set_yticks(range(c), labels)
    ax.set(xlabel="predicted", ylabel="true")
    if c <= 20:
        for i in range(c):
            for j in range(c):
                text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                dark = shown[i, j] > (0.5 if normalize else shown.max() / 2)
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(
        title or f"confusion ({'row-normalised' if normalize else 'counts'}); acc {acc:.3f}",
        fontsize=10,
    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return save(fig, path)
