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

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from deeprnn.tasks._body import InputConfig, ManyToOne, RNNConfig
from deeprnn.tasks._data import TaskData, Vocab, pad_floats, pad_ids, tokenize, vocab_from_itos
from deeprnn.tasks._sources import call_reader, labelled_splits_from_csv
from deeprnn.tasks.base import TaskModule


@dataclass
class ClassifyDataConfig:
    """Where the labelled sequences come from and how text becomes tokens."""

    source: Literal["csv", "reader", "synthetic"] = "synthetic"
    path: str | None = None
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    level: Literal["word", "char", "whitespace"] = "word"
    lower: bool = True
    max_length: int | None = 400
    min_freq: int = 1
    max_vocab: int | None = 20000
    vocab_path: str | None = None
    bucket: bool = False  # training batches of similar lengths: less padding computed
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    num_examples: int = 1000
    sequence_length: int = 20
    num_features: int = 2


@dataclass
class ClassifyConfig:
    """The classifier: input layer, recurrent body, pooling and head."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    pooling: Literal["last", "mean", "max", "attention"] = "last"
    head_hidden: int = 0
    head_dropout: float = 0.0
    label_smoothing: float = 0.0


def _synthetic(cfg: ClassifyDataConfig, seed: int) -> list:
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(cfg.num_examples):
        steps = int(rng.integers(1, cfg.sequence_length + 1))
        x = rng.standard_normal((steps, cfg.num_features)).astype(np.float32)
        items.append((x, "positive" if x[:, 0].sum() > 0 else "negative"))
    return items


class ClassifyData(TaskData):
    """Labelled sequences -> batches ``(x, lengths, y)``; x is (N, T) ids or (N, T, F) floats."""

    def load(self) -> None:
        cfg = self.config
        if cfg.source == "synthetic":
            from deeprnn.tasks._data import split_indices

            items = _synthetic(cfg, self.seed)
            tr, va, te = split_indices(
                len(items),
                [1 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction],
                self.seed,
            )
            raw = {"train": [items[i] for i in tr], "val": [items[i] for i in va]}
            raw["test"] = [items[i] for i in te]
        elif cfg.source == "csv":
            raw = labelled_splits_from_csv(cfg, self.seed, cfg.text_column, cfg.label_column)
        else:
            raw = call_reader(cfg.reader, cfg.reader_args, "data.reader")
        self._fit_artifacts(raw)
        self.splits = {name: [self.encode(x, y) for x, y in items] for name, items in raw.items()}

    def _fit_artifacts(self, raw: dict) -> None:
        cfg, art = self.config, self.artifacts
        numeric = not isinstance(raw["train"][0][0], (str, list, tuple))
        if "labels" not in art:
            labels = sorted({str(y) for _, y in raw["train"]}, key=_label_key)
            if len(labels) < 2:
                raise ValueError(f"the training data has {len(labels)} label(s); need at least 2")
            art["labels"] = labels
        if numeric:
            art.setdefault("input_size", int(np.asarray(raw["train"][0][0]).shape[-1]))
            return
        art.setdefault("level", cfg.level)
        art.setdefault("lower", cfg.lower)
        art.setdefault("max_length", cfg.max_length)
        if "vocab" not in art:
            if cfg.vocab_path:
                from deeprnn.tasks._sources import read_vocab

                art["vocab"] = read_vocab(cfg.vocab_path)
            else:
                toks = (self.tokens(x) for x, _ in raw["train"])
                art["vocab"] = Vocab.build(toks, min_freq=cfg.min_freq, max_size=cfg.max_vocab).itos

    def tokens(self, x) -> list[str]:
        art = self.artifacts
        toks = tokenize(x, art["level"], art["lower"]) if isinstance(x, str) else list(x)
        return toks[: art["max_length"]] if art.get("max_length") else toks

    def encode(self, x, y=None):
        """One raw example -> (ids or float tensor, label index or -1)."""
        art = self.artifacts
        if "vocab" in art:
            if not hasattr(self, "_vocab"):
                self._vocab = vocab_from_itos(art["vocab"])
            feats = self._vocab.encode(self.tokens(x))
        else:
            feats = torch.as_tensor(np.asarray(x, dtype=np.float32))
            if feats.dim() != 2 or feats.shape[-1] != art["input_size"]:
                raise ValueError(
                    f"a numeric example must be (T, {art['input_size']}), got {tuple(feats.shape)}"
                )
        if y is None:
            return feats, -1
        label = str(y)
        if label not in art["labels"]:
            raise ValueError(f"label {label!r} not seen in training; labels: {art['labels']}")
        return feats, art["labels"].index(label)

    def collate(self, items: list):
        xs = [x for x, _ in items]
        x, lengths = pad_floats(xs) if isinstance(xs[0], Tensor) else pad_ids(xs)
        return x, lengths, torch.tensor([y for _, y in items], dtype=torch.long)


def _label_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


class Classify(ManyToOne, TaskModule):
    """Many-to-one classifier. ``forward(x, lengths) -> logits (N, C)``."""

    config_class = ClassifyConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        cfg, art = self.config, self.artifacts
        if "labels" not in art:
            raise ValueError("Classify needs artifacts['labels'] (the class names)")
        n = len(art["labels"])
        self.build_many_to_one(cfg, n, vocab=art.get("vocab"), input_size=art.get("input_size"))
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
