"""``data.reader`` functions for the real datasets: splits ready for the task data modules.

Each reads the dataset's standard file format at a path you give (nothing is downloaded) with
the :mod:`deeprnn.data` readers and returns ``{"train", "val", "test"}``. The validation split
is always carved out of the training data with the run's seed — never out of the test split,
so no choice is ever tuned on test. ``limit`` keeps the first examples of each split (after
a seeded shuffle), for quick runs and tests. Use them from a config::

    data:
      source: reader
      reader: deeprnn.tasks.readers:imdb
      reader_args: {path: ../shared/data/imdb/aclImdb_v1.tar.gz, val_fraction: 0.1}
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import numpy as np


def _shuffled(items: list, seed: int) -> list:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def _carve(train: list, val_fraction: float, seed: int) -> tuple[list, list]:
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    items = _shuffled(train, seed)
    n_val = max(1, round(len(items) * val_fraction))
    return items[n_val:], items[:n_val]


def _limit(splits: dict, limit: int | None, seed: int) -> dict:
    if limit is None:
        return splits
    if limit < 1:
        raise ValueError(f"limit must be >= 1 or null, got {limit!r}")
    return {k: _shuffled(v, seed + 1)[:limit] for k, v in splits.items()}


def _stratified(items: list, key, held_out: tuple[float, ...], seed: int) -> list[list]:
    """``[rest, part_1, ...]``: part ``i`` holds ``held_out[i]`` of every class (``key``)."""
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    parts: list[list] = [[] for _ in range(len(held_out) + 1)]
    for label in sorted(groups):
        rows = _shuffled(groups[label], seed)
        start = 0
        for i, f in enumerate(held_out, start=1):
            n = round(len(rows) * f)
            parts[i].extend(rows[start : start + n])
            start += n
        parts[0].extend(rows[start:])
    return [_shuffled(p, seed) for p in parts]


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
    out["train"], out["val"] = _carve(out["train"], val_fraction, seed)
    return _limit(out, limit, seed)


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
    train, val = _carve(docs, val_fraction, seed)
    return _limit({"train": train, "val": val}, limit, seed)


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
    train, test, val = _stratified(items, lambda it: it[1], (test_fraction, val_fraction), seed)
    return _limit({"train": train, "val": val, "test": test}, limit, seed)


def names_text(
    path: str,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    ascii: bool = False,
    limit: int | None = None,
) -> dict[str, list]:
    """The same split as :func:`names`, as language-model documents (one name each)."""
    splits = names(path, val_fraction, test_fraction, seed, ascii, limit)
    return {k: [n for n, _ in v] for k, v in splits.items()}


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
    train, val = _carve(items[:train_size], val_fraction, seed)
    return _limit({"train": train, "val": val, "test": items[train_size:]}, limit, seed)


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
    train, val = _stratified(out["train"], lambda it: it[1], (val_fraction,), seed)
    return _limit({"train": train, "val": val, "test": out["test"]}, limit, seed)
