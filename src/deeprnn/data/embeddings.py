"""Pretrained word vectors: GloVe and word2vec readers, and an ``nn.Embedding`` aligned to a
:class:`~deeprnn.data.vocab.Vocab`.

Shape symbols: V vocabulary size, D vector size.
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import torch
from torch import nn

from deeprnn._validation import check_bool, check_choice
from deeprnn.data._io import DataFormatError, existing_file
from deeprnn.data.vocab import PAD, Vocab

__all__ = [
    "CoverageReport",
    "WordVectors",
    "build_embedding_matrix",
    "pretrained_embedding",
    "read_glove",
    "read_word2vec",
]


@dataclass
class WordVectors:
    """Word vectors read from a file.

    Attributes:
        words: the words, in file order.
        vectors: (len(words), D) float32.
        path: the file read.
        skipped: lines not kept, by reason (``"duplicate word"``, ``"not in restrict_to"``).
    """

    words: list[str]
    vectors: np.ndarray
    path: str = ""
    skipped: Counter = field(default_factory=Counter)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def _open_binary(path) -> BinaryIO:
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def _decode_line(raw: bytes, path, lineno: int, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise DataFormatError(
            path, lineno, f"not valid {encoding} text (byte 0x{raw[e.start]:02x})"
        ) from None


class _Collector:
    """Keeps the first vector of each wanted word and counts the rest by reason."""

    def __init__(self, restrict_to):
        self.restrict_to = restrict_to
        self.words: list[str] = []
        self.rows: list[np.ndarray] = []
        self.seen: set[str] = set()
        self.skipped: Counter = Counter()

    def wants(self, word: str) -> bool:
        if self.restrict_to is not None and word not in self.restrict_to:
            self.skipped["not in restrict_to"] += 1
            return False
        if word in self.seen:
            self.skipped["duplicate word"] += 1
            return False
        return True

    def add(self, word: str, vec: np.ndarray) -> None:
        self.seen.add(word)
        self.words.append(word)
        self.rows.append(vec)

    def result(self, path, dim: int) -> WordVectors:
        vectors = np.stack(self.rows) if self.rows else np.zeros((0, dim), np.float32)
        return WordVectors(
            self.words, vectors.astype(np.float32, copy=False), str(path), self.skipped
        )


def _parse_text_lines(path, f: BinaryIO, first_line: int, dim: int | None, restrict_to, encoding):
    """Parse ``word v1 ... vD`` lines streamed from ``f`` (a file of any size)."""
    out = _Collector(restrict_to)
    for lineno, raw in enumerate(f, start=first_line):
        line = _decode_line(raw, path, lineno, encoding).rstrip("\r\n ")
        if not line:
            out.skipped["blank line"] += 1
            continue
        if dim is None:  # the first vector fixes D (its word has no space)
            dim = len(line.split(" ")) - 1
            if dim < 1:
                raise DataFormatError(path, lineno, "expected a word followed by its vector")
        parts = line.rsplit(" ", dim)  # GloVe 840B holds a few words with spaces
        if len(parts) != dim + 1 or not parts[0]:
            raise DataFormatError(
                path, lineno, f"expected a word and {dim} numbers, got {len(parts) - 1} fields"
            )
        word = parts[0]
        if not out.wants(word):
            continue
        try:
            vec = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            raise DataFormatError(
                path, lineno, f"non-numeric value in the vector of {word!r}"
            ) from None
        if not np.isfinite(vec).all():
            bad = parts[1 + int(np.flatnonzero(~np.isfinite(vec))[0])]
            raise DataFormatError(
                path, lineno, f"non-finite value {bad!r} in the vector of {word!r}"
            )
        out.add(word, vec)
    if dim is None:
        raise DataFormatError(path, None, "no vectors found (empty file)")
    return out.result(path, dim)


def read_glove(
    path: str | os.PathLike,
    restrict_to: Container[str] | None = None,
    encoding: str = "utf-8",
) -> WordVectors:
    """Read GloVe text vectors: one ``word v1 ... vD`` line per word, no header.

    The file is streamed, so only the kept vectors are held in memory.

    Args:
        path: ``glove.*.txt`` (or ``.txt.gz``).
        restrict_to: keep only these words (e.g. a :class:`Vocab`), which saves memory.
        encoding: text encoding of the file.

    Returns:
        :class:`WordVectors`. Words repeated later in the file are skipped and counted.
    """
    path = existing_file("path", path)
    with _open_binary(path) as f:
        return _parse_text_lines(path, f, 1, None, restrict_to, encoding)


def read_word2vec(
    path: str | os.PathLike,
    binary: bool | None = None,
    restrict_to: Container[str] | None = None,
    encoding: str = "utf-8",
) -> WordVectors:
    """Read word2vec vectors: a ``V D`` header, then V words with their vectors.

    The file is streamed, so only the kept vectors are held in memory.

    Args:
        path: the file (``.bin`` for the binary format; ``.gz`` is decompressed).
        binary: binary format (each word, a space, then D little-endian float32); ``None``
            guesses from the name (``.bin`` / ``.bin.gz``).
        restrict_to: keep only these words.
        encoding: encoding of the words.

    Returns:
        :class:`WordVectors`.
    """
    path = existing_file("path", path)
    if binary is None:
        binary = str(path).removesuffix(".gz").endswith(".bin")
    check_bool("binary", binary)
    with _open_binary(path) as f:
        first = f.readline()
        try:
            n_words, dim = (int(v) for v in first.split())
        except ValueError:
            raise DataFormatError(
                path, 1, f"expected a word2vec header 'count dim', got {first[:60]!r}"
            ) from None
        if dim < 1 or n_words < 0:
            raise DataFormatError(path, 1, f"invalid header: count {n_words}, dim {dim}")
        if not binary:
            wv = _parse_text_lines(path, f, 2, dim, restrict_to, encoding)
            total = len(wv) + sum(v for k, v in wv.skipped.items() if k != "blank line")
            if total != n_words:
                raise DataFormatError(path, None, f"header says {n_words} words, found {total}")
            return wv
        return _read_binary_vectors(path, f, n_words, dim, restrict_to, encoding)


def _read_binary_vectors(path, f: BinaryIO, n_words: int, dim: int, restrict_to, encoding):
    out = _Collector(restrict_to)
    width = 4 * dim
    buf, pos, offset = b"", 0, f.tell()  # offset: file position of buf[0]
    for k in range(n_words):
        while True:  # make sure buf holds the word, its space and its vector
            space = buf.find(b" ", pos)
            if space >= 0 and len(buf) >= space + 1 + width:
                break
            chunk = f.read(1 << 20)
            if not chunk:
                raise DataFormatError(
                    path,
                    None,
                    f"truncated at word {k + 1} of {n_words} (byte offset {offset + pos})",
                )
            offset += pos
            buf, pos = buf[pos:] + chunk, 0
        raw_word = buf[pos:space].lstrip(b"\n")
        try:
            word = raw_word.decode(encoding)
        except UnicodeDecodeError:
            raise DataFormatError(
                path, None, f"word {k + 1} (byte offset {offset + pos}) is not valid {encoding}"
            ) from None
        if out.wants(word):
            out.add(word, np.frombuffer(buf, dtype="<f4", count=dim, offset=space + 1).copy())
        pos = space + 1 + width
    return out.result(path, dim)


@dataclass(frozen=True)
class CoverageReport:
    """How much of a vocabulary the pretrained vectors cover.

    Attributes:
        vocab_size: V, reserved tokens included.
        found: regular tokens with an exact match.
        found_lowercase: tokens matched only through their lower-cased form.
        missing: regular tokens without a vector (initialised by ``init``).
        coverage: ``(found + found_lowercase) / regular tokens``.
        token_coverage: the same weighted by ``vocab.counts``: the share of the running text
            (of in-vocabulary tokens) that has a vector; ``None`` when the vocab holds no
            counts.
        missing_examples: up to 20 missing tokens, most frequent first.
    """

    vocab_size: int
    found: int
    found_lowercase: int
    missing: int
    coverage: float
    token_coverage: float | None
    missing_examples: tuple[str, ...]


def build_embedding_matrix(
    vocab: Vocab,
    vectors: WordVectors,
    init: str = "normal",
    scale: float | None = None,
    seed: int | np.random.Generator = 0,
    lowercase_fallback: bool = True,
) -> tuple[np.ndarray, CoverageReport]:
    """An embedding matrix whose row ``i`` is the vector of ``vocab.token(i)``.

    Args:
        vocab: the vocabulary (V tokens).
        vectors: pretrained vectors (from :func:`read_glove` / :func:`read_word2vec`).
        init: rows of tokens without a vector: ``"zeros"``, ``"normal"`` (mean 0, std
            ``scale``) or ``"uniform"`` (in ``[-scale, scale]``). ``[PAD]`` is always zero.
        scale: ``None`` matches the found vectors: their std for ``"normal"``, and
            ``sqrt(3) * std`` (the same variance) for ``"uniform"``.
        seed: an int seed or a ``numpy.random.Generator``.
        lowercase_fallback: try ``token.lower()`` when ``token`` itself has no vector.

    Returns:
        ``(matrix, report)``: (V, D) float32 and a :class:`CoverageReport`.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a Vocab, got {type(vocab).__name__}")
    if not isinstance(vectors, WordVectors):
        raise TypeError(f"vectors must be WordVectors, got {type(vectors).__name__}")
    check_choice("init", init, ("zeros", "normal", "uniform"))
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0
    ):
        raise ValueError(f"scale must be a non-negative float or None, got {scale!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    index = vectors.index()
    n_special = len(vocab.specials)
    matrix = np.zeros((len(vocab), vectors.dim), dtype=np.float32)
    found = found_lower = 0
    missing: list[int] = []
    for i, tok in enumerate(vocab.itos):
        j = index.get(tok)
        if j is None and lowercase_fallback and i >= n_special:
            j = index.get(tok.lower())
            found_lower += j is not None
        elif j is not None and i >= n_special:
            found += 1
        if j is not None:
            matrix[i] = vectors.vectors[j]
        elif tok != PAD:
            missing.append(i)
    missing_regular = [i for i in missing if i >= n_special]
    if scale is None:
        std = float(vectors.vectors.std()) if len(vectors) else 1.0
        scale = std if init == "normal" else float(np.sqrt(3.0) * std)
    rows = missing
    if init == "normal":
        matrix[rows] = rng.normal(0.0, scale, (len(rows), vectors.dim))
    elif init == "uniform":
        matrix[rows] = rng.uniform(-scale, scale, (len(rows), vectors.dim))
    n_regular = len(vocab) - n_special
    token_cov = None
    if vocab.counts:
        total = sum(vocab.counts.values())
        miss = sum(vocab.counts.get(vocab.itos[i], 0) for i in missing_regular)
        token_cov = 1.0 - miss / total if total else None
    examples = sorted(missing_regular, key=lambda i: (-vocab.counts.get(vocab.itos[i], 0), i))
    report = CoverageReport(
        vocab_size=len(vocab),
        found=found,
        found_lowercase=found_lower,
        missing=len(missing_regular),
        coverage=(found + found_lower) / n_regular if n_regular else 0.0,
        token_coverage=token_cov,
        missing_examples=tuple(vocab.itos[i] for i in examples[:20]),
    )
    return matrix, report


def pretrained_embedding(
    vocab: Vocab,
    vectors: WordVectors,
    freeze: bool = True,
    init: str = "normal",
    scale: float | None = None,
    seed: int | np.random.Generator = 0,
    lowercase_fallback: bool = True,
) -> tuple[nn.Embedding, CoverageReport]:
    """An ``nn.Embedding(V, D, padding_idx=0)`` holding the pretrained vectors.

    Args:
        freeze: keep the weights fixed (``requires_grad=False``); ``False`` fine-tunes them.
        vocab, vectors, init, scale, seed, lowercase_fallback: as in
            :func:`build_embedding_matrix`.

    Returns:
        ``(embedding, report)``.
    """
    check_bool("freeze", freeze)
    matrix, report = build_embedding_matrix(
        vocab, vectors, init=init, scale=scale, seed=seed, lowercase_fallback=lowercase_fallback
    )
    emb = nn.Embedding.from_pretrained(
        torch.from_numpy(matrix), freeze=freeze, padding_idx=vocab.pad_id
    )
    return emb, report
