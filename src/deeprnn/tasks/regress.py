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

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError

from deeprnn.models import InputConfig, ManyToOne, RNNConfig
from deeprnn.tasks._data import pad_floats
from deeprnn.tasks.base import TaskModule
from deeprnn.tasks.regress_data import RegressData


@dataclass
class RegressConfig:
    """Input layer (linear/identity), recurrent body, pooling and a linear head."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    pooling: Literal["last", "mean", "max", "attention"] = "last"
    head_hidden: int = 0
    head_dropout: float = 0.0


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
