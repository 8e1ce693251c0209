"""Augmentation of numeric series for training a classifier: window slicing and window warping
(Le Guennec, Malinowski & Tavenard 2016, "Data augmentation for time series classification
using convolutional neural networks"; the settings of Iwana & Uchida's 2021 survey).

* ``slice``: a random window of ``ratio`` of the series' length (0.9 by default) is cut out
  and stretched back to the full length by linear interpolation;
* ``warp``: a random window of 10% of the length is sped up or slowed down by a factor 0.5 or 2
  (drawn with equal chance), and the whole series resampled back to its length.

:class:`AugmentedSeries` applies each named augmentation to a training example with
probability 1/2 every time the example is read, so the network sees the original series too.
Draws are seeded with ``(seed, example index, times read)``: a run with the same seed sees the
same augmented batches. Only the training split is wrapped (``ClassifyData.make_dataset``):
validation, test and prediction read the series as they are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

AUGMENTATIONS = ("slice", "warp")
WARP_WINDOW = 0.1  # the warped window's share of the length
WARP_SCALES = (0.5, 2.0)


def check_augment(names, slice_ratio, where: str = "data") -> None:
    """``ValueError`` naming the key for an unknown augmentation or a ratio outside (0, 1)."""
    if not isinstance(names, (list, tuple)):
        raise ValueError(f"{where}.augment must be a list of {list(AUGMENTATIONS)}, got {names!r}")
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(
                f"{where}.augment: unknown augmentation {name!r}; choose from {list(AUGMENTATIONS)}"
            )
    if isinstance(slice_ratio, bool) or not 0 < slice_ratio < 1:
        raise ValueError(f"{where}.slice_ratio must be in (0, 1), got {slice_ratio!r}")


def _resample(x: np.ndarray, steps: int) -> np.ndarray:
    """``x`` (T, F) linearly interpolated to ``steps`` rows (the same start and end)."""
    if len(x) == steps:
        return x.copy()
    if len(x) == 1:
        return np.repeat(x, steps, axis=0)
    old = np.linspace(0.0, 1.0, len(x))
    new = np.linspace(0.0, 1.0, steps)
    return np.stack([np.interp(new, old, x[:, f]) for f in range(x.shape[1])], axis=1)


def window_slice(x: np.ndarray, rng: np.random.Generator, ratio: float = 0.9) -> np.ndarray:
    """A random window of ``ratio`` of ``x`` (T, F), stretched back to T steps."""
    steps = len(x)
    width = max(1, int(np.ceil(ratio * steps)))
    if width >= steps:
        return x.copy()
    start = int(rng.integers(0, steps - width + 1))
    return _resample(x[start : start + width], steps)


def window_warp(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random window of 10% of ``x`` (T, F) resampled by a factor 0.5 or 2, the series then
    resampled back to T steps."""
    steps = len(x)
    width = max(1, int(np.ceil(WARP_WINDOW * steps)))
    if steps < 3 or width >= steps:
        return x.copy()
    start = int(rng.integers(1, steps - width))
    scale = WARP_SCALES[int(rng.integers(0, len(WARP_SCALES)))]
    warped = _resample(x[start : start + width], max(1, round(width * scale)))
    return _resample(np.concatenate([x[:start], warped, x[start + width :]]), steps)


class AugmentedSeries(Dataset):
    """The encoded training items ``(series (T, F) tensor, label)``, augmented as they are read
    (see the module docstring)."""

    def __init__(self, items: list, names: list[str], seed: int, slice_ratio: float = 0.9):
        check_augment(names, slice_ratio)
        self.items, self.names = items, list(names)
        self.seed, self.slice_ratio = int(seed), float(slice_ratio)
        self.reads = [0] * len(items)  # per worker process when loading with workers

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        x, y = self.items[i]
        rng = np.random.default_rng([self.seed, i, self.reads[i]])
        self.reads[i] += 1
        series = x.numpy().astype(np.float64)
        changed = False
        for name in self.names:
            if rng.random() < 0.5:
                continue
            if name == "slice":
                series = window_slice(series, rng, self.slice_ratio)
            else:
                series = window_warp(series, rng)
            changed = True
        if not changed:
            return x, y
        return torch.as_tensor(series, dtype=x.dtype), y
