"""Forecasting data: sliding windows, splits by time, and the scaler fitted on the training part
(the forecast task's too).

Shape symbols: T time steps of a series, D features, L input length, H horizon, N windows,
K target features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset

from deeprnn._validation import check_choice, check_nonneg_int, check_positive_int

__all__ = ["Scaler", "WindowDataset", "sliding_windows", "split_by_time"]


def _as_2d(name: str, x) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    elif isinstance(x, (pd.DataFrame, pd.Series)):
        x = x.to_numpy()
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (T,) or (T, D), got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")
    return x


def _series_list(series) -> tuple[list[np.ndarray], bool]:
    """One series or several -> list of (T_i, D) arrays, and whether it was a list."""
    if isinstance(series, (list, tuple)) and len(series) and not np.isscalar(series[0]):
        arrays = [_as_2d(f"series[{i}]", s) for i, s in enumerate(series)]
        dims = {a.shape[1] for a in arrays}
        if len(dims) > 1:
            raise ValueError(
                f"series must all have the same number of features, got {sorted(dims)}"
            )
        return arrays, True
    return [_as_2d("series", series)], False


def sliding_windows(
    series,
    input_length: int,
    horizon: int = 1,
    stride: int = 1,
    target_columns: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut series into (input window, following horizon) pairs.

    Window ``n`` of a series ``s`` is ``x = s[t : t + L]`` and ``y = s[t + L : t + L + H]``
    with ``t = n * stride``. Windows never cross from one series into the next.

    Args:
        series: one series (T,) or (T, D) (array, tensor, DataFrame), or a list of them (same
            D, any lengths).
        input_length: L, steps the model sees.
        horizon: H, steps to forecast.
        stride: steps between window starts.
        target_columns: the feature columns forecast (K of them); ``None`` forecasts all D.

    Returns:
        ``(x, y)``: x (N, L, D) and y (N, H, K) arrays (float32 for float input; the dtype of
        the input otherwise).

    Raises:
        ValueError: a series is shorter than ``L + H`` (the message names which one).

    Example:
        >>> x, y = sliding_windows(np.arange(6.0), input_length=3, horizon=1)
        >>> x.shape, y[:, 0, 0].tolist()
        ((3, 3, 1), [3.0, 4.0, 5.0])
    """
    check_positive_int("input_length", input_length)
    check_positive_int("horizon", horizon)
    check_positive_int("stride", stride)
    arrays, _ = _series_list(series)
    width = input_length + horizon
    d = arrays[0].shape[1]
    cols = list(range(d)) if target_columns is None else list(target_columns)
    for c in cols:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not -d <= c < d:
            raise ValueError(f"target_columns must be column indices in [0, {d}), got {c!r}")
    xs, ys = [], []
    for i, a in enumerate(arrays):
        if len(a) < width:
            which = f"series[{i}]" if len(arrays) > 1 else "series"
            raise ValueError(
                f"{which} has {len(a)} steps, fewer than input_length + horizon = {width}"
            )
        if a.dtype.kind == "f":
            a = a.astype(np.float32, copy=False)
        w = np.lib.stride_tricks.sliding_window_view(a, width, axis=0)[::stride]  # (N, D, L+H)
        w = w.transpose(0, 2, 1)  # (N, L+H, D)
        xs.append(w[:, :input_length])
        ys.append(w[:, input_length:, cols])
    return np.ascontiguousarray(np.concatenate(xs)), np.ascontiguousarray(np.concatenate(ys))


class WindowDataset(Dataset):
    """A map-style dataset of :func:`sliding_windows`: item ``n`` is ``(x (L, D), y (H, K))``
    float32 tensors.

    Args:
        series, input_length, horizon, stride, target_columns: as in :func:`sliding_windows`.

    Attributes:
        x: (N, L, D) tensor. y: (N, H, K) tensor.
        series_ids: (N,) which series each window comes from.
        starts: (N,) the step where each window's input starts.
    """

    def __init__(
        self,
        series,
        input_length: int,
        horizon: int = 1,
        stride: int = 1,
        target_columns: Sequence[int] | None = None,
    ):
        x, y = sliding_windows(series, input_length, horizon, stride, target_columns)
        self.x = torch.from_numpy(x.astype(np.float32, copy=False))
        self.y = torch.from_numpy(y.astype(np.float32, copy=False))
        arrays, _ = _series_list(series)
        counts = [len(range(0, len(a) - input_length - horizon + 1, stride)) for a in arrays]
        self.series_ids = torch.repeat_interleave(torch.arange(len(arrays)), torch.tensor(counts))
        self.starts = torch.cat([torch.arange(n) * stride for n in counts])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.x[i], self.y[i]


def _boundary(name: str, value, total: int, index) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a fraction, a step count or a time, got {value!r}")
    if isinstance(value, float):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
        return round(value * total)
    if isinstance(value, (int, np.integer)):
        if not 0 <= value <= total:
            raise ValueError(f"{name} must be a step count in [0, {total}], got {value!r}")
        return int(value)
    if isinstance(index, pd.DatetimeIndex):
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be a fraction, a step count or a time, got {value!r}"
            ) from None
        return int(index.searchsorted(stamp, side="left"))
    raise ValueError(
        f"{name} must be a fraction or a step count (times need a DataFrame with a "
        f"DatetimeIndex), got {value!r}"
    )


def split_by_time(data, train, val=0.0, overlap: int = 0):
    """Split a series into consecutive train / validation / test parts (no shuffling).

    Args:
        data: (T, ...) array or tensor, a DataFrame (or anything with ``.iloc``), or a list of
            series (each split the same way).
        train: the training part: a fraction of T (float), a step count (int), or, for a
            DataFrame with a DatetimeIndex, a time (str or Timestamp): rows before it.
        val: the validation part after it, given the same way (a time is where validation
            ends). The test part is the rest.
        overlap: give validation and test parts the ``overlap`` steps before them as well
            (use ``input_length`` so that their first window's target directly follows the
            previous part).

    Returns:
        ``(train, val, test)`` of the same type as ``data`` (lists of them for a list).

    Example:
        >>> tr, va, te = split_by_time(np.arange(10), 0.6, 0.2)
        >>> len(tr), len(va), len(te)
        (6, 2, 2)
    """
    check_nonneg_int("overlap", overlap)
    if isinstance(data, list):
        parts = [split_by_time(d, train, val, overlap) for d in data]
        return tuple([p[i] for p in parts] for i in range(3))
    total = len(data)
    index = getattr(data, "index", None)
    a = _boundary("train", train, total, index)
    if isinstance(val, (float, int, np.integer)) and not isinstance(val, bool):
        b = a + _boundary("val", val, total, index)  # a size, after the training part
    else:
        b = _boundary("val", val, total, index)
    if b > total or b < a:
        raise ValueError(
            f"train + val must fit in the {total} steps, got train={train!r}, val={val!r}"
        )
    take = data.iloc if hasattr(data, "iloc") else data
    return take[:a], take[max(a - overlap, 0) : b], take[max(b - overlap, 0) :]


class Scaler:
    """Per-feature affine scaling fitted on the training part only (no look-ahead):
    ``scaled = (x - shift) / scale``; the forecast task's scaler too (its ``data.scaler``).

    ``"standard"``: ``(x - mean) / std``; ``"minmax"``: ``(x - min) / (max - min)`` mapped to
    ``feature_range``; ``"none"``: the identity (shift 0, scale 1). Statistics are over every
    axis but the last (features), in the precision of ``x`` (float64 for integers), so it fits
    (T, D) series and (N, L, D) windows alike. A constant feature (scale at most 1e-12) gets
    scale 1.

    Args:
        kind: ``"standard"`` or ``"minmax"`` (or ``"none"``).
        feature_range: target range of ``"minmax"``.
        columns: the names of the D features, kept in :meth:`state_dict`.

    Example:
        >>> s = Scaler("minmax").fit(np.array([[0.0], [10.0]]))
        >>> s.transform(np.array([[5.0]])).tolist(), s.inverse_transform(np.array([[1.0]])).tolist()
        ([[0.5]], [[10.0]])
    """

    def __init__(
        self,
        kind: str = "standard",
        feature_range: tuple[float, float] = (0.0, 1.0),
        columns: Sequence[str] | None = None,
    ):
        # "none" (a scaler that leaves the values as they are) is not offered as a choice
        self.kind = kind if kind == "none" else check_choice("kind", kind, ("standard", "minmax"))
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(
                f"feature_range must be (low, high) with low < high, got {feature_range!r}"
            )
        self.feature_range = (float(lo), float(hi))
        self.columns = list(columns or [])
        self.shift_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x, skip_nan: bool = False) -> Scaler:
        """Learn the statistics from ``x`` (..., D). NaN or Inf is an error, unless
        ``skip_nan``: then the statistics are those of each feature's non-NaN values (a
        forecast target's gaps), and the values are not checked."""
        a = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
        a = a.reshape(-1, a.shape[-1] if a.ndim > 1 else 1)  # (M, D)
        if a.shape[0] == 0:
            raise ValueError("x must hold at least one row to fit, got none")
        if not skip_nan and not np.isfinite(a).all():
            raise ValueError("x contains NaN or Inf; fill missing values before fitting")
        mean, std, low, high = (
            (np.nanmean, np.nanstd, np.nanmin, np.nanmax)
            if skip_nan
            else (np.mean, np.std, np.min, np.max)
        )
        if self.kind == "standard":
            shift, scale = mean(a, axis=0), std(a, axis=0)
        elif self.kind == "minmax":
            lo, hi = self.feature_range
            shift = low(a, axis=0)
            scale = (high(a, axis=0) - shift) / (hi - lo)
        else:
            shift, scale = np.zeros(a.shape[1]), np.ones(a.shape[1])
        scale = np.where(scale > 1e-12, scale, 1.0)
        self.shift_ = np.asarray(shift, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        return self

    def _params(self, x, k: int | None):
        if self.shift_ is None:
            raise RuntimeError("Scaler is not fitted; call fit(train) first")
        shift, scale = self.shift_[:k], self.scale_[:k]
        d = x.shape[-1] if x.ndim > 1 else 1
        if d != len(shift):
            raise ValueError(f"x must have {len(shift)} features (last axis), got {d}")
        if isinstance(x, Tensor):
            return (
                torch.as_tensor(shift, dtype=x.dtype, device=x.device),
                torch.as_tensor(scale, dtype=x.dtype, device=x.device),
            )
        dtype = x.dtype if np.issubdtype(np.asarray(x).dtype, np.floating) else np.float64
        return shift.astype(dtype), scale.astype(dtype)

    def transform(self, x, k: int | None = None):
        """Scale ``x`` (array or tensor, last axis the features); same type out. ``k``: only
        the first ``k`` features are in ``x`` (a forecast's targets)."""
        x = x if isinstance(x, Tensor) else np.asarray(x)
        if self.kind == "none" and self.shift_ is None:  # the identity needs no statistics
            return x
        shift, scale = self._params(x, k)
        lo = self.feature_range[0] if self.kind == "minmax" else 0.0
        if x.ndim == 1:
            shift, scale = shift[0], scale[0]
        return (x - shift) / scale + lo

    def inverse_transform(self, x, k: int | None = None):
        """Undo :meth:`transform` (e.g. on model forecasts)."""
        x = x if isinstance(x, Tensor) else np.asarray(x)
        if self.kind == "none" and self.shift_ is None:  # the identity needs no statistics
            return x
        shift, scale = self._params(x, k)
        lo = self.feature_range[0] if self.kind == "minmax" else 0.0
        if x.ndim == 1:
            shift, scale = shift[0], scale[0]
        return (x - lo) * scale + shift

    def inverse(self, x, k: int):
        """:meth:`inverse_transform` of the first ``k`` features, a forecast's targets
        (..., K): what a forecaster's outputs are on the original scale."""
        return self.inverse_transform(x, k)

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def state_dict(self) -> dict:
        """JSON-able: kind, columns, shift, scale (and a ``feature_range`` other than (0, 1)):
        a forecast model's ``scaler`` artifact."""
        state = {
            "kind": self.kind,
            "columns": list(self.columns),
            "shift": None if self.shift_ is None else self.shift_.tolist(),
            "scale": None if self.scale_ is None else self.scale_.tolist(),
        }
        if self.feature_range != (0.0, 1.0):
            state["feature_range"] = list(self.feature_range)
        return state

    @classmethod
    def from_state_dict(cls, state: dict | None) -> Scaler:
        """The scaler of a :meth:`state_dict`; ``None`` or ``{}`` (a model saved without one) is
        the identity."""
        if not state:
            return cls("none")
        s = cls(state["kind"], tuple(state.get("feature_range", (0.0, 1.0))), state.get("columns"))
        if state.get("shift") is not None:
            s.shift_ = np.asarray(state["shift"], dtype=np.float64)
            s.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return s

    def __repr__(self) -> str:
        fitted = "fitted" if self.shift_ is not None else "not fitted"
        return f"Scaler({self.kind!r}, {fitted})"
