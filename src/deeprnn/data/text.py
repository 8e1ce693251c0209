"""Plain-text readers: language-model corpora (PTB, tinyshakespeare, WikiText), the
names-by-language folder, and parallel line-aligned files (Multi30k); LM batching helpers."""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from deeprnn._validation import check_bool, check_choice, check_positive_int
from deeprnn.data._io import DataFormatError, as_path, existing_file, read_lines, read_text

__all__ = [
    "NamesData",
    "ParallelData",
    "TextCorpus",
    "batchify",
    "bptt_batches",
    "read_corpus",
    "read_names",
    "read_parallel",
    "unicode_to_ascii",
]


@dataclass
class TextCorpus:
    """A tokenised corpus for language modelling.

    Attributes:
        tokens: the token stream (words with an end-of-sentence token per line, or characters).
        path: the file read.
        num_lines: lines in the file.
        level: ``"word"`` or ``"char"``.
        skipped: lines not used, by reason (only blank lines, with ``skip_blank=True``).
    """

    tokens: list[str]
    path: str
    num_lines: int
    level: str
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.tokens)


def read_corpus(
    path: str | os.PathLike,
    level: str = "word",
    eos: str | None = "<eos>",
    lower: bool = False,
    skip_blank: bool = False,
    encoding: str = "utf-8",
) -> TextCorpus:
    """Read a plain-text language-model corpus.

    Word level follows the PTB / WikiText convention of Zaremba et al. and the PyTorch
    ``word_language_model`` example: split each line on whitespace and append ``eos``. PTB
    train gives 887,521 words + 42,068 ``<eos>`` = 929,589 tokens. Character level keeps every
    character, newlines included (tinyshakespeare: 1,115,394 characters).

    Args:
        path: a UTF-8 text file (``ptb.train.txt``, ``input.txt``, ``wiki.train.tokens``).
        level: ``"word"`` or ``"char"``.
        eos: token appended to each line at word level; ``None`` appends nothing.
        lower: lower-case the text.
        skip_blank: at word level, skip blank lines (WikiText has many) instead of giving
            them a lone ``eos``; they are counted in ``skipped``.
        encoding: text encoding.

    Returns:
        :class:`TextCorpus`.

    Raises:
        DataFormatError: the file is not valid text (naming the line) or holds no tokens.
    """
    path = existing_file("path", path)
    check_choice("level", level, ("word", "char"))
    check_bool("lower", lower)
    check_bool("skip_blank", skip_blank)
    if eos is not None and (not isinstance(eos, str) or not eos or eos.split() != [eos]):
        raise ValueError(f"eos must be a non-empty token without spaces or None, got {eos!r}")
    text = read_text(path, encoding)
    if lower:
        text = text.lower()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    skipped: Counter = Counter()
    if level == "char":
        tokens = list(text)
    else:
        tokens = []
        for line in lines:
            words = line.split()
            if not words and skip_blank:
                skipped["blank line"] += 1
                continue
            tokens.extend(words)
            if eos is not None:
                tokens.append(eos)
    if not tokens or (level == "word" and all(t == eos for t in tokens)):
        raise DataFormatError(path, None, "empty corpus: no tokens found")
    return TextCorpus(tokens, str(path), len(lines), level, skipped)


def batchify(ids: Sequence[int] | Tensor, batch_size: int) -> Tensor:
    """Cut a token-id stream into ``batch_size`` contiguous rows (the classic LM layout).

    The last ``len(ids) % batch_size`` ids, which do not fill a column, are left out.

    Args:
        ids: (S,) token ids.
        batch_size: B, the number of parallel streams.

    Returns:
        (B, S // B) LongTensor; row ``b`` holds ids ``[b * S//B, (b + 1) * S//B)``.
    """
    check_positive_int("batch_size", batch_size)
    ids = ids if isinstance(ids, Tensor) else torch.as_tensor(np.asarray(ids, dtype=np.int64))
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    cols = ids.numel() // batch_size
    if cols < 2:
        raise ValueError(
            f"batch_size must leave at least 2 ids per row, got {batch_size} for {ids.numel()} ids"
        )
    return ids[: cols * batch_size].long().view(batch_size, cols)  # (B, S // B)


def bptt_batches(data: Tensor, seq_len: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Truncated-BPTT windows over :func:`batchify` output: inputs and next-token targets.

    Args:
        data: (B, L) token ids.
        seq_len: steps per window (the last window may be shorter).

    Yields:
        ``(x, y)``, both (B, t) with ``t <= seq_len``; ``y`` is ``x`` shifted by one step.
    """
    check_positive_int("seq_len", seq_len)
    if not isinstance(data, Tensor) or data.dim() != 2:
        raise ValueError(f"data must be a (B, L) tensor, got {getattr(data, 'shape', type(data))}")
    for i in range(0, data.shape[1] - 1, seq_len):
        t = min(seq_len, data.shape[1] - 1 - i)
        yield data[:, i : i + t], data[:, i + 1 : i + 1 + t]


_ASCII_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'-")


def unicode_to_ascii(text: str) -> str:
    """Strip accents (NFD, drop combining marks) and keep ASCII letters and `` .,;'-``.

    ``"Ślusàrski"`` -> ``"Slusarski"`` (as in the PyTorch char-RNN name tutorials).
    """
    return "".join(
        c
        for c in unicodedata.normalize("NFD", text)
        if unicodedata.category(c) != "Mn" and c in _ASCII_KEEP
    )


@dataclass
class NamesData:
    """Names labelled by language; indexable as ``(name, label)``.

    Attributes:
        names: the names.
        labels: language ids; ``languages[label]`` is the language.
        languages: language names (file stems), sorted.
        path: the folder read.
        skipped: lines or files not used, by reason.
    """

    names: list[str]
    labels: list[int]
    languages: tuple[str, ...]
    path: str = ""
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.names[i], self.labels[i]


def read_names(
    folder: str | os.PathLike, ascii: bool = False, encoding: str = "utf-8"
) -> NamesData:
    """Read the names-by-language folder: one ``<Language>.txt`` per language, a name a line.

    Args:
        folder: the folder (``data/names`` of the PyTorch tutorials: 20,050 names, 18 languages).
        ascii: transliterate with :func:`unicode_to_ascii` (the tutorials' choice).
        encoding: text encoding.

    Returns:
        :class:`NamesData`, languages sorted by name, names in file order.
    """
    folder = as_path("folder", folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder: no such folder: {str(folder)!r}")
    check_bool("ascii", ascii)
    skipped: Counter = Counter()
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".txt")
    skipped["not a .txt file"] += sum(
        1 for p in folder.iterdir() if p.is_file() and p.suffix != ".txt"
    )
    names: list[str] = []
    labels: list[int] = []
    languages: list[str] = []
    for f in files:
        label = len(languages)
        kept = 0
        for line in read_lines(f, encoding):
            name = line.strip()
            if ascii:
                name = unicode_to_ascii(name).strip()
            if not name:
                skipped["blank line" if not line.strip() else "empty after ascii"] += 1
                continue
            names.append(name)
            labels.append(label)
            kept += 1
        if kept:
            languages.append(f.stem)
        else:
            skipped["empty language file"] += 1
    if not names:
        raise ValueError(f"folder holds no names: expected <Language>.txt files in {str(folder)!r}")
    if not skipped["not a .txt file"]:
        del skipped["not a .txt file"]
    return NamesData(names, labels, tuple(languages), str(folder), skipped)


@dataclass
class ParallelData:
    """Line-aligned sentence pairs; indexable as ``(source, target)``.

    Attributes:
        source, target: the sentences, pair ``i`` from line ``line_numbers[i]`` of both files.
        line_numbers: 1-based line of each kept pair.
        paths: the two files.
        skipped: pairs not kept, by reason (``"both sides blank"``, ``"one side blank"``).
    """

    source: list[str]
    target: list[str]
    line_numbers: list[int]
    paths: tuple[str, str]
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.source[i], self.target[i]


def read_parallel(
    source_path: str | os.PathLike,
    target_path: str | os.PathLike,
    keep_one_side_blank: bool = False,
    encoding: str = "utf-8",
) -> ParallelData:
    """Read two line-aligned files (``train.de`` / ``train.en``), stripping each line.

    Args:
        source_path: the source-language file.
        target_path: the target-language file, line ``i`` translating line ``i``.
        keep_one_side_blank: keep pairs where one side is blank (otherwise skipped, counted).
        encoding: text encoding.

    Returns:
        :class:`ParallelData` (Multi30k: 29,000 train, 1,014 val, 1,000 test2016 pairs).

    Raises:
        DataFormatError: the files have different line counts (naming both files and the
            first line that has no partner) or are not valid text.
    """
    src = existing_file("source_path", source_path)
    tgt = existing_file("target_path", target_path)
    check_bool("keep_one_side_blank", keep_one_side_blank)
    a, b = read_lines(src, encoding), read_lines(tgt, encoding)
    if len(a) != len(b):
        short, long_ = (src, tgt) if len(a) < len(b) else (tgt, src)
        raise DataFormatError(
            long_,
            min(len(a), len(b)) + 1,
            f"line has no partner: {src} has {len(a)} lines but {tgt} has {len(b)} "
            f"(the files must be line-aligned; {short} ends first)",
        )
    skipped: Counter = Counter()
    source, target, numbers = [], [], []
    for i, (s, t) in enumerate(zip(a, b), start=1):
        s, t = s.strip(), t.strip()
        if not s and not t:
            skipped["both sides blank"] += 1
            continue
        if (not s or not t) and not keep_one_side_blank:
            skipped["one side blank"] += 1
            continue
        source.append(s)
        target.append(t)
        numbers.append(i)
    if not source:
        raise DataFormatError(src, None, "empty corpus: no sentence pairs found")
    return ParallelData(source, target, numbers, (str(src), str(tgt)), skipped)
