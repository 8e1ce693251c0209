"""Text classification corpora laid out as one subfolder per class (Keras'
``text_dataset_from_directory`` convention), from a folder or a tarball.

Layouts::

    path/<class>/<...>/<doc>.txt                 one corpus (cut it into splits yourself)
    path/{train,test}/<class>/<...>/<doc>.txt    given train and test splits

Class names are the sorted subfolder names (Keras' ``class_names``) unless ``class_names``
names them, which also fixes their order and leaves every other folder out (aclImdb's
``train/unsup``). A single wrapping folder is looked through, so ``review_polarity.tar.gz``
(``txt_sentoken/{neg,pos}/*.txt`` beside a README) and ``aclImdb_v1.tar.gz``
(``aclImdb/{train,test}/...``) read as they are. Files inside a class folder are read
recursively, in sorted path order, so a tarball and its extracted folder give the same result.

Tarballs (``.tar``, ``.tar.gz`` / ``.tgz``, ``.tar.bz2``, ``.tar.xz``) are read in one pass,
member by member, without extracting anything to disk: members with an absolute path or a
``..`` component, links and special files are never followed (they are counted in
``skipped``).

Layouts that cannot be what the user meant are errors naming the path: a class folder with no
document, a single class, a document at the level where class folders are expected, a
``train/`` folder without a ``test/`` one (or the reverse), a document that is not valid text
(naming the file and line).
"""

from __future__ import annotations

import os
import tarfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deeprnn._validation import check_bool
from deeprnn.data._io import DataFormatError, as_path, decode_utf8
from deeprnn.data.imdb import TextClassificationData

__all__ = ["SPLIT_FOLDERS", "read_text_folder", "read_text_folder_splits"]

SPLIT_FOLDERS = ("train", "test")  # a folder holding both is a train/test layout


@dataclass
class _Tree:
    """Everything a scan found: file paths relative to the top (POSIX), the folders, where to
    read each file from (a ``Path``, or the raw bytes of a tarball member) and what was left."""

    source: str
    files: dict[str, Path | bytes | None] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    skipped: Counter = field(default_factory=Counter)

    def add_file(self, rel: str, data) -> None:
        self.files[rel] = data
        parent = rel.rpartition("/")[0]
        while parent and parent not in self.dirs:
            self.dirs.add(parent)
            parent = parent.rpartition("/")[0]

    def children(self, prefix: str) -> tuple[list[str], list[str]]:
        """Names of the folders and of the files directly under ``prefix`` ("" = the top)."""
        head = f"{prefix}/" if prefix else ""
        subdirs = {d[len(head) :] for d in self.dirs if d.startswith(head) and d != prefix}
        files = {f[len(head) :] for f in self.files if f.startswith(head)}
        return (
            sorted(d for d in subdirs if "/" not in d),
            sorted(f for f in files if "/" not in f),
        )

    def files_under(self, prefix: str) -> list[str]:
        head = f"{prefix}/"
        return sorted(f for f in self.files if f.startswith(head))


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _check_extensions(extensions) -> tuple[str, ...] | None:
    if extensions is None:
        return None
    if isinstance(extensions, str):
        extensions = (extensions,)
    if not isinstance(extensions, (list, tuple)) or not all(
        isinstance(e, str) and e.startswith(".") and len(e) > 1 for e in extensions
    ):
        raise ValueError(
            f"extensions must be a tuple of suffixes like ('.txt',) or None, got {extensions!r}"
        )
    return tuple(e.lower() for e in extensions)


def _wanted(name: str, extensions: tuple[str, ...] | None) -> bool:
    return extensions is None or name.lower().endswith(extensions)


def _safe_member(name: str) -> str | None:
    """The member's path relative to the archive top, or None if it is absolute or escapes."""
    if name.startswith(("/", "\\")) or name[1:2] == ":":  # absolute, or a drive (C:)
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or any("\\" in p for p in parts):
        return None
    return "/".join(parts)


def _scan_tar(path: Path, split: str | None, extensions) -> _Tree:
    tree = _Tree(str(path))
    try:
        with tarfile.open(path, "r|*") as tf:
            for member in tf:
                rel = _safe_member(member.name)
                if rel is None:
                    tree.skipped["unsafe member path (absolute or '..')"] += 1
                    continue
                if member.isdir():
                    tree.dirs.add(rel)
                    continue
                if not member.isfile():
                    tree.skipped["link or special file in the archive (not followed)"] += 1
                    continue
                parts = rel.split("/")
                keep = (
                    _wanted(parts[-1], extensions)
                    and not any(_hidden(p) for p in parts)
                    and (split is None or split in parts[:-1])
                )
                # only the documents that may be read are held in memory; the rest are names
                tree.add_file(rel, tf.extractfile(member).read() if keep else None)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataFormatError(
            path, None, f"truncated or corrupt tarball ({type(e).__name__}: {e})"
        ) from None
    return tree


def _scan_dir(path: Path, follow_links: bool) -> _Tree:
    tree = _Tree(str(path))
    seen = {os.path.realpath(path)}
    stack = [(path, "")]
    while stack:
        folder, rel = stack.pop()
        if rel:
            tree.dirs.add(rel)
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            sub = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink() and not follow_links:
                tree.skipped["symbolic link (follow_links=False)"] += 1
                continue
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                if real in seen:  # a link back up the tree, or to a folder already read
                    tree.skipped["link to a folder already read"] += 1
                    continue
                seen.add(real)
                stack.append((Path(entry.path), sub))
            elif entry.is_file():
                tree.add_file(sub, Path(entry.path))
            else:
                tree.skipped["not a regular file"] += 1
    return tree


def _scan(path, split, encoding, follow_links, extensions) -> tuple[_Tree, tuple | None]:
    path = as_path("path", path)
    check_bool("follow_links", follow_links)
    if not isinstance(encoding, str) or not encoding:
        raise ValueError(f"encoding must be a codec name like 'utf-8', got {encoding!r}")
    extensions = _check_extensions(extensions)
    if path.is_dir():
        return _scan_dir(path, follow_links), extensions
    if path.is_file():
        try:
            is_tar = tarfile.is_tarfile(path)
        except (EOFError, OSError, zlib.error) as e:
            raise DataFormatError(
                path, None, f"truncated or corrupt tarball ({type(e).__name__}: {e})"
            ) from None
        if not is_tar:
            raise ValueError(
                "path must be a folder or a .tar / .tar.gz / .tgz archive of one, got the "
                f"non-tar file {str(path)!r}"
            )
        return _scan_tar(path, split, extensions), extensions
    raise FileNotFoundError(f"path: no such file or folder: {str(path)!r}")


def _top(tree: _Tree, extensions) -> str:
    """Look through single wrapping folders (``txt_sentoken/``, ``aclImdb/``): descend while
    there is one visible folder, no document beside it, and folders inside it."""
    prefix = ""
    while True:
        dirs, files = tree.children(prefix)
        dirs = [d for d in dirs if not _hidden(d)]
        docs = [f for f in files if not _hidden(f) and _wanted(f, extensions)]
        if len(dirs) != 1 or docs or dirs[0] in SPLIT_FOLDERS:
            return prefix
        child = f"{prefix}/{dirs[0]}" if prefix else dirs[0]
        if not tree.children(child)[0]:
            return prefix  # a lone folder of documents: a single class, reported as such
        prefix = child


def _where(tree: _Tree, prefix: str) -> str:
    return f"{tree.source}/{prefix}" if prefix else tree.source


def _splits_at(tree: _Tree, top: str) -> list[str]:
    """The split folders under ``top`` (``[]`` for a single corpus); a lone half is an error."""
    dirs = tree.children(top)[0]
    present = [s for s in SPLIT_FOLDERS if s in dirs]
    if present and len(present) < len(SPLIT_FOLDERS):
        have, lack = present[0], next(s for s in SPLIT_FOLDERS if s not in dirs)
        raise ValueError(
            f"{_where(tree, top)} has a {have}/ folder but no {lack}/ folder: put the "
            f"{lack} documents in {lack}/<class>/, or move the class folders up out of {have}/ "
            f"and let the run cut the splits"
        )
    return present


def _select(
    tree: _Tree,
    prefix: str,
    class_names: Sequence[str] | None,
    extensions: tuple[str, ...] | None,
    max_per_class: int | None,
    encoding: str,
) -> TextClassificationData:
    """Read the class folders directly under ``prefix``."""
    where = _where(tree, prefix)
    skipped = Counter(tree.skipped)
    dirs, files = tree.children(prefix)
    kind = "a document" if extensions is None else f"a {'/'.join(extensions)} file"
    for f in files:
        if _hidden(f) or not _wanted(f, extensions) or class_names is not None:
            skipped["file outside the class folders"] += 1
            continue
        raise ValueError(
            f"{where}/{f} is {kind} at the level where class folders are expected: every "
            f"document must be inside a class folder ({where}/<class>/...); move it, or pass "
            "class_names to read only the named folders"
        )
    visible = [d for d in dirs if not _hidden(d)]
    if len(dirs) > len(visible):
        skipped["hidden folder"] += len(dirs) - len(visible)
    if class_names is None:
        names = visible
    else:
        names = list(class_names)
        missing = [c for c in names if c not in visible]
        if missing:
            raise ValueError(
                f"class_names {missing} not found in {where}; its folders are {visible}"
            )
        for d in visible:
            if d not in names:
                skipped[f"folder not in class_names ({d}/)"] += len(
                    tree.files_under(f"{prefix}/{d}" if prefix else d)
                )
    if len(names) < 2:
        found = f"one class folder ({names[0]}/)" if names else "no class folder"
        raise ValueError(
            f"found {found} in {where}; need at least 2, one subfolder per class "
            f"({where}/<class>/*{extensions[0] if extensions else ''})"
        )
    found: list[tuple[int, str, str]] = []  # label, id, text
    for label, name in enumerate(names):
        folder = f"{prefix}/{name}" if prefix else name
        docs = []
        for rel in tree.files_under(folder):
            parts = rel[len(folder) + 1 :].split("/")
            if any(_hidden(p) for p in parts):
                skipped["hidden file"] += 1
            elif not _wanted(parts[-1], extensions):
                skipped[f"not {kind}"] += 1
            else:
                docs.append(rel)
        if not docs:
            raise ValueError(
                f"class folder {where}/{name} holds no document ({kind[2:]}); remove it, "
                "fill it, or pass class_names without it"
            )
        if max_per_class is not None and len(docs) > max_per_class:
            skipped["over max_per_class"] += len(docs) - max_per_class
            docs = docs[:max_per_class]
        for rel in docs:
            data = tree.files[rel]
            if isinstance(data, Path):
                text = decode_utf8(data.read_bytes(), data, encoding)
            else:
                text = decode_utf8(data, f"{tree.source}:{rel}", encoding)
            found.append((label, rel[len(prefix) + 1 :] if prefix else rel, text))
    return TextClassificationData(
        texts=[r[2] for r in found],
        labels=[r[0] for r in found],
        label_names=tuple(names),
        ids=[r[1] for r in found],
        path=where,
        skipped=skipped,
    )


def _check_common(split, class_names, max_per_class) -> None:
    if split is not None and (not isinstance(split, str) or not split or "/" in split):
        raise ValueError(f"split must be a folder name like 'train' or None, got {split!r}")
    if class_names is not None and (
        isinstance(class_names, str)
        or not all(isinstance(c, str) and c and "/" not in c for c in class_names)
        or len(set(class_names)) != len(class_names)
    ):
        raise ValueError(
            f"class_names must be a list of distinct folder names or None, got {class_names!r}"
        )
    if max_per_class is not None and (
        isinstance(max_per_class, bool) or not isinstance(max_per_class, int) or max_per_class < 1
    ):
        raise ValueError(f"max_per_class must be a positive int or None, got {max_per_class!r}")


def read_text_folder(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    class_names: Sequence[str] | None = None,
    max_per_class: int | None = None,
    encoding: str = "utf-8",
    follow_links: bool = False,
    extensions: Sequence[str] | None = (".txt",),
) -> TextClassificationData:
    """Read a folder (or tarball) of class folders, one document per file.

    Args:
        path: the folder, or a ``.tar`` / ``.tar.gz`` / ``.tgz`` archive of it. One wrapping
            folder (``txt_sentoken/``, ``aclImdb/``) is looked through.
        split: for a ``{train,test}/<class>/`` layout, the split folder to read (``"train"``
            or ``"test"``); ``None`` for a folder whose subfolders are the classes.
        class_names: the class folders to read, in label order (default: every visible
            subfolder, sorted). Other folders and loose files are then skipped, not errors.
        max_per_class: keep the first ``max_per_class`` documents of every class (in sorted
            path order), for quick runs and tests.
        encoding: text encoding of the documents.
        follow_links: follow symbolic links (to files and folders) inside a folder; without
            it they are skipped and counted. Links inside a tarball are never followed.
        extensions: the file suffixes that are documents (case-insensitive); ``None`` for
            every file. Other files are skipped and counted.

    Returns:
        :class:`~deeprnn.data.TextClassificationData`: ``label_names`` are the class names,
        ``ids`` the documents' paths below the split (``"pos/cv000_29590.txt"``), sorted by
        (label, path); ``skipped`` counts what was left and why.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataFormatError: a document is not valid text in ``encoding`` (naming the file and
            line), or the tarball is corrupt.
        ValueError: the layout is not one subfolder per class (see the module docs).

    Example::

        >>> data = read_text_folder("review_polarity.tar.gz")  # doctest: +SKIP
        >>> data.label_names, len(data)  # doctest: +SKIP
        (('neg', 'pos'), 2000)
    """
    _check_common(split, class_names, max_per_class)
    tree, extensions = _scan(path, split, encoding, follow_links, extensions)
    top = _top(tree, extensions)
    splits = _splits_at(tree, top)
    if split is None and splits:
        raise ValueError(
            f"{_where(tree, top)} holds {'/ and '.join(splits)}/ folders: pass split='train' "
            "or split='test' (or use read_text_folder_splits)"
        )
    if split is not None:
        dirs = tree.children(top)[0]
        if split not in dirs:
            raise ValueError(
                f"split={split!r} but {_where(tree, top)} has no {split}/ folder; its folders "
                f"are {[d for d in dirs if not _hidden(d)]}"
            )
        top = f"{top}/{split}" if top else split
    return _select(tree, top, class_names, extensions, max_per_class, encoding)


def read_text_folder_splits(
    path: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    max_per_class: int | None = None,
    encoding: str = "utf-8",
    follow_links: bool = False,
    extensions: Sequence[str] | None = (".txt",),
) -> dict[str, TextClassificationData]:
    """Every split of a class-folder corpus, read in one pass over the folder or tarball.

    Returns ``{"train": ..., "test": ...}`` for a ``{train,test}/<class>/`` layout (both with
    the same class names), or ``{"train": ...}`` alone for a folder whose subfolders are the
    classes. The arguments are those of :func:`read_text_folder`.

    Raises:
        ValueError: a bad layout, or train and test with different class folders.
    """
    _check_common(None, class_names, max_per_class)
    tree, extensions = _scan(path, None, encoding, follow_links, extensions)
    top = _top(tree, extensions)
    splits = _splits_at(tree, top)
    if not splits:
        return {"train": _select(tree, top, class_names, extensions, max_per_class, encoding)}
    out = {}
    for split in splits:
        prefix = f"{top}/{split}" if top else split
        out[split] = _select(tree, prefix, class_names, extensions, max_per_class, encoding)
    train, test = out["train"].label_names, out["test"].label_names
    if train != test:
        raise ValueError(
            f"{_where(tree, top)}: the class folders of test/ {list(test)} differ from those "
            f"of train/ {list(train)}; pass class_names to read the shared ones"
        )
    return out
