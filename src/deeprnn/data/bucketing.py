"""Bucketing: batches of similar lengths, so less of each padded batch is padding.

The sampler follows the usual recipe (torchnlp ``BucketBatchSampler``, AllenNLP
``BucketIterator``): shuffle the indices, cut them into pools of ``batch_size * pool_factor``,
sort each pool by length, cut the pool into batches, and shuffle the order of the batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler

from deeprnn._validation import check_bool, check_positive_int

__all__ = ["BucketBatchSampler", "PaddingReport", "padding_fraction", "padding_report"]


class BucketBatchSampler(Sampler[list[int]]):
    """Yield lists of dataset indices whose sequences have similar lengths.

    Pass it to ``DataLoader(dataset, batch_sampler=sampler, collate_fn=pad_collate)``.

    Args:
        lengths: the length of every sample of the dataset, (len(dataset),).
        batch_size: samples per batch.
        shuffle: shuffle within pools and the order of batches (each epoch differently, seeded
            by ``seed`` and the epoch, see :meth:`set_epoch`). ``False`` sorts the whole
            dataset by length (deterministic, least padding; for evaluation).
        drop_last: drop the last, smaller batch of each pool.
        pool_factor: a pool holds ``batch_size * pool_factor`` samples; larger pools give less
            padding but less random batches.
        seed: seed of the shuffling.

    Example:
        >>> sampler = BucketBatchSampler([5, 1, 4, 2], batch_size=2, shuffle=False)
        >>> list(sampler)
        [[1, 3], [2, 0]]
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        pool_factor: int = 100,
        seed: int = 0,
    ):
        self.lengths = np.asarray(lengths)
        if self.lengths.ndim != 1 or (
            self.lengths.size and not np.issubdtype(self.lengths.dtype, np.integer)
        ):
            raise ValueError(
                f"lengths must be a 1-D sequence of ints, got shape {self.lengths.shape} "
                f"dtype {self.lengths.dtype}"
            )
        if self.lengths.size and self.lengths.min() < 0:
            raise ValueError(f"lengths must be non-negative, got {int(self.lengths.min())}")
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.shuffle = check_bool("shuffle", shuffle)
        self.drop_last = check_bool("drop_last", drop_last)
        self.pool_factor = check_positive_int("pool_factor", pool_factor)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use a different (but reproducible) shuffle for each epoch."""
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return self._cut(order)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(n, generator=g).numpy()
        pool = self.batch_size * self.pool_factor
        batches: list[list[int]] = []
        for start in range(0, n, pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(self._cut(chunk))
        order = torch.randperm(len(batches), generator=g).tolist()
        return [batches[i] for i in order]

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        out = [
            order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)
        ]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def __len__(self) -> int:
        n, b = len(self.lengths), self.batch_size
        if not self.drop_last:
            return -(-n // b)
        if not self.shuffle:
            return n // b
        pool = b * self.pool_factor
        full, rest = divmod(n, pool)
        return full * (pool // b) + rest // b


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """The fraction of padded cells when each batch is padded to its longest sequence.

    Args:
        lengths: the length of every sample.
        batches: lists of sample indices.

    Returns:
        ``padding / (padding + real)`` over all batches, in [0, 1).
    """
    lengths = np.asarray(lengths)
    padded = real = 0
    for batch in batches:
        lb = lengths[np.asarray(batch, dtype=np.int64)]
        if lb.size:
            padded += int(lb.max()) * lb.size
            real += int(lb.sum())
    return 0.0 if padded == 0 else (padded - real) / padded


@dataclass(frozen=True)
class PaddingReport:
    """Padding with random batches vs bucketed batches (see :func:`padding_report`).

    Attributes:
        batch_size: samples per batch.
        random: padding fraction with shuffled, unsorted batches.
        bucketed: padding fraction with :class:`BucketBatchSampler` batches.
        saved: ``random - bucketed`` (fraction of all padded cells no longer computed).
        speedup: ``cells(random) / cells(bucketed)``: how many fewer time steps the RNN runs.
    """

    batch_size: int
    random: float
    bucketed: float
    saved: float
    speedup: float


def padding_report(
    lengths: Sequence[int], batch_size: int, pool_factor: int = 100, seed: int = 0
) -> PaddingReport:
    """Compare the padding of random batches with that of :class:`BucketBatchSampler`.

    Args:
        lengths: the length of every sample.
        batch_size: samples per batch.
        pool_factor: passed to the sampler.
        seed: seed of both shuffles.

    Returns:
        A :class:`PaddingReport`.
    """
    lengths = np.asarray(lengths)
    check_positive_int("batch_size", batch_size)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(lengths), generator=g).numpy()
    random_batches = [perm[i : i + batch_size] for i in range(0, len(perm), batch_size)]
    sampler = BucketBatchSampler(lengths, batch_size, pool_factor=pool_factor, seed=seed)
    bucket_batches = list(sampler)

    def cells(batches) -> int:
        return sum(int(lengths[np.asarray(b)].max()) * len(b) for b in batches if len(b))

    rand, buck = (
        padding_fraction(lengths, random_batches),
        padding_fraction(lengths, bucket_batches),
    )
    c_buck = cells(bucket_batches)
    return PaddingReport(
        batch_size=batch_size,
        random=rand,
        bucketed=buck,
        saved=rand - buck,
        speedup=cells(random_batches) / c_buck if c_buck else 1.0,
    )
