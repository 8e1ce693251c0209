"""The series of a panel sharded across DDP ranks (issue 29, with ``data.cache``): each series
belongs to exactly one rank, which trains, validates and tests on that series' windows alone, so
a rank reading a memory-mapped panel (:mod:`deeprnn.tasks.forecast.cache`) reads only its shard.

* :func:`assign`: series -> rank, the largest first onto the least-loaded rank (by windows over
  all splits), deterministic, so every rank computes the same assignment from the cache's index;
* :class:`ShardOrder`: one rank's order of an epoch. Training: its windows shuffled by
  ``(seed, epoch, rank)`` and wrapped around to the same count on every rank (every rank runs
  the same number of optimizer steps, or the gradient all-reduce would wait forever), or
  ``data.windows_per_epoch / world`` windows drawn from its series
  (:class:`~deeprnn.tasks.forecast.windows.WindowSample` over the shard). Evaluation: its windows
  in order, none twice; the metrics are sums reduced over the ranks (torchmetrics, Lightning's
  batch-weighted ``sync_dist``), so they are those of the whole split.

A split on which some rank would get no window (fewer series than ranks) is not sharded: the
ranks take every ``world``-th window of it, as without the cache, and read all of it.
"""

from __future__ import annotations

import logging

import numpy as np
from torch.utils.data import Sampler

from deeprnn._distributed import is_rank_zero
from deeprnn.tasks.forecast.windows import WindowSample

log = logging.getLogger("deeprnn.tasks.forecast")


def assign(weights: np.ndarray, world: int) -> np.ndarray:
    """(S,) the rank of each series: series by decreasing ``weights`` (S,) (their windows), each
    onto the rank with the fewest so far (ties: the lowest rank, then the lowest series)."""
    owner = np.zeros(len(weights), dtype=np.int64)
    load = np.zeros(world, dtype=np.int64)
    for s in np.argsort(-np.asarray(weights), kind="stable"):
        r = int(np.argmin(load))
        owner[s] = r
        load[r] += int(weights[s])
    return owner


def shard_windows(series: np.ndarray, owner: np.ndarray, world: int) -> list[np.ndarray] | None:
    """Each rank's window indices of a split whose windows belong to ``series`` (N,); None when
    a rank would have none."""
    ranks = owner[series]
    mine = [np.flatnonzero(ranks == r) for r in range(world)]
    return None if any(len(m) == 0 for m in mine) else mine


class ShardOrder(Sampler[int]):
    """The window indices rank ``rank`` visits in an epoch, out of its own ``mine``.

    ``train``: shuffled by ``(seed, epoch, rank)`` (unless ``shuffle`` is false) and wrapped to
    ``total`` (the largest shard's size), or with ``num`` (``data.windows_per_epoch``) ``ceil(num / world)`` windows drawn from
    the shard by ``sampling``; otherwise ``mine`` in order."""

    def __init__(
        self,
        mine: np.ndarray,
        series: np.ndarray,
        *,
        rank: int,
        world: int,
        seed: int,
        train: bool,
        total: int,
        num: int | None = None,
        sampling: str = "length",
        shuffle: bool = True,
    ):
        self.mine, self.rank, self.seed, self.train = np.asarray(mine), rank, seed, train
        self.shuffle = shuffle
        self.total, self.epoch = int(total), 0
        self.sample = None
        if train and num:
            per_rank = -(-int(num) // world)
            self.sample = WindowSample(series[self.mine], per_rank, seed, sampling, key=(rank,))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.sample is not None:
            self.sample.set_epoch(epoch)

    def __len__(self) -> int:
        if self.sample is not None:
            return len(self.sample)
        return self.total if self.train else len(self.mine)

    def __iter__(self):
        if self.sample is not None:
            return iter(self.mine[self.sample.draw()].tolist())
        if not self.train:
            return iter(self.mine.tolist())
        order = self.mine
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch, 31, self.rank])
            order = order[rng.permutation(len(order))]
        reps = -(-self.total // len(order))
        return iter(np.tile(order, reps)[: self.total].tolist())


def of_split(dm, split: str, world: int) -> list[np.ndarray] | None:
    """Each rank's windows of ``split`` of ``dm`` (a ForecastData) under DDP with
    ``data.cache``: the windows of its own series, the series assigned once
    (``dm.shard_owner``) and what each split's shards hold recorded in ``dm.sharded`` (for
    ``metrics.json``); None: not sharded (a rank would get none; said on rank 0)."""
    if dm.shard_owner is None or len(dm.shard_owner) != len(dm.panel.ids):
        weights = sum(w.lengths_by_series() for w in dm.splits.values() if len(w))
        dm.shard_owner, dm.sharded = assign(weights, world), {}
    mine = shard_windows(dm.splits[split].series, dm.shard_owner, world)
    if mine is not None:
        dm.sharded[split] = {
            "ranks": world,
            "series_per_rank": np.bincount(dm.shard_owner, minlength=world).tolist(),
            "windows_per_rank": [len(m) for m in mine],
        }
    elif is_rank_zero():
        log.warning(
            "data.cache under DDP: the %s split has windows of fewer series than the %d ranks, "
            "so it is not sharded by series (each rank takes every %d-th window)",
            split,
            world,
            world,
        )
    return mine
