"""Shared data plumbing for the task data modules: vocabularies as JSON lists, tokenizers, padding
collates, an epoch-seeded shuffling sampler, the ``TaskData`` base class, and the cutting of
examples into splits (by fractions, stratified, from CSV files or from a ``data.reader``).

Everything a model needs at prediction time (vocabularies, label names, scaler statistics) is
an *artifact*: plain JSON-able values that travel in checkpoints and export folders.
"""

from __future__ import annotations

import importlib
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from deeprnn.data._io import read_csv, require_columns
from deeprnn.data.vocab import EOS, PAD, UNK, Vocab

__all__ = ["BOS", "EOS", "PAD", "UNK", "Vocab", "vocab_from_itos"]

BOS = "<bos>"
IGNORE = -100  # the target id of padding and unlabelled steps (torch's cross-entropy default)
SPLITS = ("train", "val", "test")


def vocab_from_itos(itos: Sequence[str], name: str = "artifacts.vocab") -> Vocab:
    """The :class:`deeprnn.data.Vocab` whose id ``i`` is ``itos[i]`` (the JSON form tasks keep in
    their artifacts and export folders); ``itos`` must start with ``[PAD]``, ``[UNK]``."""
    itos = list(itos)
    if len(itos) < 2 or itos[:2] != [PAD, UNK]:
        raise ValueError(f"{name} must start with {PAD!r}, {UNK!r}; got {itos[:2]!r}")
    if len(set(itos)) != len(itos):
        raise ValueError(f"{name}: vocabulary tokens must be unique")
    return Vocab(itos[2:])


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, level: str = "word", lower: bool = False) -> list[str]:
    """``char``: every character; ``word``: words and punctuation; ``whitespace``: split()."""
    if lower:
        text = text.lower()
    if level == "char":
        return list(text)
    if level == "whitespace":
        return text.split()
    return _WORD.findall(text)


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into consecutive parts of the given sizes."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g).tolist()
    parts, start = [], 0
    for i, f in enumerate(fractions):
        stop = n if i == len(fractions) - 1 else start + round(f * n)
        parts.append(perm[start:stop])
        start = stop
    return parts


def shuffled(items: list, seed: int) -> list:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def carve(train: list, val_fraction: float, seed: int) -> tuple[list, list]:
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    items = shuffled(train, seed)
    n_val = max(1, round(len(items) * val_fraction))
    return items[n_val:], items[:n_val]


def limit_splits(splits: dict, limit: int | None, seed: int) -> dict:
    if limit is None:
        return splits
    if limit < 1:
        raise ValueError(f"limit must be >= 1 or null, got {limit!r}")
    return {k: shuffled(v, seed + 1)[:limit] for k, v in splits.items()}


def stratified(items: list, key, held_out: tuple[float, ...], seed: int) -> list[list]:
    """``[rest, part_1, ...]``: part ``i`` holds ``held_out[i]`` of every class (``key``)."""
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    parts: list[list] = [[] for _ in range(len(held_out) + 1)]
    for label in sorted(groups):
        rows = shuffled(groups[label], seed)
        start = 0
        for i, f in enumerate(held_out, start=1):
            n = round(len(rows) * f)
            parts[i].extend(rows[start : start + n])
            start += n
        parts[0].extend(rows[start:])
    return [shuffled(p, seed) for p in parts]


def call_reader(reader: str | None, args: dict, name: str = "data.reader") -> dict[str, Any]:
    """Import ``"package.module:function"`` and call it with ``args``.

    It must return a dict of splits (``train`` and ``val`` required, ``test`` optional). This is
    how any data set reader plugs into a task without changing the task.
    """
    if not reader or not isinstance(reader, str) or ":" not in reader:
        raise ValueError(f"{name} must look like 'package.module:function', got {reader!r}")
    module_name, _, func_name = reader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"{name}: cannot import {module_name!r} ({e})") from e
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"{name}: {module_name!r} has no function {func_name!r}")
    out = func(**(args or {}))
    if not isinstance(out, dict) or "train" not in out:
        raise ValueError(
            f"{name}: {reader} must return a dict with 'train', 'val' (and 'test') splits, "
            f"got {type(out).__name__}"
        )
    unknown = set(out) - set(SPLITS)
    if unknown:
        raise ValueError(f"{name}: {reader} returned unknown splits {sorted(unknown)}")
    splits = {k: list(v) for k, v in out.items() if v is not None}
    if not splits.get("train"):
        raise ValueError(f"{name}: {reader} returned an empty 'train' split (no examples)")
    return splits


def _fractions(cfg) -> list[float]:
    for nm in ("val_fraction", "test_fraction"):
        v = getattr(cfg, nm)
        if not 0 <= v < 1:
            raise ValueError(f"data.{nm} must be in [0, 1), got {v!r}")
    train = 1 - cfg.val_fraction - cfg.test_fraction
    if train <= 0:
        raise ValueError(
            f"data.val_fraction + data.test_fraction must be < 1, got "
            f"{cfg.val_fraction} + {cfg.test_fraction}"
        )
    return [train, cfg.val_fraction, cfg.test_fraction]


def cut_by_fractions(
    items: list,
    cfg,
    seed: int,
    where: str,
    own: Sequence[str] = (),
    sources: dict | None = None,
    unit: str = "rows",
) -> dict[str, list]:
    """The splits cut from one base of ``items`` (the rows of ``where``): train, and val / test
    unless named in ``own`` (they have files of their own), by ``cfg.val_fraction`` /
    ``cfg.test_fraction`` after a shuffle with ``seed``. ``sources`` (when given) gets where
    each cut split came from."""
    fraction = dict(zip(SPLITS, _fractions(cfg)))
    carved = [s for s in ("val", "test") if s not in own]
    names = ["train", *carved]
    train = 1.0
    for s in carved:
        train -= fraction[s]  # 1 - val - test, as the fractions are cut everywhere
    fr = [train] + [fraction[s] for s in carved]
    parts = split_indices(len(items), fr, seed)
    out = {s: [items[i] for i in p] for s, p in zip(names, parts)}
    if sources is not None:
        start = 0
        for name, part, f in zip(names, parts, fr):
            sources[name] = carve_source(where, len(part), len(items), f, seed, unit, start)
            start += len(part)
    return out


def carve_source(
    where: str,
    n: int,
    total: int,
    fraction: float,
    seed: int,
    unit: str = "rows",
    start: int | None = None,
) -> str:
    """How a split cut by a fraction is described: ``"x.csv: 160 of its 200 rows (a 0.8
    fraction, shuffled with seed 0: positions [0, 160) of that order)"``. The positions (the
    split's part of the seeded order, when ``start`` is given) tell two splits of the same size
    apart: validation and test cut by equal fractions are never described alike."""
    part = "" if start is None else f": positions [{start}, {start + n}) of that order"
    return (
        f"{where}: {n} of its {total} {unit} (a {fraction:.4g} fraction, shuffled with seed "
        f"{seed}{part})"
    )


def reader_source(reader: str | None, args: dict | None, split: str) -> str:
    """How a split a ``data.reader`` returned is described (its arguments shortened)."""
    shown = ", ".join(f"{k}={v!r}" for k, v in (args or {}).items())
    if len(shown) > 160:
        shown = shown[:157] + "..."
    return f"the {split!r} split of data.reader {reader}({shown})"


def labelled_splits_from_csv(
    cfg, seed: int, x_column: str, y_column: str, sources: dict | None = None
) -> dict[str, list]:
    """``(x, y)`` pairs per split from per-split files, or ``cfg.path`` cut by fractions (a
    ``val_path`` / ``test_path`` given with it is that split; the rest is cut from ``path``).
    ``sources`` (when given) gets where each split came from."""
    files = {s: getattr(cfg, f"{s}_path") for s in SPLITS}
    if cfg.path is None and files["train"] is None:
        raise ValueError("data.source='csv' needs data.path or data.train_path")
    sources = {} if sources is None else sources

    def read(path, key: str) -> list:
        frame = read_csv(path, key)
        require_columns(frame, [x_column, y_column], f"{key} {path}")
        return list(zip(frame[x_column].astype(str), frame[y_column]))

    out: dict[str, list] = {}
    own = [s for s in ("val", "test") if files[s] is not None]
    for split in ("train", *own) if files["train"] is not None else own:
        out[split] = read(files[split], f"data.{split}_path")
        sources[split] = str(files[split])
    if files["train"] is not None:
        if "val" not in out:  # carve the validation split out of train
            items = out["train"]
            tr, va = split_indices(len(items), [1 - cfg.val_fraction, cfg.val_fraction], seed)
            out["train"], out["val"] = [items[i] for i in tr], [items[i] for i in va]
            where = files["train"]
            n = len(items)
            sources["train"] = carve_source(where, len(tr), n, 1 - cfg.val_fraction, seed, start=0)
            sources["val"] = carve_source(where, len(va), n, cfg.val_fraction, seed, start=len(tr))
        return out
    items = read(cfg.path, "data.path")
    out.update(cut_by_fractions(items, cfg, seed, str(cfg.path), own, sources))
    return out


def pad_ids(seqs: Sequence[Sequence[int]], value: int = 0) -> tuple[Tensor, Tensor]:
    """Post-pad integer sequences: ``(ids (N, T) long, lengths (N,) long)``."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    steps = max(1, int(lengths.max())) if len(seqs) else 1
    out = torch.full((len(seqs), steps), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out, lengths


def pad_floats(seqs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Post-pad (T_i, F) float tensors: ``(x (N, T, F), lengths (N,))``."""
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.long)
    steps = max(1, int(lengths.max())) if len(seqs) else 1
    out = seqs[0].new_zeros(len(seqs), steps, seqs[0].shape[-1])
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
    return out, lengths


class ListDataset(Dataset):
    def __init__(self, items: Sequence[Any]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


class EpochShuffle(Sampler[int]):
    """The order of one epoch: a permutation that depends only on ``(seed, epoch)`` (or the
    natural order with ``shuffle=False``), so a resumed run replays the uninterrupted run's
    order. Under DDP rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of the one global
    order: with a per-process batch ``b`` the ranks' batches together are exactly the
    single-process batches of ``w * b``. Lightning calls ``set_epoch`` every epoch.

    ``pad=True`` (training) makes every rank take the same number of items, so every rank runs
    the same number of optimizer steps (gradients are all-reduced at every step: one rank with
    a step more would wait forever): the order is padded by wrapping around to its start, as
    ``torch.utils.data.DistributedSampler`` does, so ``ceil(n / w) * w - n`` items (fewer than
    ``w``) appear twice in an epoch. Evaluation is not padded: no example counts twice."""

    def __init__(
        self,
        n: int,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world: int = 1,
        pad: bool = False,
    ):
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0
        self.rank, self.world, self.pad = rank, world, pad

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _total(self) -> int:
        return -(-self.n // self.world) * self.world if self.pad and self.n else self.n

    def __len__(self) -> int:
        return len(range(self.rank, self._total(), self.world))

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        order += order[: self._total() - self.n]  # pad: wrap around (fewer than w items)
        return iter(order[self.rank :: self.world])


AUTO_BATCH_SIZE = 32  # trainer.batch_size: null on a large training split
MIN_AUTO_BATCH_SIZE = 8  # ... and never below this on a small one
MIN_EPOCH_STEPS = 16  # the optimizer steps per epoch the auto batch size aims for
MIN_VAL_EXAMPLES = 30  # fewer validation examples cannot choose a checkpoint reliably
NO_TEST = "the val split (no test split given)"


def auto_batch_size(rows: int, world: int = 1) -> int:
    """``trainer.batch_size: null``: 32, or smaller so that an epoch of ``rows`` training rows
    (examples; a language model's stream: its ``bptt`` chunks) over ``world`` processes has at
    least 16 optimizer steps, never below 8. The one place the automatic batch size is chosen.

    >>> auto_batch_size(10_000), auto_batch_size(300), auto_batch_size(100)
    (32, 18, 8)
    """
    per_step = MIN_EPOCH_STEPS * max(1, int(world))
    return max(MIN_AUTO_BATCH_SIZE, min(AUTO_BATCH_SIZE, int(rows) // per_step))


class TaskData(pl.LightningDataModule):
    """Base of the task data modules.

    Subclasses implement :meth:`load` (read the raw splits, fit artifacts on the training split
    unless given) and :meth:`collate`. ``artifacts`` holds what a model needs to be rebuilt and
    to predict on new raw inputs (vocabularies, labels, input size, scaler).

    Provenance: :meth:`load` records in ``split_sources`` where each split came from (a file,
    which rows or characters of one, a reader, synthetic data); :meth:`provenance` adds the
    number of examples of each split and the fallback a split took (no test split: the val
    split is tested). ``batch_size=None`` is :func:`auto_batch_size` of the training split.
    """

    def __init__(
        self,
        config,
        *,
        batch_size: int | None = None,
        seed: int = 0,
        num_workers: int = 0,
        shuffle: bool = True,
        artifacts: dict | None = None,
    ):
        super().__init__()
        self.config = config
        self.batch_size = batch_size
        self.batch_size_auto = batch_size is None
        self.seed = seed
        self.num_workers = num_workers
        self.shuffle = shuffle
        self.artifacts: dict[str, Any] = dict(artifacts or {})
        self.splits: dict[str, list] = {}
        self.split_sources: dict[str, str] = {}  # split -> where it came from (load fills it)
        # False where the val split is not held out (a refit trains on it): nothing is scored
        # on it as "val" (the baselines skip it)
        self.val_held_out = True
        self._loaded = False

    # -- to implement ----------------------------------------------------------------------------
    def load(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def collate(self, items: list):  # pragma: no cover
        raise NotImplementedError

    # -- lightning -------------------------------------------------------------------------------
    def prepare(self) -> TaskData:
        """Read the data and fit the artifacts (idempotent); returns self."""
        if not self._loaded:
            self.load()
            for name in ("train", "val"):
                if not self.splits.get(name):
                    source = self.split_sources.get(name)
                    of = f" ({source})" if source else ""
                    raise ValueError(
                        f"the {name} split is empty{of}; check the data config and files"
                    )
            self._loaded = True
            if self.batch_size_auto:
                self.resolve_batch_size()
        return self

    # -- what the splits are ---------------------------------------------------------------------
    def batch_rows(self) -> int:
        """How many rows the training split fills batches with (its examples)."""
        return len(self.splits.get("train") or [])

    def resolve_batch_size(self, world: int = 1) -> int:
        """``batch_size`` (per process): the one given, else :func:`auto_batch_size` of the
        training split over ``world`` processes."""
        if self.batch_size_auto:
            self.batch_size = auto_batch_size(self.batch_rows(), world)
        return self.batch_size

    def split_size(self, split: str) -> tuple[int, str]:
        """``(count, unit)`` of a split: its examples (windows, sentences, tokens ...)."""
        return len(self.splits.get(split) or []), "examples"

    def test_split(self) -> str:
        """The split the test metrics are computed on: ``test``, or ``val`` without one."""
        return "test" if self.splits.get("test") else "val"

    def _default_source(self, split: str) -> str:
        source = getattr(self.config, "source", None)
        return f"the {split!r} split of data.source {source!r}" if source else f"the {split} split"

    def provenance(self) -> dict[str, dict[str, Any]]:
        """What each split is: ``{split: {"source", "examples", "unit"[, "fallback"]}}``; the
        test entry of data without a test split is the val split, with ``"fallback": "val"``.
        """
        out: dict[str, dict[str, Any]] = {}
        for split in SPLITS:
            if split == "test" and self.test_split() != "test":
                n, unit = self.split_size("val")
                out[split] = {"source": NO_TEST, "examples": n, "unit": unit, "fallback": "val"}
                continue
            n, unit = self.split_size(split)
            source = self.split_sources.get(split) or self._default_source(split)
            out[split] = {"source": source, "examples": n, "unit": unit}
        return out

    def fallback_warnings(self) -> list[str]:
        """One line for every split that is another one (tested on validation)."""
        if self.test_split() == "test":
            return []
        n, unit = self.split_size("val")
        return [
            f"test metrics are computed on the validation split ({n} {unit}): the data has no "
            "test split, so they are validation scores (the split that chose the checkpoint), "
            "not held-out test scores"
        ]

    def health_warnings(self) -> list[str]:
        """What makes the data's numbers doubtful: a validation split too small to choose a
        checkpoint (fewer than 30 examples); subclasses add their own (a missing class)."""
        n, unit = self.split_size("val")
        if 0 < n < MIN_VAL_EXAMPLES and unit != "tokens":
            return [
                f"the validation split has only {n} {unit} (fewer than {MIN_VAL_EXAMPLES}): too "
                "few to choose the best checkpoint or stop early reliably; give it more"
            ]
        return []

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def item_length(self, item) -> int:
        """Time steps of one encoded item; ``data.bucket: true`` batches items by it."""
        return len(item[0])

    def make_dataset(self, items: list, train: bool) -> Dataset:
        """The dataset a loader reads ``items`` from (``train``: the training split's; a task
        that augments training examples wraps them here)."""
        return ListDataset(items)

    def _loader(self, split: str, train: bool) -> DataLoader:
        items = self.splits.get(split)
        if not items:
            raise ValueError(f"the data has no {split!r} split")
        data = self.make_dataset(items, train)
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        common = {"collate_fn": self.collate, "num_workers": self.num_workers}
        common["persistent_workers"] = self.num_workers > 0
        if train and getattr(self.config, "bucket", False):
            from deeprnn.data.bucketing import BucketBatchSampler

            lengths = [self.item_length(item) for item in items]
            batches = BucketBatchSampler(
                lengths, self.batch_size * world, shuffle=self.shuffle, seed=self.seed
            )
            return DataLoader(data, batch_sampler=RankBatches(batches, rank, world), **common)
        sampler = EpochShuffle(
            len(data), self.seed, train and self.shuffle, rank, world, pad=train and world > 1
        )
        return DataLoader(data, batch_size=self.batch_size, sampler=sampler, **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_split(), train=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()


class RankBatches:
    """Rank ``r`` of ``w`` takes rows ``r::w`` of every global bucket batch (of ``w * b``)."""

    def __init__(self, batches, rank: int, world: int):
        self.batches, self.rank, self.world = batches, rank, world

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            yield batch[self.rank :: self.world] or batch[:1]  # every rank steps every batch
