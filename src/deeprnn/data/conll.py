"""CoNLL column files (CoNLL-2000 chunking, CoNLL-2003 NER) and tag-scheme conversion.

Format: one token a line with whitespace-separated columns (CoNLL-2003 English:
``token POS chunk NER``), a blank line between sentences, and ``-DOCSTART-`` lines between
documents. CoNLL-2003 tags are IOB1 (``I-`` starts an entity unless it directly follows one of
the same type, where ``B-`` is used); most taggers train on BIO (IOB2) or IOBES.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from deeprnn._validation import check_choice
from deeprnn.data._io import DataFormatError, existing_file, read_lines

__all__ = [
    "TaggedData",
    "bio_to_iobes",
    "iobes_to_bio",
    "read_conll",
    "tags_to_spans",
    "to_bio",
]

DOCSTART = "-DOCSTART-"


class _TagError(ValueError):
    def __init__(self, index: int, tag: str):
        self.index = index
        super().__init__(f"tags[{index}] must be 'O' or '<B|I|E|S>-<type>', got {tag!r}")


def _split_tag(tag: str, i: int) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    raise _TagError(i, tag)


def to_bio(tags: Sequence[str]) -> list[str]:
    """Convert IOB1, BIO or IOBES tags to BIO (IOB2): every entity starts with ``B-``.

    ``I-X`` after ``O`` or after another type becomes ``B-X``; ``S-X`` -> ``B-X``, ``E-X`` ->
    ``I-X`` (or ``B-X`` when it starts an entity). Valid BIO is returned unchanged.

    Example:
        >>> to_bio(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"])
        ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
    """
    out: list[str] = []
    prev_type = ""
    for i, tag in enumerate(tags):
        prefix, typ = _split_tag(tag, i)
        if prefix == "O":
            out.append("O")
            prev_type = ""
            continue
        if prefix in "BS" or typ != prev_type:
            out.append(f"B-{typ}")
        else:
            out.append(f"I-{typ}")
        prev_type = "" if prefix in "ES" else typ
    return out


def bio_to_iobes(tags: Sequence[str]) -> list[str]:
    """Convert BIO (or IOB1) tags to IOBES: single-token entities ``S-``, last tokens ``E-``.

    Example:
        >>> bio_to_iobes(["B-PER", "I-PER", "O", "B-LOC"])
        ['B-PER', 'E-PER', 'O', 'S-LOC']
    """
    bio = to_bio(tags)
    out: list[str] = []
    for i, tag in enumerate(bio):
        if tag == "O":
            out.append(tag)
            continue
        continues = i + 1 < len(bio) and bio[i + 1] == f"I-{tag[2:]}"
        if tag[0] == "B":
            out.append(tag if continues else f"S-{tag[2:]}")
        else:
            out.append(tag if continues else f"E-{tag[2:]}")
    return out


def iobes_to_bio(tags: Sequence[str]) -> list[str]:
    """Convert IOBES tags to BIO (``S-`` -> ``B-``, ``E-`` -> ``I-``)."""
    return to_bio(tags)


def tags_to_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans of a tag sequence (IOB1, BIO or IOBES).

    Returns:
        ``(type, start, end)`` triples with ``end`` exclusive, in order.

    Example:
        >>> tags_to_spans(["B-PER", "I-PER", "O", "S-LOC"])
        [('PER', 0, 2), ('LOC', 3, 4)]
    """
    spans: list[tuple[str, int, int]] = []
    start = -1
    bio = to_bio(tags)
    for i, tag in enumerate([*bio, "O"]):
        if start >= 0 and tag != f"I-{bio[start][2:]}":
            spans.append((bio[start][2:], start, i))
            start = -1
        if tag.startswith("B-"):
            start = i
    return spans


@dataclass
class TaggedData:
    """Sentences with one label per token; indexable as ``(tokens, labels)``.

    Attributes:
        sentences: token lists.
        labels: label lists (same lengths), in ``scheme`` (``None``: as in the file).
        columns: every column of every token, ``columns[s][t]`` is the tuple of fields.
        doc_ids: the document (0-based, counted by ``-DOCSTART-`` lines) of each sentence.
        line_numbers: the 1-based line where each sentence starts.
        num_columns: columns per row.
        path: the file read.
        scheme: the tag scheme of ``labels``.
        skipped: lines not used as tokens, by reason (``"-DOCSTART- line"``).
    """

    sentences: list[list[str]]
    labels: list[list[str]]
    columns: list[list[tuple[str, ...]]]
    doc_ids: list[int]
    line_numbers: list[int]
    num_columns: int
    path: str = ""
    scheme: str | None = None
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[list[str], list[str]]:
        return self.sentences[i], self.labels[i]

    @property
    def num_documents(self) -> int:
        return (self.doc_ids[-1] + 1) if self.doc_ids else 0

    def label_set(self) -> list[str]:
        """The distinct labels, sorted (``O`` first)."""
        return sorted({t for s in self.labels for t in s}, key=lambda t: (t != "O", t[2:], t))


def read_conll(
    path: str | os.PathLike,
    token_column: int = 0,
    label_column: int = -1,
    scheme: str | None = None,
    num_columns: int | None = None,
    encoding: str = "utf-8",
) -> TaggedData:
    """Read a CoNLL column file.

    Args:
        path: the file (e.g. CoNLL-2003 ``eng.train``: 14,041 sentences in 946 documents).
        token_column: the column holding the token.
        label_column: the column used as the label (``-1``: the last one, NER in CoNLL-2003;
            ``1`` POS tags, ``2`` chunk tags).
        scheme: convert chunk-style labels to ``"BIO"`` or ``"IOBES"``; ``None`` keeps them.
            Conversion applies to ``labels`` only; ``columns`` stay as in the file.
        num_columns: expected columns per row; ``None`` takes the first token row's.
        encoding: text encoding.

    Returns:
        :class:`TaggedData`.

    Raises:
        DataFormatError: a row has the wrong number of columns, a label is not a valid chunk
            tag for ``scheme``, the file is not valid text, or it holds no sentence (each
            message names the file and line).
    """
    path = existing_file("path", path)
    if scheme is not None:
        check_choice("scheme", scheme, ("BIO", "IOBES"))
    for name, col in (("token_column", token_column), ("label_column", label_column)):
        if isinstance(col, bool) or not isinstance(col, int):
            raise ValueError(f"{name} must be an int, got {col!r}")
    lines = read_lines(path, encoding)
    skipped: Counter = Counter()
    sentences: list[list[tuple[str, ...]]] = []
    starts: list[int] = []
    doc_ids: list[int] = []
    doc = -1
    current: list[tuple[str, ...]] = []
    first_row_line = 0
    for lineno, line in enumerate([*lines, ""], start=1):
        fields = tuple(line.split())
        if not fields:
            if current:
                sentences.append(current)
                doc_ids.append(max(doc, 0))
                current = []
            continue
        if fields[0] == DOCSTART:
            skipped["-DOCSTART- line"] += 1
            doc += 1
            if current:  # a DOCSTART without a blank line before it still ends the sentence
                sentences.append(current)
                doc_ids.append(max(doc - 1, 0))
                current = []
            continue
        if num_columns is None:
            num_columns, first_row_line = len(fields), lineno
            for name, col in (("token_column", token_column), ("label_column", label_column)):
                if not -num_columns <= col < num_columns:
                    raise ValueError(
                        f"{name} must index one of the {num_columns} columns of {path}, got {col}"
                    )
        elif len(fields) != num_columns:
            where = f"line {first_row_line}" if first_row_line else "num_columns"
            raise DataFormatError(
                path,
                lineno,
                f"expected {num_columns} columns (as {where}), got {len(fields)}: {line!r}",
            )
        if not current:
            starts.append(lineno)
        current.append(fields)
    if not sentences:
        raise DataFormatError(path, None, "empty corpus: no sentences found")

    tokens = [[row[token_column] for row in s] for s in sentences]
    labels = [[row[label_column] for row in s] for s in sentences]
    if scheme is not None:
        convert = to_bio if scheme == "BIO" else bio_to_iobes
        for k, tags in enumerate(labels):
            try:
                labels[k] = convert(tags)
            except _TagError as e:
                raise DataFormatError(
                    path,
                    starts[k] + e.index,
                    f"label column {label_column}: {tags[e.index]!r} is not 'O' or "
                    f"'<B|I|E|S>-<type>', so it cannot be converted to {scheme}",
                ) from None
    return TaggedData(
        sentences=tokens,
        labels=labels,
        columns=sentences,
        doc_ids=doc_ids,
        line_numbers=starts,
        num_columns=num_columns or 0,
        path=str(path),
        scheme=scheme,
        skipped=skipped,
    )
