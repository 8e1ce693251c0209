"""Per-column affine scaling of forecast series, fitted on the training rows."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class Scaler:
    """Per-column affine scaling: ``scaled = (x - shift) / scale``; JSON as an artifact."""

    def __init__(self, kind: str, columns: list[str], shift: list[float], scale: list[float]):
        self.kind, self.columns = kind, list(columns)
        self.shift = torch.tensor(shift, dtype=torch.float32)
        self.scale = torch.tensor(scale, dtype=torch.float32)

    @classmethod
    def fit(cls, kind: str, columns: list[str], values: np.ndarray) -> Scaler:
        """Statistics of ``values`` (rows, F)."""
        f = len(columns)
        if kind == "standard":  # NaN: a masked target's gaps (statistics of its observed values)
            shift, scale = np.nanmean(values, 0), np.nanstd(values, 0)
        elif kind == "minmax":
            lo, hi = np.nanmin(values, 0), np.nanmax(values, 0)
            shift, scale = lo, hi - lo
        else:
            shift, scale = np.zeros(f), np.ones(f)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls(kind, columns, [float(v) for v in shift], [float(v) for v in scale])

    @classmethod
    def from_artifact(cls, art: dict | None) -> Scaler:
        if not art:
            return cls("none", [], [], [])
        return cls(art["kind"], art["columns"], art["shift"], art["scale"])

    def to_artifact(self) -> dict:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "shift": self.shift.tolist(),
            "scale": self.scale.tolist(),
        }

    def transform(self, x: np.ndarray) -> np.ndarray:
        if not self.columns:
            return x
        return ((x - self.shift.numpy()) / self.scale.numpy()).astype(np.float32)

    def scale_targets(self, x: Tensor, k: int) -> Tensor:
        """Scale the first ``k`` columns (the targets) of ``x`` (..., k): ``inverse``'s inverse."""
        if not self.columns:
            return x
        return (x - self.shift[:k].to(x)) / self.scale[:k].to(x)

    def inverse(self, x: Tensor, k: int) -> Tensor:
        """Undo the scaling of the first ``k`` columns (the targets) of ``x`` (..., k)."""
        if not self.columns:
            return x
        return x * self.scale[:k].to(x) + self.shift[:k].to(x)
