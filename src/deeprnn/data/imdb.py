"""The IMDB sentiment dataset (Maas et al. 2011) from the Stanford ``aclImdb_v1.tar.gz``.

Layout: ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``, one review per file (plus an
unlabelled ``train/unsup`` folder). The tarball is read directly, member by member, without
extracting it to disk; an extracted folder works too and gives the same result.
"""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass, field

from deeprnn._validation import check_bool, check_choice
from deeprnn.data._io import DataFormatError, as_path, decode_utf8

__all__ = ["IMDB_LABELS", "TextClassificationData", "read_imdb"]

IMDB_LABELS = ("neg", "pos")
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg|unsup)/([^/]+)$")
_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")


@dataclass
class TextClassificationData:
    """Texts with integer class labels; indexable as a map-style dataset of ``(text, label)``.

    Attributes:
        texts: the documents.
        labels: class ids, ``label_names[label]`` is the class name.
        label_names: class names in id order.
        ids: an identifier per document (for IMDB, ``"<split>/<pos|neg>/<id>_<rating>"``).
        ratings: IMDB star ratings (1-4 negative, 7-10 positive), or empty.
        path: where the data came from.
        skipped: files not read, by reason.
    """

    texts: list[str]
    labels: list[int]
    label_names: tuple[str, ...]
    ids: list[str] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    path: str = ""
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.texts[i], self.labels[i]


def _want(split: str, sub: str, name: str, include_unsup: bool, skipped: Counter):
    """The (label, id, rating) of a review file, or None (counting the reason) to skip it."""
    if sub == "unsup":
        if not include_unsup:
            skipped["unlabelled (unsup) review"] += 1
            return None
        label = -1
    else:
        label = IMDB_LABELS.index(sub)
    m = _NAME.match(name)
    if m is None:
        skipped["file name not <id>_<rating>.txt"] += 1
        return None
    return label, int(m.group(1)), int(m.group(2))


def read_imdb(
    path: str | os.PathLike,
    split: str = "train",
    include_unsup: bool = False,
    encoding: str = "utf-8",
) -> TextClassificationData:
    """Read one split of aclImdb.

    Args:
        path: ``aclImdb_v1.tar.gz`` (any tar compression), the extracted ``aclImdb`` folder, or
            the folder that holds it.
        split: ``"train"`` or ``"test"`` (25,000 reviews each, half positive).
        include_unsup: also return the 50,000 unlabelled ``train/unsup`` reviews (label -1).
        encoding: text encoding of the reviews.

    Returns:
        :class:`TextClassificationData` with labels 0 = neg, 1 = pos, sorted by
        (label, review id) so tarball and folder give the same order. Reviews keep their raw
        text (including ``<br />``; see ``normalize_text(..., html=True)``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataFormatError: a review is not valid text (the message names the member and line).
        ValueError: no review of ``split`` was found under ``path``.
    """
    path = as_path("path", path)
    check_choice("split", split, ("train", "test"))
    check_bool("include_unsup", include_unsup)
    skipped: Counter = Counter()
    found: list[tuple[int, int, int, str, str]] = []  # label, id, rating, key, text

    if path.is_file():
        if not tarfile.is_tarfile(path):
            raise ValueError(
                f"path must be the aclImdb tarball or folder, got the non-tar file {str(path)!r}"
            )
        try:
            with tarfile.open(path, "r|*") as tf:
                for member in tf:
                    m = _MEMBER.search(member.name)
                    if not member.isfile() or m is None or m.group(1) != split:
                        continue
                    info = _want(split, m.group(2), m.group(3), include_unsup, skipped)
                    if info is None:
                        continue
                    raw = tf.extractfile(member).read()
                    text = decode_utf8(raw, f"{path}:{member.name}", encoding)
                    found.append((*info, f"{split}/{m.group(2)}/{m.group(3)}", text))
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise DataFormatError(
                path, None, f"truncated or corrupt tarball ({type(e).__name__}: {e})"
            ) from None
    elif path.is_dir():
        root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
        subs = ["neg", "pos"] + (["unsup"] if include_unsup else [])
        if not include_unsup and (root / split / "unsup").is_dir():
            skipped["unlabelled (unsup) review"] += sum(
                1 for _ in (root / split / "unsup").iterdir()
            )
        for sub in subs:
            folder = root / split / sub
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                info = _want(split, sub, f.name, include_unsup, skipped)
                if info is None:
                    continue
                text = decode_utf8(f.read_bytes(), f, encoding)
                found.append((*info, f"{split}/{sub}/{f.name}", text))
    else:
        raise FileNotFoundError(f"path: no such file or folder: {str(path)!r}")

    if not found:
        raise ValueError(
            f"no {split!r} reviews found in {str(path)!r}: expected "
            f"aclImdb/{split}/{{pos,neg}}/<id>_<rating>.txt"
        )
    found.sort(key=lambda r: (r[0] if r[0] >= 0 else 2, r[1]))
    return TextClassificationData(
        texts=[r[4] for r in found],
        labels=[r[0] for r in found],
        label_names=IMDB_LABELS,
        ids=[r[3] for r in found],
        ratings=[r[2] for r in found],
        path=str(path),
        skipped=skipped,
    )
