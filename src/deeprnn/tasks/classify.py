"""Sequence classification (many-to-one): text or numeric sequences -> one label.

Model: input layer (embedding or linear, optional Conv1D = C-LSTM) -> DeepRNN -> pooling
(``last`` / ``mean`` / ``max`` / ``attention``) -> MLP head. Metrics: accuracy and macro F1
(torchmetrics).

Data (``data.source``):

* ``csv``: a text column and a label column; one file cut into train/val/test by fractions
  (``path``), or ``train_path`` / ``val_path`` / ``test_path``;
* ``reader``: ``"package.module:function"`` called with ``reader_args``, returning
  ``{"train": [(x, label), ...], "val": [...], "test": [...]}`` where ``x`` is a string, a list
  of tokens, or a (T, F) float array — the hook for any data set reader;
* ``synthetic``: numeric sequences of random length whose label is the sign of the sum of their
  first feature (a quick check that training works).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from deeprnn.layers._sequence import lengths_to_mask
from deeprnn.models import FCN, InputConfig, ManyToOne, RNNConfig, zscore_series
from deeprnn.tasks.base import TaskModule
from deeprnn.tasks.classify_data import ClassifyData


@dataclass
class ClassifyConfig:
    """The classifier: input layer, recurrent body, pooling and head."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    pooling: Literal["last", "mean", "max", "attention", "concat"] = "last"
    head_hidden: int = 0
    head_dropout: float = 0.0
    head_norm: Literal["batch"] | None = None  # ULMFiT's head: batch norm before each layer
    label_smoothing: float = 0.0
    # numeric series: "rnn" (the recurrent body alone), "fcn" (Wang et al. 2017: three Conv1D +
    # batch-norm blocks and a global average, no RNN) or "lstm_fcn" (Karim et al. 2017: the FCN
    # branch beside the recurrent body, their pooled outputs concatenated before the head)
    architecture: Literal["rnn", "fcn", "lstm_fcn"] = "rnn"
    fcn_channels: list[int] = field(default_factory=lambda: [128, 256, 128])
    fcn_kernels: list[int] = field(default_factory=lambda: [8, 5, 3])
    # "series": z-normalise every series (each channel over its own real steps) on the way in
    normalize: Literal["series"] | None = None


class Classify(ManyToOne, TaskModule):
    """Many-to-one classifier. ``forward(x, lengths) -> logits (N, C)``."""

    config_class = ClassifyConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        cfg, art = self.config, self.artifacts
        if "labels" not in art:
            raise ValueError("Classify needs artifacts['labels'] (the class names)")
        n = len(art["labels"])
        if (cfg.architecture != "rnn" or cfg.normalize) and "vocab" in art:
            raise ValueError(
                f"model.architecture={cfg.architecture!r} / model.normalize={cfg.normalize!r} "
                "are for numeric series, and this model reads tokens"
            )
        self.fcn = None
        if cfg.architecture == "fcn":
            self.fcn = FCN(art["input_size"], tuple(cfg.fcn_channels), tuple(cfg.fcn_kernels))
            self.head = nn.Sequential(
                nn.Dropout(cfg.head_dropout), nn.Linear(self.fcn.output_size, n)
            )
        else:
            extra = 0
            if cfg.architecture == "lstm_fcn":
                self.fcn = FCN(art["input_size"], tuple(cfg.fcn_channels), tuple(cfg.fcn_kernels))
                extra = self.fcn.output_size
            self.build_many_to_one(
                cfg, n, vocab=art.get("vocab"), input_size=art.get("input_size"), extra=extra
            )
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict(
                    {
                        "acc": MulticlassAccuracy(n, average="micro"),
                        "f1": MulticlassF1Score(n, average="macro"),
                    }
                )
                for stage in ("train_", "val_", "test_")
            }
        )

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` (N, T) ids or (N, T, F) features, ``lengths`` (N,) -> logits (N, C)."""
        cfg = self.config
        if cfg.architecture == "rnn" and not cfg.normalize:
            return super().forward(x, lengths)
        mask = lengths_to_mask(lengths, x.shape[1])  # (N, T)
        if cfg.normalize == "series":
            x = zscore_series(x, mask)
        if cfg.architecture == "fcn":
            return self.head(self.fcn(x, mask))
        out, states, mask = self.encoder(x, lengths)
        pooled = self.pool(out, states, mask, lengths)
        if self.fcn is not None:
            pooled = torch.cat([pooled, self.fcn(x, mask)], dim=-1)  # (N, F_rnn + C)
        return self.head(pooled)

    def step(self, batch, stage: str):
        x, lengths, y = batch
        logits = self(x, lengths)
        loss = nn.functional.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)
        metrics = {}
        for name, metric in self.metrics[f"{stage}_"].items():
            metric.update(logits.detach(), y)
            metrics[name] = metric
        return loss, metrics

    # -- inference -------------------------------------------------------------------------------
    def predict_raw(self, records: list, **options) -> list[dict]:
        """Strings (text models) or (T, F) arrays / ``{"x": ...}`` rows -> label + probabilities."""
        data = ClassifyData(None, artifacts=self.artifacts)
        items = []
        for r in records:
            x = r.get("x", r.get("text")) if isinstance(r, dict) else r
            items.append(data.encode(x))
        x, lengths, _ = data.collate(items)
        with torch.no_grad():
            probs = torch.softmax(self(x.to(self.device), lengths.to(self.device)), -1).cpu()
        labels = self.artifacts["labels"]
        return [
            {"label": labels[int(p.argmax())], "probs": dict(zip(labels, map(float, p)))}
            for p in probs
        ]

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        lengths = torch.full((batch_size,), steps, dtype=torch.long)
        if "vocab" in self.artifacts:
            x = torch.randint(1, len(self.artifacts["vocab"]), (batch_size, steps))
        else:
            x = torch.randn(batch_size, steps, self.artifacts["input_size"])
        return {"x": x, "lengths": lengths}

    def onnx_forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self(x, lengths)
