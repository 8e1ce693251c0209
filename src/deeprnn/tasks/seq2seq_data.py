"""Data for the ``seq2seq`` task: sentence pairs -> token ids, vocabularies, bucketed batches.

Sources (``data.source``):

* ``synthetic`` — a built-in :class:`~deeprnn.seq2seq.synthetic.SyntheticTask` (``dates``,
  ``reverse``, ``sort``, ``copy``), drawn once with the run's seed into fixed splits;
* ``parallel`` — line-aligned files ``{dir}/{split}.{src_lang}`` / ``.{tgt_lang}`` (Multi30k's
  ``train / val / test2016``), read with :func:`deeprnn.data.read_parallel`;
* ``csv`` — a CSV with source and target columns (cut into splits, or one file per split);
* ``reader`` — any ``"package.module:function"`` returning ``{split: [(source, target), ...]}``.

Artifacts (what a model needs to translate new text): ``src_vocab`` / ``tgt_vocab``
(:class:`deeprnn.data.Vocab` dicts, ``<go>``/``<eos>`` reserved), ``level``, ``lower``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from deeprnn.data.tokenizers import CharTokenizer
from deeprnn.data.vocab import Vocab
from deeprnn.tasks._data import (
    TaskData,
    call_reader,
    labelled_splits_from_csv,
    pad_ids,
    reader_source,
)


@dataclass
class Seq2SeqDataConfig:
    """Where the pairs come from and how they become ids.

    ``level``: ``word`` (words and punctuation marks; apostrophes and hyphens inside words
    stay), ``char``, ``whitespace`` or ``auto`` (``char`` for the synthetic dates, else
    ``whitespace`` for synthetic tasks and ``word`` for text). ``shared_vocab``: one vocabulary
    for both sides. ``max_src_len`` / ``max_tgt_len`` drop *training* pairs longer than that
    (counted in ``skipped``; evaluation splits are never filtered). ``bucket``: training
    batches of similar lengths (less padding, same epochs)."""

    source: Literal["synthetic", "parallel", "csv", "reader"] = "synthetic"
    synthetic: Literal["dates", "reverse", "sort", "copy"] = "dates"
    synthetic_min_len: int = 1
    synthetic_max_len: int = 10
    synthetic_sizes: list[int] = field(default_factory=lambda: [20000, 1000, 1000])
    dir: str | None = None
    src_lang: str = "en"
    tgt_lang: str = "de"
    splits: dict = field(default_factory=lambda: {"train": "train", "val": "val", "test": "test"})
    path: str | None = None
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    src_column: str = "source"
    tgt_column: str = "target"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    level: Literal["auto", "word", "char", "whitespace"] = "auto"
    lower: bool = False
    min_freq: int = 1
    max_vocab: int | None = 50000
    shared_vocab: bool = False
    max_src_len: int | None = None
    max_tgt_len: int | None = None
    bucket: bool = True

    def validate(self, where: str) -> None:
        if len(self.synthetic_sizes) != 3 or min(self.synthetic_sizes) < 1:
            raise ValueError(
                f"{where}.synthetic_sizes must be three positive ints (train, val, test), "
                f"got {self.synthetic_sizes!r}"
            )
        unknown = set(self.splits) - {"train", "val", "test"}
        if unknown or "train" not in self.splits:
            raise ValueError(
                f"{where}.splits maps train/val/test to file stems, got {self.splits!r}"
            )
        for name in ("max_src_len", "max_tgt_len"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{where}.{name} must be >= 1 or null, got {v!r}")
        if self.min_freq < 1:
            raise ValueError(f"{where}.min_freq must be >= 1, got {self.min_freq!r}")


# -- tokenisation (shared with the model's predict/detokenise) ------------------------------------

_HYPHEN_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?)]}%")
_NO_SPACE_AFTER = set("([{$")


def tokenize(text: str, level: str, lower: bool) -> list[str]:
    """``text`` -> tokens at ``level`` (``word``: words keep inner ``'`` and ``-``)."""
    if level == "char":
        return CharTokenizer(lower=lower)(text)
    if lower:
        text = text.lower()
    if level == "whitespace":
        return text.split()
    return _HYPHEN_WORD.findall(text)


def detokenize(tokens: list[str], level: str) -> str:
    """Tokens -> text: characters joined; words joined by spaces, none before closing and
    after opening punctuation (what sacrebleu's 13a tokeniser re-splits anyway)."""
    if level == "char":
        return "".join(tokens)
    if level == "whitespace":
        return " ".join(tokens)
    out: list[str] = []
    for tok in tokens:
        if out and not (tok in _NO_SPACE_BEFORE or out[-1] in _NO_SPACE_AFTER):
            out.append(" ")
        out.append(tok)
    return "".join(out)


def auto_level(cfg: Seq2SeqDataConfig) -> str:
    if cfg.level != "auto":
        return cfg.level
    if cfg.source == "synthetic":
        return "char" if cfg.synthetic == "dates" else "whitespace"
    return "word"


def _read_pairs(
    cfg: Seq2SeqDataConfig, seed: int, sources: dict | None = None
) -> dict[str, list[tuple[str, str]]]:
    """The raw ``(source, target)`` pairs of every split; ``sources`` (when given) gets where
    each split came from."""
    sources = {} if sources is None else sources
    if cfg.source == "synthetic":
        from deeprnn.seq2seq.synthetic import SyntheticTask

        task = SyntheticTask(
            cfg.synthetic, min_len=cfg.synthetic_min_len, max_len=cfg.synthetic_max_len
        )
        out = {}
        for i, (split, n) in enumerate(zip(("train", "val", "test"), cfg.synthetic_sizes)):
            src, tgt = task.sample(n, generator=torch.Generator().manual_seed(seed * 7 + i))
            out[split] = [(task.decode(s), task.decode(t)) for s, t in zip(src, tgt)]
            sources[split] = (
                f"synthetic {cfg.synthetic!r} task (lengths {cfg.synthetic_min_len} to "
                f"{cfg.synthetic_max_len}): {n} pairs drawn with seed {seed * 7 + i}"
            )
        return out
    if cfg.source == "parallel":
        from deeprnn.data import read_parallel

        if not cfg.dir:
            raise ValueError("data.source='parallel' needs data.dir (the folder of the files)")
        folder = Path(cfg.dir)
        if not folder.is_dir():
            raise ValueError(f"data.dir: folder not found: {folder}")
        out = {}
        for split, stem in cfg.splits.items():
            pd = read_parallel(folder / f"{stem}.{cfg.src_lang}", folder / f"{stem}.{cfg.tgt_lang}")
            out[split] = list(zip(pd.source, pd.target))
            sources[split] = f"{folder / stem}.{cfg.src_lang} + .{cfg.tgt_lang}"
        return out
    if cfg.source == "csv":
        raw = labelled_splits_from_csv(cfg, seed, cfg.src_column, cfg.tgt_column, sources)
        return {s: [(str(a), str(b)) for a, b in items] for s, items in raw.items()}

    raw = call_reader(cfg.reader, cfg.reader_args)
    sources.update({s: reader_source(cfg.reader, cfg.reader_args, s) for s in raw})
    out = {}
    for split, items in raw.items():
        pairs = []
        for i, item in enumerate(items):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ValueError(
                    f"data.reader: {cfg.reader} split {split!r} item {i} must be a "
                    f"(source, target) pair, got {item!r:.80}"
                )
            pairs.append((str(item[0]), str(item[1])))
        out[split] = pairs
    return out


class Seq2SeqData(TaskData):
    """Pairs -> batches ``{"src" (N, S), "tgt" (N, T) ending in <eos>, "index" (N,)}``;
    ``references[split][index]`` is the raw target text (for BLEU)."""

    def load(self) -> None:
        cfg, art = self.config, self.artifacts
        self.split_sources = {}
        raw = _read_pairs(cfg, self.seed, self.split_sources)
        art.setdefault("level", auto_level(cfg))
        art.setdefault("lower", cfg.lower)
        level, lower = art["level"], art["lower"]
        toks = {
            s: [(tokenize(a, level, lower), tokenize(b, level, lower)) for a, b in pairs]
            for s, pairs in raw.items()
        }
        train = toks["train"]
        if "src_vocab" not in art:
            kw = dict(min_freq=cfg.min_freq, max_size=cfg.max_vocab, go_eos=True)
            if cfg.shared_vocab:
                both = [a for a, _ in train] + [b for _, b in train]
                art["src_vocab"] = art["tgt_vocab"] = Vocab.build(both, **kw).to_dict()
            else:
                art["src_vocab"] = Vocab.build([a for a, _ in train], **kw).to_dict()
                art["tgt_vocab"] = Vocab.build([b for _, b in train], **kw).to_dict()
        self.src_vocab = Vocab.from_dict(art["src_vocab"], "artifacts.src_vocab")
        self.tgt_vocab = Vocab.from_dict(art["tgt_vocab"], "artifacts.tgt_vocab")
        self.skipped = {}
        self.references: dict[str, list[str]] = {}
        self.sources: dict[str, list[str]] = {}
        self.splits = {}
        for split, pairs in toks.items():
            items, refs, srcs = [], [], []
            for (a, b), (ra, rb) in zip(pairs, raw[split]):
                too_long = (cfg.max_src_len and len(a) > cfg.max_src_len) or (
                    cfg.max_tgt_len and len(b) > cfg.max_tgt_len
                )
                if split == "train" and too_long:
                    self.skipped["longer than max_src_len / max_tgt_len"] = (
                        self.skipped.get("longer than max_src_len / max_tgt_len", 0) + 1
                    )
                    continue
                if not a:
                    self.skipped[f"{split}: empty source"] = (
                        self.skipped.get(f"{split}: empty source", 0) + 1
                    )
                    continue
                items.append(
                    (
                        self.src_vocab.encode(a),
                        self.tgt_vocab.encode(b, add_eos=True),
                        len(refs),
                    )
                )
                refs.append(rb)
                srcs.append(ra)
            if split == "train" and not items and pairs:
                raise ValueError(
                    f"all {len(pairs)} training pairs are longer than data.max_src_len="
                    f"{cfg.max_src_len} / data.max_tgt_len={cfg.max_tgt_len} tokens (or empty)"
                )
            self.splits[split] = items
            self.references[split] = refs
            self.sources[split] = srcs

    def collate(self, items: list) -> dict:
        src, _ = pad_ids([s for s, _, _ in items])
        tgt, _ = pad_ids([t for _, t, _ in items])
        index = torch.tensor([i for _, _, i in items], dtype=torch.long)
        return {"src": src, "tgt": tgt, "index": index}

    def item_length(self, item) -> int:
        src, tgt, _ = item
        return len(src) + len(tgt)

    def split_name(self, stage: str) -> str:
        """The split a stage's loader reads (``test`` falls back to ``val``)."""
        return self.test_split() if stage == "test" else stage

    def split_size(self, split: str) -> tuple[int, str]:
        return len(self.splits.get(split) or []), "pairs"

    def provenance(self) -> dict:
        """:meth:`TaskData.provenance`, with the pairs each split dropped (``skipped``)."""
        out = super().provenance()
        for why, n in self.skipped.items():
            split, _, reason = why.partition(": ") if ": " in why else ("train", "", why)
            entry = out.get(split)
            if entry is not None and "fallback" not in entry:
                entry.setdefault("skipped", {})[reason] = n
        return out
