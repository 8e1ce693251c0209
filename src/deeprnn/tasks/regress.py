r"""Many-to-one regression: a sequence (N, T, F) -> real targets (N, K), trained with MSE.

The long-term-dependency benchmarks live here: the adding problem (Hochreiter & Schmidhuber
1997) and the product of the first and last values, both built in (``data.source: synthetic``),
and any other numeric data through ``data.reader``. Every result is reported beside the
*predict-the-training-mean* baseline (``test_mse_mean_baseline``, and the ratio
``test_mse_vs_mean``): a model that learnt nothing about the dependency scores 1.0.

.. math::
    \hat y = W\,\mathrm{pool}(\mathrm{DeepRNN}(x_{1:T})) + b, \qquad
    \mathcal{L} = \frac{1}{NK} \sum_{n,k} (\hat y_{nk} - y_{nk})^2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError

from deeprnn.tasks._body import InputConfig, ManyToOne, RNNConfig
from deeprnn.tasks._data import TaskData, pad_floats
from deeprnn.tasks.base import TaskModule


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


@dataclass
class RegressConfig:
    """Input layer (linear/identity), recurrent body, pooling and a linear head."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    pooling: Literal["last", "mean", "max", "attention"] = "last"
    head_hidden: int = 0
    head_dropout: float = 0.0


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
            raw = {
                split: synthetic_pairs(cfg.synthetic, n, cfg.sequence_length, self.seed * 10 + i)
                for i, (split, n) in enumerate(zip(("train", "val", "test"), cfg.sizes))
            }
        else:
            from deeprnn.tasks._sources import call_reader

            raw = call_reader(cfg.reader, cfg.reader_args)
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


class Regress(ManyToOne, TaskModule):
    """``forward(x (N, T, F), lengths (N,)) -> (N, K)``."""

    config_class = RegressConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        cfg, art = self.config, self.artifacts
        for key in ("input_size", "output_size", "train_mean"):
            if key not in art:
                raise ValueError(f"Regress needs artifacts[{key!r}] (from the data module)")
        self.build_many_to_one(cfg, art["output_size"], input_size=art["input_size"])
        self.register_buffer("train_mean", torch.tensor(art["train_mean"]), persistent=False)
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict(
                    {
                        "mse": MeanSquaredError(),
                        "mae": MeanAbsoluteError(),
                        "mse_mean_baseline": MeanSquaredError(),
                    }
                )
                for stage in ("train_", "val_", "test_")
            }
        )

    def step(self, batch, stage: str):
        x, lengths, y = batch
        pred = self(x, lengths)
        loss = nn.functional.mse_loss(pred, y)
        m = self.metrics[f"{stage}_"]
        m["mse"].update(pred.detach(), y)
        m["mae"].update(pred.detach(), y)
        m["mse_mean_baseline"].update(self.train_mean.expand_as(y), y)
        return loss, dict(m.items())

    def _ratio(self, stage: str) -> None:
        """``{stage}_mse_vs_mean``: the MSE over the predict-the-mean baseline's (1.0: nothing
        learnt); computed before Lightning resets the epoch's metrics."""
        m = self.metrics[f"{stage}_"]
        if m["mse"].update_called:
            base = float(m["mse_mean_baseline"].compute())
            self.log(f"{stage}_mse_vs_mean", float(m["mse"].compute()) / max(base, 1e-12))

    def on_validation_epoch_end(self) -> None:
        self._ratio("val")

    def on_test_epoch_end(self) -> None:
        self._ratio("test")

    def predict_raw(self, records: list, **options) -> list[dict]:
        """``{"x": [[...], ...]}`` rows (or (T, F) arrays) -> ``{"value": [...]}``."""
        data = RegressData(None, artifacts=self.artifacts)
        items = []
        for i, r in enumerate(records):
            if isinstance(r, dict) and "x" not in r:
                raise ValueError(f"record {i} has no 'x' field; it has {sorted(r)}")
            x = r["x"] if isinstance(r, dict) else r
            items.append(data.encode(x, None, f"record {i}"))
        x, lengths = pad_floats([x for x, _ in items])
        with torch.no_grad():
            pred = self(x.to(self.device), lengths.to(self.device)).cpu()
        return [{"value": row.tolist()} for row in pred]

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        x = torch.randn(batch_size, steps, self.artifacts["input_size"])
        return {"x": x, "lengths": torch.full((batch_size,), steps, dtype=torch.long)}

    def onnx_forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self(x, lengths)
