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
from deeprnn.models.ensemble import (
    Ensemble,
    average_probabilities,
    check_ensemble,
    members_loss,
)
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
    # k networks (different initialisations) trained together, each on its own loss; their
    # class probabilities averaged (deeprnn.models.ensemble; InceptionTime uses 5)
    ensemble: int = 1


def build_network(net: nn.Module, cfg: ClassifyConfig, art: dict) -> None:
    """Give ``net`` the classifier's layers as attributes: ``fcn`` + ``head`` (FCN), or
    ``encoder`` + ``pool`` + ``head`` (+ ``fcn`` for LSTM-FCN) — the names a language model's
    weights and older checkpoints are matched by."""
    n = len(art["labels"])
    net.fcn = None
    if cfg.architecture == "fcn":
        net.fcn = FCN(art["input_size"], tuple(cfg.fcn_channels), tuple(cfg.fcn_kernels))
        net.head = nn.Sequential(nn.Dropout(cfg.head_dropout), nn.Linear(net.fcn.output_size, n))
        return
    extra = 0
    if cfg.architecture == "lstm_fcn":
        net.fcn = FCN(art["input_size"], tuple(cfg.fcn_channels), tuple(cfg.fcn_kernels))
        extra = net.fcn.output_size
    net.build_many_to_one(
        cfg, n, vocab=art.get("vocab"), input_size=art.get("input_size"), extra=extra
    )


def network_logits(net: nn.Module, cfg: ClassifyConfig, x: Tensor, lengths: Tensor) -> Tensor:
    """The logits (N, C) of a network built by :func:`build_network`."""
    if cfg.architecture == "rnn" and not cfg.normalize:
        return ManyToOne.forward(net, x, lengths)
    mask = lengths_to_mask(lengths, x.shape[1])  # (N, T)
    if cfg.normalize == "series":
        x = zscore_series(x, mask)
    if cfg.architecture == "fcn":
        return net.head(net.fcn(x, mask))
    out, states, mask = net.encoder(x, lengths)
    pooled = net.pool(out, states, mask, lengths)
    if net.fcn is not None:
        pooled = torch.cat([pooled, net.fcn(x, mask)], dim=-1)  # (N, F_rnn + C)
    return net.head(pooled)


class ClassifierNetwork(ManyToOne, nn.Module):
    """One classifier network (an ensemble's member): ``forward(x, lengths) -> logits``."""

    def __init__(self, cfg: ClassifyConfig, art: dict):
        nn.Module.__init__(self)
        self.config = cfg
        build_network(self, cfg, art)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return network_logits(self, self.config, x, lengths)


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
        self.ensemble = None
        if check_ensemble(cfg.ensemble) == 1:
            build_network(self, cfg, art)
        else:  # the members are networks of their own: state keys ensemble.members.{j}.*
            self.ensemble = Ensemble(lambda: ClassifierNetwork(cfg, art), cfg.ensemble)
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
        """``x`` (N, T) ids or (N, T, F) features, ``lengths`` (N,) -> logits (N, C); for an
        ensemble the log of the members' mean class probabilities (its softmax is that mean)."""
        if self.ensemble is None:
            return network_logits(self, self.config, x, lengths)
        return average_probabilities(self.ensemble(x, lengths))  # (N, C)

    def step(self, batch, stage: str):
        x, lengths, y = batch
        smoothing = self.config.label_smoothing
        if self.ensemble is not None and stage == "train":
            member_logits = self.ensemble(x, lengths)  # (K, N, C)
            losses = [
                nn.functional.cross_entropy(z, y, label_smoothing=smoothing) for z in member_logits
            ]
            loss = members_loss(losses)  # each member trained on its own loss
            logits = average_probabilities(member_logits.detach())  # train metrics: ensemble
        else:  # evaluation: the loss of the averaged probabilities (early stopping uses it)
            logits = self(x, lengths)
            loss = nn.functional.cross_entropy(logits, y, label_smoothing=smoothing)
        metrics = {}
        for name, metric in self.metrics[f"{stage}_"].items():
            metric.update(logits.detach(), y)
            metrics[name] = metric
        return loss, metrics

    def gradient_groups(self) -> list[nn.Module]:
        """What gradient clipping clips on its own: each ensemble member, else the model."""
        return list(self.ensemble.members) if self.ensemble is not None else [self]

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
