"""Hidden-state activations over a sequence, as a heatmap (units x time)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deeprnn.viz._mpl import pyplot, save, to_numpy


def plot_hidden_states(
    states,
    path: str | Path,
    tokens: Sequence[str] | None = None,
    title: str | None = None,
    max_units: int = 64,
) -> Path:
    """Heatmap of hidden states (T, H) of one sequence: one row per unit (the first
    ``max_units``), one column per step, labelled by ``tokens`` when given. Colours are
    symmetric around 0 (tanh range when the values fit in [-1, 1]).

    States of one row of a batch: ``out[i, :length]`` from a layer with
    ``return_sequences=True``.
    """
    plt = pyplot()
    s = to_numpy(states)
    if s.ndim == 3 and s.shape[0] == 1:
        s = s[0]
    if s.ndim != 2 or 0 in s.shape:
        raise ValueError(f"states must be a non-empty (T, H) array, got shape {s.shape}")
    t, h = s.shape
    if tokens is not None and len(tokens) != t:
        raise ValueError(f"got {len(tokens)} tokens for {t} steps of states")
    s = s[:, :max_units].T  # (H', T)
    vmax = max(float(abs(s).max()), 1e-12)
    vmax = 1.0 if vmax <= 1.0 else vmax
    fig, ax = plt.subplots(figsize=(min(2.5 + 0.28 * t, 24), 1.6 + 0.12 * s.shape[0]))
    im = ax.imshow(s, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
    if tokens is not None:
        ax.set_xticks(range(t), [str(x) for x in tokens], rotation=60, ha="right", fontsize=8)
    ax.set(xlabel="step" if tokens is None else "", ylabel="hidden unit")
    shown = f"first {s.shape[0]} of {h} units" if h > s.shape[0] else f"{h} units"
    ax.set_title(title or f"hidden-state activations ({shown}, {t} steps)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    return save(fig, path)
