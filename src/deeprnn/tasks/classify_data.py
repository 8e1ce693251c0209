"""The classify task's data: labelled sequences from CSV files, a ``data.reader``, the real
datasets' readers, or synthetic data, encoded into ``(x, lengths, y)`` batches.

The ``data.reader`` functions here (:func:`imdb`, :func:`names`, :func:`mnist_rows`, :func:`uea`)
read a dataset's standard file format at a path you give (nothing is downloaded) with the
:mod:`deeprnn.data` readers and return ``{"train", "val", "test"}``. The validation split is
always carved out of the training data with the run's seed — never out of the test split, so no
choice is ever tuned on test. ``limit`` keeps the first examples of each split (after a seeded
shuffle), for quick runs and tests. Use them from a config (the stable names are in
:mod:`deeprnn.tasks.readers`)::

    data:
      source: reader
      reader: deeprnn.tasks.readers:imdb
      reader_args: {path: ../shared/data/imdb/aclImdb_v1.tar.gz, val_fraction: 0.1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from deeprnn.data.vocab import read_vocab
from deeprnn.tasks._data import (
    TaskData,
    Vocab,
    call_reader,
    carve,
    labelled_splits_from_csv,
    limit_splits,
    pad_floats,
    pad_ids,
    split_indices,
    stratified,
    tokenize,
    vocab_from_itos,
)


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


# -- data.reader functions for the real datasets ----------------------------------------------


def imdb(
    path: str, val_fraction: float = 0.1, seed: int = 0, limit: int | None = None
) -> dict[str, list]:
    """aclImdb (the ``.tar.gz`` or the folder): ``(review text, "pos" | "neg")``; 25,000 test
    reviews, 22,500 / 2,500 train / val. ``<br />`` tags become spaces."""
    from deeprnn.data import read_imdb

    out = {}
    for split in ("train", "test"):
        data = read_imdb(path, split)
        out[split] = [
            (text.replace("<br />", " "), data.label_names[y])
            for text, y in zip(data.texts, data.labels)
        ]
    out["train"], out["val"] = carve(out["train"], val_fraction, seed)
    return limit_splits(out, limit, seed)


def names(
    path: str,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    ascii: bool = False,
    limit: int | None = None,
) -> dict[str, list]:
    """The names-by-language folder: ``(surname, language)``, test and val stratified by
    language (``test_fraction`` / ``val_fraction`` of every language)."""
    from deeprnn.data import read_names

    data = read_names(path, ascii=ascii)
    items = [(n, data.languages[y]) for n, y in zip(data.names, data.labels)]
    train, test, val = stratified(items, lambda it: it[1], (test_fraction, val_fraction), seed)
    return limit_splits({"train": train, "val": val, "test": test}, limit, seed)


def mnist_rows(
    path: str,
    train_size: int = 8000,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
) -> dict[str, list]:
    """Row-by-row MNIST from the *test* idx files (the training images are not in the shared
    copy): the first ``train_size`` images train (minus ``val_fraction``), the remaining
    ``10,000 - train_size`` test. Each example is (28 rows, 28 pixels in [0, 1])."""
    from deeprnn.data import read_mnist

    folder = Path(path)
    images = next(iter(sorted(folder.glob("t10k-images*"))), None)
    labels = next(iter(sorted(folder.glob("t10k-labels*"))), None)
    if images is None or labels is None:
        raise ValueError(
            f"{folder}: t10k-images-idx3-ubyte(.gz) / t10k-labels-idx1-ubyte(.gz) not found"
        )
    data = read_mnist(images, labels)
    if not 0 < train_size < len(data.labels):
        raise ValueError(f"train_size must be in (0, {len(data.labels)}), got {train_size!r}")
    x = (data.images.astype(np.float32) / 255.0).reshape(-1, 28, 28)
    items = [(x[i], str(int(data.labels[i]))) for i in range(len(data.labels))]
    train, val = carve(items[:train_size], val_fraction, seed)
    return limit_splits({"train": train, "val": val, "test": items[train_size:]}, limit, seed)


def uea(
    path: str,
    name: str | None = None,
    val_fraction: float = 0.15,
    seed: int = 0,
    normalize: bool = True,
    limit: int | None = None,
) -> dict[str, list]:
    """A UEA/UCR ``.ts`` pair ``{name}_TRAIN.ts`` / ``{name}_TEST.ts`` in folder ``path``
    (``name`` defaults to the folder's name): ``(series (T_i, D), label)``, variable lengths
    kept. Validation is stratified out of train. ``normalize`` standardises every channel with
    the mean and std of the training series' steps (the test split's statistics are unused)."""
    from deeprnn.data import read_ts

    folder = Path(path)
    name = name or folder.name
    out = {}
    for split, suffix in (("train", "TRAIN"), ("test", "TEST")):
        data = read_ts(folder / f"{name}_{suffix}.ts")
        out[split] = [(np.asarray(s, np.float32), y) for s, y in zip(data.series, data.labels)]
    if normalize:
        steps = np.concatenate([x for x, _ in out["train"]])  # (sum T_i, D)
        mean, std = steps.mean(0), steps.std(0).clip(min=1e-8)
        out = {k: [((x - mean) / std, y) for x, y in v] for k, v in out.items()}
    train, val = stratified(out["train"], lambda it: it[1], (val_fraction,), seed)
    return limit_splits({"train": train, "val": val, "test": out["test"]}, limit, seed)
