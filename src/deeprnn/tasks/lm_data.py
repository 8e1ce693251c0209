"""Text data for the language-model task: documents, the token stream and its batchings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import DataLoader, IterableDataset

from deeprnn.tasks._data import (
    BOS,
    EOS,
    IGNORE,
    TaskData,
    Vocab,
    call_reader,
    carve,
    limit_splits,
    pad_ids,
    split_indices,
    tokenize,
    vocab_from_itos,
)


@dataclass
class LMDataConfig:
    """Text files, what a document is, and how the stream is batched.

    ``documents``: ``file`` (one file = one document, as for PTB and tinyshakespeare), ``line``
    (every non-empty line, as for a list of names) or ``blank_line`` (paragraphs).
    ``line_eos`` appends ``<eos>`` to every line (PTB's convention); ``add_bos`` / ``add_eos``
    wrap every document. With one file (``path``) and ``documents: file`` the text is cut in
    order into train/val/test by ``val_fraction`` / ``test_fraction``; with several documents
    they are shuffled into splits."""

    source: Literal["text", "reader"] = "text"
    path: str | None = None
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    level: Literal["char", "word", "whitespace"] = "char"
    lower: bool = False
    documents: Literal["file", "line", "blank_line"] = "file"
    line_eos: bool = False
    add_bos: bool = False
    add_eos: bool = False
    batching: Literal["auto", "stream", "documents"] = "auto"
    bptt: int = 64
    max_length: int = 512
    min_freq: int = 1
    max_vocab: int | None = 50000
    val_fraction: float = 0.1
    test_fraction: float = 0.0

    def validate(self, where: str) -> None:
        if self.bptt < 1:
            raise ValueError(f"{where}.bptt must be >= 1, got {self.bptt!r}")


def split_documents(text: str, kind: str) -> list[str]:
    if kind == "file":
        return [text]
    if kind == "line":
        return [line for line in text.splitlines() if line.strip()]
    return [p for p in text.split("\n\n") if p.strip()]


def _read(path: str, name: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{name}: file not found: {p}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{name}: {p} is not UTF-8 text ({e})") from e


class StreamChunks(IterableDataset):
    """Consecutive ``bptt`` chunks of a batchified stream, for one rank's block of rows."""

    def __init__(
        self, ids: torch.Tensor, starts: torch.Tensor, rows: int, bptt: int, rank=0, world=1
    ):
        per = len(ids) // rows
        if per < 2:
            raise ValueError(
                f"the text has {len(ids)} tokens: too few for batch_size={rows} rows; "
                "lower trainer.batch_size"
            )
        self.data = ids[: rows * per].view(rows, per)  # (B, L)
        self.starts = starts[: rows * per].view(rows, per)
        if world > 1:
            block = rows // world
            if block < 1:
                raise ValueError(f"batch_size={rows} rows cannot be split over {world} processes")
            self.data = self.data[rank * block : (rank + 1) * block]
            self.starts = self.starts[rank * block : (rank + 1) * block]
        self.bptt = bptt

    def __len__(self) -> int:
        return -(-(self.data.shape[1] - 1) // self.bptt)

    def __iter__(self):
        steps = self.data.shape[1] - 1
        for i in range(0, steps, self.bptt):
            n = min(self.bptt, steps - i)
            y = self.data[:, i + 1 : i + 1 + n].clone()
            y[y == self._bos] = IGNORE  # predicting <bos> is meaningless
            yield {"x": self.data[:, i : i + n], "y": y, "starts": self.starts[:, i : i + n]}

    _bos = -1


class LMData(TaskData):
    """Documents -> ids; batches are dicts ``{"x", "y", "starts"}`` (stream) or
    ``{"x", "y", "lengths"}`` (documents)."""

    def load(self) -> None:
        cfg = self.config
        if cfg.source == "reader":
            raw = call_reader(cfg.reader, cfg.reader_args)
        elif cfg.train_path:
            raw = {
                s: split_documents(
                    _read(getattr(cfg, f"{s}_path"), f"data.{s}_path"), cfg.documents
                )
                for s in ("train", "val", "test")
                if getattr(cfg, f"{s}_path")
            }
        elif cfg.path:
            text = _read(cfg.path, "data.path")
            docs = split_documents(text, cfg.documents)
            fr = [1 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction]
            if len(docs) == 1:  # one document: cut the text in order
                n = len(text)
                a, b = round(n * fr[0]), round(n * (fr[0] + fr[1]))
                raw = {"train": [text[:a]], "val": [text[a:b]], "test": [text[b:]]}
            else:
                parts = split_indices(len(docs), fr, self.seed)
                raw = {s: [docs[i] for i in p] for s, p in zip(("train", "val", "test"), parts)}
        else:
            raise ValueError("data.source='text' needs data.path or data.train_path")
        art = self.artifacts
        for key in ("level", "lower", "line_eos", "add_bos", "add_eos"):
            art.setdefault(key, getattr(cfg, key))
        docs = {s: [self.tokens(d) for d in items if d] for s, items in raw.items()}
        if "vocab" not in art:
            specials = [
                s for s, on in ((BOS, cfg.add_bos), (EOS, cfg.add_eos or cfg.line_eos)) if on
            ]
            art["vocab"] = Vocab.build(
                docs["train"], min_freq=cfg.min_freq, max_size=cfg.max_vocab, specials=specials
            ).itos
        self.vocab = vocab_from_itos(art["vocab"])
        self.splits = {s: [self.vocab.encode(d) for d in items if d] for s, items in docs.items()}
        mode = cfg.batching
        self.mode = (
            ("stream" if cfg.documents == "file" else "documents") if mode == "auto" else mode
        )

    def tokens(self, doc) -> list[str]:
        art = self.artifacts
        if isinstance(doc, str):
            if art["line_eos"]:
                toks = []
                for line in doc.splitlines():
                    toks += [*tokenize(line, art["level"], art["lower"]), EOS]
            else:
                toks = tokenize(doc, art["level"], art["lower"])
        else:
            toks = list(doc)
        return ([BOS] if art["add_bos"] else []) + toks + ([EOS] if art["add_eos"] else [])

    # -- batching --------------------------------------------------------------------------------
    def _stream(self, split: str) -> DataLoader:
        docs = self.splits[split]
        ids = torch.tensor([i for d in docs for i in d], dtype=torch.long)
        starts = torch.zeros(len(ids), dtype=torch.bool)
        pos = 0
        for d in docs:
            starts[pos] = True
            pos += len(d)
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        # batch_size rows per process, as everywhere: the stream is cut into world * batch_size
        data = StreamChunks(ids, starts, self.batch_size * world, self.config.bptt, rank, world)
        data._bos = self.vocab.encode([BOS])[0] if BOS in self.vocab else -1
        return DataLoader(data, batch_size=None)

    def collate(self, items: list):
        items = [d[: self.config.max_length + 1] for d in items]
        x, lengths = pad_ids([d[:-1] for d in items])
        y, _ = pad_ids([d[1:] for d in items], value=IGNORE)
        return {"x": x, "y": y, "lengths": lengths}

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split == "test" and not self.splits.get("test"):
            split = "val"
        if self.mode == "stream":
            return self._stream(split)
        self.splits[split] = [d for d in self.splits[split] if len(d) > 1]
        return super()._loader(split, train)


# -- data.reader functions for the real datasets ----------------------------------------------


def imdb_text(
    path: str,
    val_fraction: float = 0.02,
    seed: int = 0,
    unsup: bool = True,
    limit: int | None = None,
) -> dict[str, list]:
    """IMDB reviews as language-model documents: the train (and the 50,000 unlabelled) reviews
    for pretraining; the test reviews are left out (the classifier is scored on them)."""
    from deeprnn.data import read_imdb

    data = read_imdb(path, "train", include_unsup=unsup)
    docs = [t.replace("<br />", " ") for t in data.texts]
    train, val = carve(docs, val_fraction, seed)
    return limit_splits({"train": train, "val": val}, limit, seed)


def names_text(
    path: str,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    ascii: bool = False,
    limit: int | None = None,
) -> dict[str, list]:
    """The same split as :func:`deeprnn.tasks.classify_data.names`, as language-model documents
    (one name each)."""
    from deeprnn.tasks.classify_data import names

    splits = names(path, val_fraction, test_fraction, seed, ascii, limit)
    return {k: [n for n, _ in v] for k, v in splits.items()}
