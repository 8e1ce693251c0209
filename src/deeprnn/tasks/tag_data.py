"""The tag task's data: tagged sentences from CoNLL files or a ``data.reader``, encoded into
``(words, chars, lengths, tags)`` batches.

``data.source``: ``conll`` (CoNLL files read by :func:`deeprnn.data.read_conll`: one token per
line, the token in column ``token_column`` and the tag in ``tag_column``, blank lines between
sentences, ``-DOCSTART-`` skipped; ``scheme: BIO`` converts CoNLL-2003's IOB1 tags) from
``train_path`` / ``val_path`` / ``test_path``, or ``path`` cut by fractions; or ``reader``
returning ``{"train": [(tokens, tags), ...], ...}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from deeprnn.tasks._data import (
    IGNORE,
    TaskData,
    Vocab,
    call_reader,
    cut_by_fractions,
    pad_ids,
    reader_source,
    vocab_from_itos,
)

_DIGITS = re.compile(r"\d")


@dataclass
class TagDataConfig:
    """Where the tagged sentences come from."""

    source: Literal["conll", "reader"] = "conll"
    path: str | None = None
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    token_column: int = 0
    tag_column: int = -1
    scheme: Literal["BIO", "IOBES"] | None = None
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    lower: bool = False
    normalize_digits: bool = False  # every digit of a word becomes 0 (its characters keep them)
    min_freq: int = 1
    max_vocab: int | None = 50000
    max_word_length: int = 20
    bucket: bool = False  # training batches of similar lengths: less padding computed
    val_fraction: float = 0.1
    test_fraction: float = 0.1


def read_conll(path, token_column: int = 0, tag_column: int = -1, scheme=None, name="data.path"):
    """Sentences of a CoNLL file as ``[(tokens, tags), ...]`` (:func:`deeprnn.data.read_conll`)."""
    from deeprnn.data import read_conll as read

    if not Path(path).is_file():
        raise ValueError(f"{name}: file not found: {path}")
    return list(read(path, token_column=token_column, label_column=tag_column, scheme=scheme))


class TagData(TaskData):
    """Sentences -> batches ``(words (N, T), chars (N, T, L), lengths (N,), tags (N, T))``."""

    def load(self) -> None:
        cfg = self.config
        self.split_sources = sources = {}
        own = [s for s in ("val", "test") if getattr(cfg, f"{s}_path")]
        if cfg.source == "reader":
            raw = call_reader(cfg.reader, cfg.reader_args)
            sources.update({s: reader_source(cfg.reader, cfg.reader_args, s) for s in raw})
        elif cfg.train_path:
            raw = {}
            for split in ("train", "val", "test"):
                path = getattr(cfg, f"{split}_path")
                if path:
                    raw[split] = read_conll(
                        path, cfg.token_column, cfg.tag_column, cfg.scheme, f"data.{split}_path"
                    )
                    sources[split] = str(path)
        elif cfg.path:  # val_path / test_path are those splits; the rest is cut from path
            items = read_conll(cfg.path, cfg.token_column, cfg.tag_column, cfg.scheme)
            raw = cut_by_fractions(items, cfg, self.seed, cfg.path, own, sources, "sentences")
            for split in own:
                path = getattr(cfg, f"{split}_path")
                raw[split] = read_conll(
                    path, cfg.token_column, cfg.tag_column, cfg.scheme, f"data.{split}_path"
                )
                sources[split] = str(path)
        else:
            raise ValueError("data.source='conll' needs data.train_path or data.path")
        art = self.artifacts
        art.setdefault("lower", cfg.lower)
        art.setdefault("normalize_digits", cfg.normalize_digits)
        art.setdefault("max_word_length", cfg.max_word_length)
        train = raw["train"]
        if "vocab" not in art:
            words = ([self._norm(w) for w in toks] for toks, _ in train)
            art["vocab"] = Vocab.build(words, min_freq=cfg.min_freq, max_size=cfg.max_vocab).itos
        if "chars" not in art:
            art["chars"] = Vocab.build(list(w) for toks, _ in train for w in toks).itos
        if "labels" not in art:
            art["labels"] = sorted({t for _, tags in train for t in tags})
        self.splits = {s: [self.encode(t, g) for t, g in items] for s, items in raw.items()}

    def split_size(self, split: str) -> tuple[int, str]:
        return len(self.splits.get(split) or []), "sentences"

    def _norm(self, word: str) -> str:
        if self.artifacts.get("normalize_digits"):
            word = _DIGITS.sub("0", word)
        return word.lower() if self.artifacts["lower"] else word

    def encode(self, tokens: list[str], tags: list[str] | None = None):
        art = self.artifacts
        if not hasattr(self, "_vocab"):
            self._vocab = vocab_from_itos(art["vocab"])
            self._chars = vocab_from_itos(art["chars"], "artifacts.chars")
            self._labels = {t: i for i, t in enumerate(art["labels"])}
        words = self._vocab.encode([self._norm(w) for w in tokens])
        chars = [self._chars.encode(list(w[: art["max_word_length"]])) or [1] for w in tokens]
        if tags is None:
            ids = [IGNORE] * len(tokens)
        else:
            if len(tags) != len(tokens):
                raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags: {tokens[:5]}...")
            unknown = [t for t in tags if t not in self._labels]
            if unknown:
                raise ValueError(f"tag {unknown[0]!r} not seen in training; tags: {art['labels']}")
            ids = [self._labels[t] for t in tags]
        return words, chars, ids

    def collate(self, items: list):
        words, lengths = pad_ids([w for w, _, _ in items])
        tags, _ = pad_ids([t for _, _, t in items], value=IGNORE)
        width = max([len(c) for _, cs, _ in items for c in cs] or [1])
        chars = torch.zeros(*words.shape, width, dtype=torch.long)
        for i, (_, cs, _) in enumerate(items):
            for j, c in enumerate(cs):
                chars[i, j, : len(c)] = torch.as_tensor(c)
        return words, chars, lengths, tags
