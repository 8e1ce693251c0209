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
    carve_source,
    limit_splits,
    pad_ids,
    reader_source,
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
    wrap every document.

    Files: ``path`` (or ``train_path``) is the base text; ``val_path`` / ``test_path`` give
    those splits files of their own, and a split without one is carved from the base by
    ``val_fraction`` / ``test_fraction``: in order when the base is one document
    (``documents: file``), shuffled documents otherwise. So ``path`` + ``test_path`` tests on
    the test file and validates on the last ``val_fraction`` of ``path``.

    ``document_reset`` (stream batching): a row's state is reset to zero where a new document
    begins (the default). ``false`` reads the stream as one text whose documents are separated
    by ``<eos>`` only, as AWD-LSTM and ULMFiT pretrain: no state reset, so every ``bptt`` chunk
    runs as one call to the RNN instead of one per segment between document starts (with
    ``batch_size`` 64 and reviews of ~250 words a document starts in most steps of some row)."""

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
    document_reset: bool = True
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
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{name}: {p} is not UTF-8 text ({e})") from e
    if not text.strip():
        raise ValueError(f"{name}: {p} is empty (no text)")
    return text


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

    def _read_text_splits(self) -> dict[str, list[str]]:
        """``data.path`` or ``data.train_path`` is the base text; ``val_path`` / ``test_path``
        give those splits their own files, and a split without a file of its own is carved from
        the base by ``val_fraction`` / ``test_fraction`` (in order for one document, shuffled
        documents otherwise). ``self.split_sources`` records where each split came from."""
        cfg = self.config
        if cfg.path and cfg.train_path:
            raise ValueError(
                f"give data.path (one text, carved into splits) or data.train_path, not both; "
                f"got path={cfg.path!r} and train_path={cfg.train_path!r}"
            )
        base_key = "data.path" if cfg.path else "data.train_path"
        base = cfg.path or cfg.train_path
        if not base:
            raise ValueError("data.source='text' needs data.path or data.train_path")
        own = {s: getattr(cfg, f"{s}_path") for s in ("val", "test") if getattr(cfg, f"{s}_path")}
        carved = [s for s in ("val", "test") if s not in own]
        fraction = {"val": cfg.val_fraction, "test": cfg.test_fraction}
        if sum(fraction[s] for s in carved) >= 1:
            raise ValueError(
                f"data.val_fraction + data.test_fraction must be < 1, got "
                f"{cfg.val_fraction} + {cfg.test_fraction}"
            )
        text = _read(base, base_key)
        docs = split_documents(text, cfg.documents)
        fr = [1 - sum(fraction[s] for s in carved)] + [fraction[s] for s in carved]
        names = ["train", *carved]
        raw: dict[str, list[str]] = {}
        self.split_sources = {}
        if len(docs) == 1:  # one document: cut the text in order
            n, start, cumulative = len(text), 0, 0.0
            for name, f in zip(names, fr):
                cumulative += f
                end = n if name == names[-1] else round(n * cumulative)
                raw[name] = [text[start:end]]
                self.split_sources[name] = f"{base} characters [{start}, {end})"
                start = end
        else:
            parts = split_indices(len(docs), fr, self.seed)
            start = 0
            for name, part, f in zip(names, parts, fr):
                raw[name] = [docs[i] for i in part]
                self.split_sources[name] = carve_source(
                    base, len(part), len(docs), f, self.seed, "documents", start
                )
                start += len(part)
        for split, path in own.items():
            raw[split] = split_documents(_read(path, f"data.{split}_path"), cfg.documents)
            self.split_sources[split] = str(path)
        return raw

    def load(self) -> None:
        cfg = self.config
        if cfg.source == "reader":
            raw = call_reader(cfg.reader, cfg.reader_args)
            self.split_sources = {s: reader_source(cfg.reader, cfg.reader_args, s) for s in raw}
        else:
            raw = self._read_text_splits()
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
        for d in docs if self.config.document_reset else docs[:1]:
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

    def split_size(self, split: str) -> tuple[int, str]:
        """A stream's tokens, or the documents batched one per row."""
        docs = self.splits.get(split) or []
        if self.mode == "stream":
            return sum(len(d) for d in docs), "tokens"
        return len(docs), "documents"

    def batch_rows(self) -> int:
        """The stream's ``bptt`` chunks (one batch row each), or the training documents."""
        n, _ = self.split_size("train")
        return n // self.config.bptt if self.mode == "stream" else n

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
    exclude_first_per_class: int = 0,
) -> dict[str, list]:
    """IMDB reviews as language-model documents: the train (and the 50,000 unlabelled) reviews
    for pretraining; the test reviews are left out (the classifier is scored on them).

    ``exclude_first_per_class: N`` also leaves out the first ``N`` train reviews of each class
    in sorted file-name order: exactly the reviews the class-folder reader keeps with
    ``max_per_class: N`` (``examples/imdb_folder_kfold.yaml``), so a language model pretrained
    here has never seen the small corpus its classifier is cross-validated on."""
    from deeprnn.data import read_imdb

    if isinstance(exclude_first_per_class, bool) or not isinstance(exclude_first_per_class, int):
        raise ValueError(
            "reader_args.exclude_first_per_class must be an int >= 0, got "
            f"{exclude_first_per_class!r}"
        )
    if exclude_first_per_class < 0:
        raise ValueError(
            f"reader_args.exclude_first_per_class must be >= 0, got {exclude_first_per_class!r}"
        )
    data = read_imdb(path, "train", include_unsup=unsup)
    excluded = _first_per_class(data.ids, data.labels, exclude_first_per_class)
    docs = [t.replace("<br />", " ") for t, i in zip(data.texts, data.ids) if i not in excluded]
    train, val = carve(docs, val_fraction, seed)
    return limit_splits({"train": train, "val": val}, limit, seed)


def _first_per_class(ids: list[str], labels: list[int], n: int) -> set[str]:
    """The ids of the first ``n`` labelled reviews of each class, ordered as the class-folder
    reader orders files (by path as a string: ``0_3.txt < 10000_4.txt < 1_1.txt``)."""
    if n == 0:
        return set()
    out: set[str] = set()
    for label in sorted({la for la in labels if la >= 0}):
        out.update(sorted(i for i, la in zip(ids, labels) if la == label)[:n])
    return out


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
