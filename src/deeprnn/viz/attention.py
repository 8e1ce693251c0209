"""Attention heatmaps: which source positions each output step looked at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deeprnn.viz._mpl import pyplot, save, to_numpy


def _prepare(weights, src_tokens, tgt_tokens) -> tuple[np.ndarray, list[str], list[str]]:
    """(T, S) weights cropped to the token lists; tokens default to positions."""
    w = to_numpy(weights)
    if w.ndim == 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 2:
        raise ValueError(f"weights must be (T, S) (target x source), got shape {w.shape}")
    t, s = w.shape
    src = [str(x) for x in src_tokens] if src_tokens is not None else [str(i) for i in range(s)]
    tgt = [str(x) for x in tgt_tokens] if tgt_tokens is not None else [str(i) for i in range(t)]
    if len(src) > s or len(tgt) > t:
        raise ValueError(
            f"weights have shape (T={t}, S={s}) but got {len(tgt)} target and {len(src)} "
            "source tokens"
        )
    return w[: len(tgt), : len(src)], src, tgt


def _heatmap(ax, w: np.ndarray, src: list[str], tgt: list[str], title: str | None):
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(float(w.max()), 1e-12), aspect="auto")
    ax.set_xticks(
        range(len(src)),
        src,
        rotation=60 if max(map(len, src)) > 2 else 0,
        ha="right" if max(map(len, src)) > 2 else "center",
        fontsize=8,
    )
    ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=10)
    return im


def plot_attention(
    weights,
    src_tokens: Sequence[str] | None,
    tgt_tokens: Sequence[str] | None,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Heatmap of attention ``weights`` (T, S): row t is output step t's distribution over the
    S source positions (a tensor or an array; ``(1, T, S)`` is accepted).

    ``src_tokens`` / ``tgt_tokens`` label the columns / rows (``None``: positions). Weights are
    cropped to the token lists, so padded source positions and steps after ``<eos>`` drop out
    when the lists are shorter; longer lists than the weights are an error.

    >>> import torch
    >>> plot_attention(torch.eye(3), ["a", "b", "c"], ["A", "B", "C"], "attn.png")  # doctest: +SKIP
    """
    plt = pyplot()
    w, src, tgt = _prepare(weights, src_tokens, tgt_tokens)
    fig, ax = plt.subplots(figsize=(1.6 + 0.38 * len(src), 1.4 + 0.32 * len(tgt)))
    im = _heatmap(ax, w, src, tgt, title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")
    fig.tight_layout()
    return save(fig, path)


def plot_attention_grid(
    examples: Sequence[tuple],
    path: str | Path,
    title: str | None = None,
    cols: int = 2,
) -> Path:
    """Several attention heatmaps on one page: ``examples`` is a list of
    ``(weights (T, S), src_tokens, tgt_tokens)`` or ``(weights, src, tgt, subtitle)``."""
    plt = pyplot()
    if not examples:
        raise ValueError("examples must hold at least one (weights, src_tokens, tgt_tokens)")
    prepared = []
    for i, ex in enumerate(examples):
        if len(ex) not in (3, 4):
            raise ValueError(
                f"examples[{i}] must be (weights, src_tokens, tgt_tokens[, title]), got {len(ex)} items"
            )
        prepared.append((*_prepare(*ex[:3]), ex[3] if len(ex) == 4 else None))
    cols = max(1, min(cols, len(prepared)))
    rows = -(-len(prepared) // cols)
    s_max = max(len(p[1]) for p in prepared)
    t_max = max(len(p[2]) for p in prepared)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(cols * (1.4 + 0.36 * s_max), rows * (1.3 + 0.3 * t_max)),
        squeeze=False,
    )
    for ax, (w, src, tgt, sub) in zip(axes.flat, prepared):
        _heatmap(ax, w, src, tgt, sub)
    for ax in list(axes.flat)[len(prepared) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
