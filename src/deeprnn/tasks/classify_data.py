"""The classify task's data: labelled sequences from CSV files, a ``data.reader``, the real
datasets' readers, or synthetic data, encoded into ``(x, lengths, y)`` batches.

The ``data.reader`` functions here (:func:`imdb`, :func:`names`, :func:`mnist_rows`, :func:`uea`)
read a dataset's standard file format at a path you give (nothing is downloaded) with the
:mod:`deeprnn.data` readers and return ``{"train", "val", "test"}``. The validation split is
always carved out of the training data with the run's seed — never out of the test split, so no
choice is ever tuned on test. ``limit`` keeps the first examples of each split (after a seeded
shuffle), for quick runs and tests. Use them from a config (the stable names are in
:mod:`deeprnn.tasks.readers`)::

    data:
      source: reader
      reader: deeprnn.tasks.readers:imdb
      reader_args: {path: ../shared/data/imdb/aclImdb_v1.tar.gz, val_fraction: 0.1}

``source: folder`` reads one subfolder per class (Keras' ``text_dataset_from_directory``
layout, :func:`deeprnn.data.read_text_folder`) from a folder or tarball at ``path``. With
``train/`` and ``test/`` folders those are the splits; otherwise the test split is cut by
``test_fraction``. Validation is always carved out of train with the run's seed, stratified by
class::

    data: {source: folder, path: review_polarity.tar.gz, class_names: [neg, pos]}

k-fold cross-validation (``folds: K``, any source): the training data (train + validation, or
all of a corpus without its own test split: one CSV ``path``, a flat folder, synthetic data) is
cut into K folds stratified by class with the run's seed; run ``fold: i`` trains on the others
and validates on fold ``i``. A test split of the data's own (``test/``, ``test_path``, a
reader's ``test``) is unchanged; without one, fold ``i`` is also the test split, so the fold's
test score is its validation score — optimistic, since the same fold picked the best epoch.
``deeprnn train`` with ``folds`` set and ``fold`` unset runs every fold
(:func:`deeprnn.training.fit_folds`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from deeprnn.data.augment import check_augment
from deeprnn.data.tokenizers import normalize_text
from deeprnn.data.vocab import read_vocab
from deeprnn.tasks._data import (
    SPLITS,
    TaskData,
    Vocab,
    call_reader,
    carve,
    carve_source,
    labelled_splits_from_csv,
    limit_splits,
    pad_floats,
    pad_ids,
    reader_source,
    shuffled,
    split_indices,
    stratified,
    tokenize,
    vocab_from_itos,
)


@dataclass
class ClassifyDataConfig:
    """Where the labelled sequences come from and how text becomes tokens."""

    source: Literal["csv", "reader", "synthetic", "folder"] = "synthetic"
    path: str | None = None
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    reader: str | None = None
    reader_args: dict = field(default_factory=dict)
    level: Literal["word", "char", "whitespace"] = "word"
    lower: bool = True
    html: bool = False  # text: <br /> and other HTML tags become spaces before tokenising
    max_length: int | None = 400
    min_freq: int = 1
    max_vocab: int | None = 20000
    vocab_path: str | None = None
    bucket: bool = False  # training batches of similar lengths: less padding computed
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    num_examples: int = 1000
    sequence_length: int = 20
    num_features: int = 2
    # source: folder -- the class folders to read (default: all, sorted), a cap per class
    class_names: list[str] | None = None
    max_per_class: int | None = None
    encoding: str = "utf-8"
    # k-fold cross-validation: K stratified folds of the training data; fold i validates
    folds: int | None = None
    fold: int | None = None
    # with folds: after the K fold runs, one run on all the training data (train + val) for the
    # median of the folds' best epochs, tested once: the model exported and reported
    refit: bool = False
    # numeric series, training batches only: "slice" (window slicing) / "warp" (window warping),
    # Le Guennec et al. 2016; seeded with the run's seed (deeprnn.data.augment)
    augment: list[str] = field(default_factory=list)
    slice_ratio: float = 0.9

    def validate(self, where: str) -> None:
        if self.folds is not None and (isinstance(self.folds, bool) or self.folds < 2):
            raise ValueError(f"{where}.folds must be an int >= 2 or null, got {self.folds!r}")
        if self.fold is not None:
            if self.folds is None:
                raise ValueError(
                    f"{where}.fold={self.fold!r} needs {where}.folds (the K of K folds)"
                )
            if not 0 <= self.fold < self.folds:
                raise ValueError(
                    f"{where}.fold must be in [0, {self.folds - 1}] for {where}.folds="
                    f"{self.folds}, got {self.fold!r}"
                )
        if self.refit and self.folds is None:
            raise ValueError(
                f"{where}.refit=True needs {where}.folds (the folds choose the refit's epochs)"
            )
        check_augment(self.augment, self.slice_ratio, where)
        if self.source == "folder" and not self.path:
            raise ValueError(
                f"{where}.source='folder' needs {where}.path: a folder or tarball with one "
                "subfolder per class (optionally under train/ and test/)"
            )
        if self.max_per_class is not None and self.max_per_class < 1:
            raise ValueError(
                f"{where}.max_per_class must be a positive int or null, got {self.max_per_class!r}"
            )


def _synthetic(cfg: ClassifyDataConfig, seed: int) -> list:
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(cfg.num_examples):
        steps = int(rng.integers(1, cfg.sequence_length + 1))
        x = rng.standard_normal((steps, cfg.num_features)).astype(np.float32)
        items.append((x, "positive" if x[:, 0].sum() > 0 else "negative"))
    return items


class ClassifyData(TaskData):
    """Labelled sequences -> batches ``(x, lengths, y)``; x is (N, T) ids or (N, T, F) floats."""

    def load(self) -> None:
        cfg = self.config
        kfold = cfg.folds is not None
        refit = kfold and cfg.fold is None and cfg.refit
        if kfold and cfg.fold is None and not refit:
            raise ValueError(
                f"data.folds={cfg.folds} with data.fold unset: one run needs data.fold in "
                f"[0, {cfg.folds - 1}]; `deeprnn train` (deeprnn.training.fit_folds) "
                "runs them all"
            )
        own_test = True  # the data has a test split of its own (not cut by test_fraction)
        self.split_sources = sources = {}
        if cfg.source == "synthetic":
            items = _synthetic(cfg, self.seed)
            fr = [1 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction]
            parts = split_indices(len(items), fr, self.seed)
            raw = {s: [items[i] for i in p] for s, p in zip(SPLITS, parts)}
            what = f"synthetic sequences (data.num_examples={cfg.num_examples}, seed {self.seed})"
            start = 0
            for s, part, f in zip(SPLITS, parts, fr):
                sources[s] = carve_source(
                    what, len(part), len(items), f, self.seed, "sequences", start
                )
                start += len(part)
            own_test = False
        elif cfg.source == "csv":
            raw = labelled_splits_from_csv(
                cfg, self.seed, cfg.text_column, cfg.label_column, sources
            )
            own_test = cfg.test_path is not None
        elif cfg.source == "folder":
            raw, own_test = _folder_splits(cfg, self.seed)
            sources.update(_folder_sources(cfg, self.seed, own_test))
        else:
            raw = call_reader(cfg.reader, cfg.reader_args, "data.reader")
            sources.update({s: reader_source(cfg.reader, cfg.reader_args, s) for s in raw})
        self.val_held_out = not refit
        if refit:
            raw = _refit_splits(raw, own_test, sources)
        elif kfold:
            pool = " + ".join(s for s in SPLITS if raw.get(s) and (s != "test" or not own_test))
            raw = _fold_splits(raw, cfg.folds, cfg.fold, self.seed, keep_test=own_test)
            of = f"{cfg.folds} folds of {pool} (stratified by class, seed {self.seed})"
            sources["train"] = f"the other {cfg.folds - 1} of {of}"
            sources["val"] = f"fold {cfg.fold} of {of}"
        self.fold_info = None
        if kfold and not refit:
            self.fold_info = {
                "fold": cfg.fold,
                "folds": cfg.folds,
                **{f"{k}_size": len(v) for k, v in raw.items()},
                "test_is_fold": "test" not in raw,
            }
        self._fit_artifacts(raw)
        if cfg.augment and "vocab" in self.artifacts:
            raise ValueError(
                f"data.augment={cfg.augment!r} is for numeric series, and this data is text"
            )
        self.raw_splits = raw  # the examples as read: the baselines fit and score on them
        self.splits = {name: [self.encode(x, y) for x, y in items] for name, items in raw.items()}

    def health_warnings(self) -> list[str]:
        """:meth:`TaskData.health_warnings`, and a class the validation split has no example of
        (its accuracy and the checkpoint it chooses never see that class)."""
        out = super().health_warnings()
        labels = self.artifacts.get("labels") or []
        present = {y for _, y in self.splits.get("val") or []}
        missing = [name for i, name in enumerate(labels) if i not in present]
        if missing and self.splits.get("val"):
            shown = ", ".join(repr(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
            out.append(
                f"the validation split ({len(self.splits['val'])} examples) has no example of "
                f"{len(missing)} of the {len(labels)} classes ({shown}): the checkpoint it "
                "chooses never saw them judged"
            )
        return out

    def _fit_artifacts(self, raw: dict) -> None:
        cfg, art = self.config, self.artifacts
        numeric = not isinstance(raw["train"][0][0], (str, list, tuple))
        if "labels" not in art:
            labels = sorted({str(y) for _, y in raw["train"]}, key=_label_key)
            if len(labels) < 2:
                raise ValueError(f"the training data has {len(labels)} label(s); need at least 2")
            art["labels"] = labels
        if numeric:
            art.setdefault("input_size", int(np.asarray(raw["train"][0][0]).shape[-1]))
            return
        art.setdefault("level", cfg.level)
        art.setdefault("lower", cfg.lower)
        art.setdefault("html", cfg.html)
        art.setdefault("max_length", cfg.max_length)
        if "vocab" not in art:
            if cfg.vocab_path:
                art["vocab"] = read_vocab(cfg.vocab_path)
            else:
                toks = (self.tokens(x) for x, _ in raw["train"])
                art["vocab"] = Vocab.build(toks, min_freq=cfg.min_freq, max_size=cfg.max_vocab).itos

    def tokens(self, x) -> list[str]:
        art = self.artifacts
        if isinstance(x, str) and art.get("html"):
            x = normalize_text(x, numbers=False, urls=False, html=True)
        toks = tokenize(x, art["level"], art["lower"]) if isinstance(x, str) else list(x)
        return toks[: art["max_length"]] if art.get("max_length") else toks

    def encode(self, x, y=None):
        """One raw example -> (ids or float tensor, label index or -1)."""
        art = self.artifacts
        if "vocab" in art:
            if not hasattr(self, "_vocab"):
                self._vocab = vocab_from_itos(art["vocab"])
            feats = self._vocab.encode(self.tokens(x))
        else:
            feats = torch.as_tensor(np.asarray(x, dtype=np.float32))
            if feats.dim() != 2 or feats.shape[-1] != art["input_size"]:
                raise ValueError(
                    f"a numeric example must be (T, {art['input_size']}), got {tuple(feats.shape)}"
                )
        if y is None:
            return feats, -1
        label = str(y)
        if label not in art["labels"]:
            raise ValueError(f"label {label!r} not seen in training; labels: {art['labels']}")
        return feats, art["labels"].index(label)

    def make_dataset(self, items: list, train: bool):
        """The training split with ``data.augment`` applied as it is read (seeded, a fresh draw
        every time an example is read); every other split as it is."""
        if not (train and self.config.augment):
            return super().make_dataset(items, train)
        from deeprnn.data.augment import AugmentedSeries

        return AugmentedSeries(items, self.config.augment, self.seed, self.config.slice_ratio)

    def collate(self, items: list):
        xs = [x for x, _ in items]
        x, lengths = pad_floats(xs) if isinstance(xs[0], Tensor) else pad_ids(xs)
        return x, lengths, torch.tensor([y for _, y in items], dtype=torch.long)


def _label_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _label_of(item) -> str:
    return str(item[1])


def _folder_splits(cfg: ClassifyDataConfig, seed: int) -> tuple[dict[str, list], bool]:
    """``source: folder``: the given train/test splits, or one corpus cut by the fractions;
    validation carved out of train, stratified by class. Also: whether test/ was given."""
    from deeprnn.data import read_text_folder_splits

    if not 0 < cfg.val_fraction < 1:
        raise ValueError(f"data.val_fraction must be in (0, 1), got {cfg.val_fraction!r}")
    if not 0 <= cfg.test_fraction < 1:
        raise ValueError(f"data.test_fraction must be in [0, 1), got {cfg.test_fraction!r}")
    if not Path(cfg.path).exists():
        raise FileNotFoundError(f"data.path: no such file or folder: {cfg.path!r}")
    data = read_text_folder_splits(
        cfg.path,
        class_names=cfg.class_names,
        max_per_class=cfg.max_per_class,
        encoding=cfg.encoding,
    )
    items = {
        split: [(text, d.label_names[y]) for text, y in zip(d.texts, d.labels)]
        for split, d in data.items()
    }
    if "test" in items:
        train, val = stratified(items["train"], _label_of, (cfg.val_fraction,), seed)
        return {"train": train, "val": val, "test": items["test"]}, True
    held = (cfg.test_fraction, cfg.val_fraction)
    train, test, val = stratified(items["train"], _label_of, held, seed)
    return {"train": train, "val": val, "test": test}, False


def _folder_sources(cfg: ClassifyDataConfig, seed: int, own_test: bool) -> dict[str, str]:
    """Where the splits of ``source: folder`` came from (see :func:`_folder_splits`)."""
    val = f"a stratified {cfg.val_fraction:.4g} of every class (seed {seed})"
    if own_test:
        return {
            "train": f"{cfg.path} train/, less {val} held out for validation",
            "val": f"{cfg.path} train/: {val}",
            "test": f"{cfg.path} test/",
        }
    test = f"a stratified {cfg.test_fraction:.4g} of every class (seed {seed})"
    return {
        "train": f"{cfg.path}, less {test} for test and {val} for validation",
        "val": f"{cfg.path}: {val}",
        "test": f"{cfg.path}: {test}",
    }


def stratified_folds(items: list, k: int, seed: int, key=_label_of) -> list[list]:
    """Cut ``items`` into ``k`` folds with (within one) the same share of every class: each
    class, shuffled with ``seed``, is dealt round-robin, continuing where the last one stopped,
    so the folds' sizes differ by at most one."""
    if len(items) < k:
        raise ValueError(f"data.folds={k} needs at least {k} training examples, got {len(items)}")
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    folds: list[list] = [[] for _ in range(k)]
    offset = 0
    for label in sorted(groups, key=_label_key):
        rows = shuffled(groups[label], seed)
        for j, row in enumerate(rows):
            folds[(offset + j) % k].append(row)
        offset += len(rows)
    return [shuffled(f, seed) for f in folds]


def _refit_splits(raw: dict, own_test: bool, sources: dict) -> dict[str, list]:
    """``data.refit``: train on all the training data (train + val); the data's own test split
    is the test split. There is no held-out validation: the val split is the training data
    again (the refit run does not validate; its epochs were fixed by the folds)."""
    if not own_test or not raw.get("test"):
        raise ValueError(
            "data.refit needs a test split of the data's own (test_path, test/, a reader's "
            "'test'): without one every example is in the folds and nothing is left to test on"
        )
    pool = list(raw["train"]) + list(raw.get("val") or [])
    what = " + ".join(s for s in ("train", "val") if raw.get(s))
    sources["train"] = f"all the training data ({what} of {sources.get('train', 'the data')})"
    sources["val"] = "the training data again (refit: nothing held out, validation not run)"
    return {"train": pool, "val": pool, "test": raw["test"]}


def _fold_splits(raw: dict, k: int, fold: int, seed: int, keep_test: bool) -> dict[str, list]:
    """Fold ``fold`` of ``k``: train and val (and a test split cut by fractions, unless
    ``keep_test``) are pooled and cut into stratified folds. Without a test split of its own the
    data module tests on the fold (``TaskData.test_dataloader`` falls back to val)."""
    pool = list(raw["train"]) + list(raw.get("val") or [])
    if not keep_test:
        pool += list(raw.get("test") or [])
    folds = stratified_folds(pool, k, seed)
    out = {"train": [x for i, f in enumerate(folds) if i != fold for x in f], "val": folds[fold]}
    if keep_test and raw.get("test"):
        out["test"] = raw["test"]
    return out


# -- data.reader functions for the real datasets ----------------------------------------------


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
    out["train"], out["val"] = carve(out["train"], val_fraction, seed)
    return limit_splits(out, limit, seed)


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
    train, test, val = stratified(items, lambda it: it[1], (test_fraction, val_fraction), seed)
    return limit_splits({"train": train, "val": val, "test": test}, limit, seed)


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
    train, val = carve(items[:train_size], val_fraction, seed)
    return limit_splits({"train": train, "val": val, "test": items[train_size:]}, limit, seed)


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
    train, val = stratified(out["train"], lambda it: it[1], (val_fraction,), seed)
    return limit_splits({"train": train, "val": val, "test": out["test"]}, limit, seed)
