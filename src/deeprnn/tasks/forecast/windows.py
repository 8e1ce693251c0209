"""The windows of a panel of series without a copy per window: every series' scaled values live
in one contiguous float32 block (the series concatenated, ``offsets`` marking where each starts),
and a window is a row index into it (issue 29).

:class:`Panel` is that block; :class:`Windows` the windows of one split (a sequence of
``(x (W + H, F), y (H, K))`` pairs, built on demand, a batch by one gather); :class:`WindowStarts`
the ``(series id, first row)`` of each window, as the lists the task kept before;
:class:`WindowSample` the sampler of ``data.windows_per_epoch``.

Shape symbols: N rows of all series together, F features (K targets first), W input window,
H horizon, B batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from deeprnn.tasks.forecast.baselines import baseline_forecasts, validation_scores


class Panel:
    """Series side by side: ``values`` (N, F) float32 scaled, ``truth`` (N, K) float32 or None
    (the targets with NaN at masked gaps, for ``y``), ``offsets`` (S + 1,) the first row of each
    series and the end, ``ids`` the S series ids."""

    def __init__(
        self,
        values: np.ndarray,
        offsets: np.ndarray,
        ids: list[str],
        truth: np.ndarray | None = None,
    ):
        if values.ndim != 2 or values.dtype != np.float32:
            raise ValueError(f"values must be (N, F) float32, got {values.dtype} {values.shape}")
        if len(offsets) != len(ids) + 1 or offsets[0] != 0 or offsets[-1] != len(values):
            raise ValueError(
                f"offsets must run from 0 to {len(values)} with one per series "
                f"({len(ids)}), got {len(offsets)} from {offsets[:1]} to {offsets[-1:]}"
            )
        self.values, self.truth, self.ids = values, truth, list(ids)
        self.offsets = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def concat(cls, parts: list[np.ndarray], ids: list[str], truth: list | None = None) -> Panel:
        """A panel of the (T_i, F) series ``parts`` (cast to float32)."""
        lengths = [len(p) for p in parts]
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        width = parts[0].shape[1] if parts else 0
        values = np.empty((int(offsets[-1]), width), np.float32)
        for p, a in zip(parts, offsets[:-1]):
            values[a : a + len(p)] = p
        t = None
        if truth is not None:
            t = np.concatenate([np.asarray(x, np.float32) for x in truth]) if truth else None
        return cls(values, offsets, ids, t)

    def series(self, i: int) -> np.ndarray:
        """The (T_i, F) rows of series ``i`` (a view)."""
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + (0 if self.truth is None else self.truth.nbytes)


class Windows(Sequence):
    """The windows of one split: window ``j`` starts at row ``rows[j]`` of ``panel.values``.

    ``windows[j]`` is ``(x (W + H, F), y (H, K))`` (fresh tensors, as the lists of windows the task
    kept before: changing one changes nothing else); a slice is a list of those;
    ``windows.batch(idx)`` the stacked ``(x (B, W + H, F), y (B, H, K))`` in one gather, which is
    what a DataLoader asks for (``__getitems__``). With ``base`` (N, H, K) float32 set (a
    classical forecast of each window, :func:`deeprnn.tasks.forecast.classical.attach`) they are
    ``(x, y, base)``; with ``codes`` (S,) int64 set (each panel series' code for a model that
    reads the series, :mod:`deeprnn.tasks.forecast.series`) the windows' codes (B,) come last."""

    def __init__(self, panel: Panel, rows: np.ndarray, series: np.ndarray, w: int, h: int, k: int):
        self.panel, self.w, self.h, self.k = panel, w, h, k
        self.base: np.ndarray | None = None
        self.codes: np.ndarray | None = None
        self.rows = np.asarray(rows, dtype=np.int64)  # absolute first row of each window
        self.series = np.asarray(series, dtype=np.int64)  # its series (index into panel.ids)
        self._steps = np.arange(w + h, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[i] for i in range(*j.indices(len(self)))]
        j = int(j)
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError(f"window {j} of {len(self)}")
        return tuple(t[0] for t in self.batch(np.array([j])))

    def __getitems__(self, idx) -> tuple[Tensor, ...]:
        return self.batch(np.asarray(idx, dtype=np.int64))

    def batch(self, idx: np.ndarray) -> tuple[Tensor, ...]:
        """``(x (B, W + H, F), y (B, H, K))`` of the windows ``idx``, and their ``base``
        (B, H, K) and series ``codes`` (B,) when those are set."""
        at = self.rows[idx][:, None] + self._steps  # (B, W + H) row numbers
        x = torch.from_numpy(self.panel.values[at])  # (B, W + H, F)
        if self.panel.truth is None:
            y = x[:, self.w :, : self.k].clone()
        else:
            y = self.panel.truth[at[:, self.w :]]  # (B, H, K)
            y = torch.from_numpy(np.ascontiguousarray(y[:, :, : self.k]))
        out = (x, y)
        if self.base is not None:
            out += (torch.from_numpy(self.base[idx]),)  # (B, H, K)
        if self.codes is not None:
            out += (torch.from_numpy(self.codes[self.series[idx]]),)  # (B,)
        return out

    def targets(self, idx: np.ndarray) -> tuple[Tensor, Tensor]:
        """``(past (B, W, K), y (B, H, K))`` of the windows ``idx``: the targets alone (the
        values :meth:`batch` holds there, without gathering the covariates)."""
        at = self.rows[idx][:, None] + self._steps  # (B, W + H)
        past = torch.from_numpy(self.panel.values[:, : self.k][at[:, : self.w]])
        source = self.panel.values if self.panel.truth is None else self.panel.truth
        return past, torch.from_numpy(source[:, : self.k][at[:, self.w :]])

    def lengths_by_series(self) -> np.ndarray:
        """Windows per series of the panel (S,)."""
        return np.bincount(self.series, minlength=len(self.panel.ids))


class WindowStarts(Sequence):
    """``(series id, first row within the series)`` of each window of a :class:`Windows`; equal
    to the list of those pairs (and to another ``WindowStarts`` holding the same)."""

    def __init__(self, windows: Windows):
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[i] for i in range(*j.indices(len(self)))]
        s = int(self.windows.series[j])
        p = self.windows.panel
        return p.ids[s], int(self.windows.rows[j] - p.offsets[s])

    def __eq__(self, other) -> bool:
        if isinstance(other, (WindowStarts, list, tuple)):
            return len(self) == len(other) and all(a == tuple(b) for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"WindowStarts({list(self[:3])}{' ...' if len(self) > 3 else ''}, n={len(self)})"


SAMPLING = ("length", "series")


class WindowSample(Sampler[int]):
    """``data.windows_per_epoch``: ``num`` windows drawn afresh every epoch (with replacement),
    by ``(seed, epoch)`` alone so a resumed run replays the order. ``sampling="length"``: every
    window is as likely (a series by its number of windows, GluonTS's uniform instance
    sampling over a panel); ``"series"``: a series uniformly, then a window of it (short series
    as often as long ones). Under DDP rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of
    the one global draw, whose size is rounded up to a multiple of ``w`` so every rank runs the
    same number of steps. ``key`` (a shard's rank, :mod:`~deeprnn.tasks.forecast.shards`) gives
    another stream of draws."""

    def __init__(
        self,
        series: np.ndarray,
        num: int,
        seed: int,
        sampling: str = "length",
        rank: int = 0,
        world: int = 1,
        key: tuple[int, ...] = (),
    ):
        if sampling not in SAMPLING:
            raise ValueError(f"data.window_sampling must be one of {SAMPLING}, got {sampling!r}")
        self.series = np.asarray(series, dtype=np.int64)
        if not len(self.series):
            raise ValueError("data.windows_per_epoch: the training split has no windows")
        self.num, self.seed, self.sampling = int(num), seed, sampling
        self.rank, self.world, self.epoch, self.key = rank, world, 0, tuple(key)
        self.total = -(-self.num // world) * world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(range(self.rank, self.total, self.world))

    def draw(self) -> np.ndarray:
        """The global draw of this epoch: ``total`` window indices."""
        rng = np.random.default_rng([self.seed, self.epoch, 29, *self.key])
        if self.sampling == "length":
            return rng.integers(0, len(self.series), self.total)
        order = np.argsort(self.series, kind="stable")  # window indices grouped by series
        counts = np.bincount(self.series)
        present = np.flatnonzero(counts)
        first = np.concatenate([[0], np.cumsum(counts)])[present]
        pick = rng.integers(0, len(present), self.total)  # a series, uniformly
        within = (rng.random(self.total) * counts[present][pick]).astype(np.int64)
        return order[first[pick] + within]

    def __iter__(self):
        return iter(self.draw()[self.rank :: self.world].tolist())


def check_train(starts: dict, lengths: dict, cfg) -> None:
    """No training window at all is an error naming the series lengths and the split."""
    if not any(len(s["train"]) for s in starts.values()):
        w, h = cfg.input_window, cfg.horizon
        how = cfg.split or f"val/test fractions {cfg.val_fraction}/{cfg.test_fraction}"
        shown = dict(list(lengths.items())[:20])
        more = f" ... ({len(lengths)} series)" if len(lengths) > 20 else ""
        raise ValueError(
            f"no training window fits: input_window + horizon = {w + h} steps, "
            f"series lengths {shown}{more} with split {how}"
        )


def baseline_scores(windows, w: int, k: int, m: int, chunk: int = 8192) -> dict:
    """:func:`~deeprnn.tasks.forecast.baselines.validation_scores` of ``windows``: itself when
    there are at most ``chunk`` of them; else the same forecasts scored a stacked chunk at a time
    (a panel's val split does not fit stacked in float64, nor as a list of windows): the squared
    errors summed over every chunk's observed steps, over their number (a test checks the two
    agree)."""
    if len(windows) <= chunk:
        return validation_scores(windows, w, k, m)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threads only wait on each other (8x on 2 cores)
    try:
        return _chunked_scores(windows, w, k, m, chunk)
    finally:
        torch.set_num_threads(threads)


def _chunked_scores(windows, w: int, k: int, m: int, chunk: int) -> dict:
    sums: dict = {}
    seen = 0.0
    for a in range(0, len(windows), chunk):
        idx = np.arange(a, min(a + chunk, len(windows)))
        past, y = windows.targets(idx)
        past, y = past.double(), y.double()  # (N, W, K), (N, H, K)
        observed = torch.isfinite(y)
        y = torch.where(observed, y, torch.zeros_like(y))
        for name, f in baseline_forecasts(past, y.shape[1], m).items():
            sums[name] = sums.get(name, 0.0) + float((((f - y) ** 2) * observed).sum())
        seen += float(observed.sum())
    return {name: sums[name] / max(seen, 1.0) for name in sorted(sums)}
