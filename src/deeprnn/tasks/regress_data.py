"""The regress task's data: numeric sequences with real targets — the built-in long-term
dependency problems (adding, first x last) or a ``data.reader`` — as ``(x, lengths, y)`` batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from deeprnn.tasks._data import TaskData, call_reader, pad_floats, reader_source


@dataclass
class RegressDataConfig:
    """``synthetic``: ``adding`` (two marked values of U[0, 1) summed) or ``first_last``
    (x_1 * x_T), ``sizes`` examples (train, val, test) of ``sequence_length`` steps, drawn
    from the run's seed. ``reader``: ``"package.module:function"`` returning
    ``{split: [(x (T, F), y (K,) or a number), ...]}``."""

    source: Literal["synthetic", "reader"] = "synthetic"
    synthetic: Literal["adding", "first_last"] = "adding"
    sequence_length: int = 50
    sizes: list[int] = field(default_factory=lambda: [10000, 1000, 1000])
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)

    def validate(self, where: str) -> None:
        if self.sequence_length < 2:
            raise ValueError(f"{where}.sequence_length must be >= 2, got {self.sequence_length!r}")
        if len(self.sizes) != 3 or min(self.sizes) < 1:
            raise ValueError(
                f"{where}.sizes must be three positive ints (train, val, test), got {self.sizes!r}"
            )


def synthetic_pairs(kind: str, n: int, steps: int, seed: int) -> list[tuple[Tensor, Tensor]]:
    from deeprnn.data import adding_problem, first_last_product

    make = adding_problem if kind == "adding" else first_last_product
    x, y = make(n, steps, generator=seed)
    return list(zip(x, y.reshape(n, -1)))


class RegressData(TaskData):
    """Numeric sequences -> batches ``(x (N, T, F), lengths (N,), y (N, K))``."""

    def load(self) -> None:
        cfg = self.config
        if cfg.source == "synthetic":
            raw, self.split_sources = {}, {}
            for i, (split, n) in enumerate(zip(("train", "val", "test"), cfg.sizes)):
                seed = self.seed * 10 + i
                raw[split] = synthetic_pairs(cfg.synthetic, n, cfg.sequence_length, seed)
                self.split_sources[split] = (
                    f"synthetic {cfg.synthetic!r} problem (data.sequence_length="
                    f"{cfg.sequence_length}): {n} sequences drawn with seed {seed}"
                )
        else:
            raw = call_reader(cfg.reader, cfg.reader_args)
            self.split_sources = {s: reader_source(cfg.reader, cfg.reader_args, s) for s in raw}
        self.splits = {
            s: [self.encode(x, y, f"{s}[{i}]") for i, (x, y) in enumerate(items)]
            for s, items in raw.items()
        }
        art = self.artifacts
        x0, y0 = self.splits["train"][0]
        art.setdefault("input_size", int(x0.shape[-1]))
        art.setdefault("output_size", int(y0.numel()))
        ys = torch.stack([y for _, y in self.splits["train"]])  # (N, K)
        art.setdefault("train_mean", ys.mean(0).tolist())

    def encode(self, x, y=None, where: str = "example") -> tuple[Tensor, Tensor | None]:
        feats = torch.as_tensor(np.asarray(x, dtype=np.float32))
        size = self.artifacts.get("input_size")
        if feats.dim() != 2 or (size is not None and feats.shape[-1] != size):
            want = f"(T, {size})" if size is not None else "(T, F)"
            raise ValueError(f"{where}: x must have shape {want}, got {tuple(feats.shape)}")
        if not bool(torch.isfinite(feats).all()):
            raise ValueError(f"{where}: x holds NaN or Inf values")
        if y is None:
            return feats, None
        target = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1)
        return feats, target

    def collate(self, items: list):
        x, lengths = pad_floats([x for x, _ in items])
        return x, lengths, torch.stack([y for _, y in items])
