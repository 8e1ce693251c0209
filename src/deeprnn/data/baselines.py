"""The baselines every forecast is compared with, and the error measures used to compare.

Naive: repeat the last observed value. Seasonal naive: repeat the last observed season.
MASE (Hyndman & Koehler 2006) divides a forecast's MAE by the in-sample MAE of the (seasonal)
naive one-step forecast on the training series, so MASE < 1 beats that naive forecast.

Shape symbols: L input (history) length, H horizon, D features; ``...`` any batch axes.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from deeprnn._validation import check_positive_int

__all__ = ["mae", "mase", "mse", "naive_forecast", "rmse", "seasonal_naive_forecast"]


def _array(name: str, x) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")
    return x


def _history(x) -> tuple[np.ndarray, bool]:
    """(L,) or (..., L, D) -> (..., L, D) and whether it was 1-D."""
    a = _array("history", x)
    if a.ndim == 0:
        raise ValueError("history must have a time axis, got a scalar")
    if a.ndim == 1:
        return a[:, None], True
    return a, False


def naive_forecast(history, horizon: int = 1) -> np.ndarray:
    """Repeat the last value of each history for ``horizon`` steps.

    Args:
        history: (L,) one series, or (..., L, D) windows (e.g. ``x`` of ``sliding_windows``).
        horizon: H.

    Returns:
        (H,) or (..., H, D), the history's dtype.

    Example:
        >>> naive_forecast([1.0, 2.0, 3.0], horizon=2).tolist()
        [3.0, 3.0]
    """
    check_positive_int("horizon", horizon)
    a, flat = _history(history)
    out = np.repeat(a[..., -1:, :], horizon, axis=-2)  # (..., H, D)
    return out[:, 0] if flat else out


def seasonal_naive_forecast(history, horizon: int, season: int) -> np.ndarray:
    """Repeat the last observed season: step ``h`` forecasts ``history[L - m + (h mod m)]``.

    Args:
        history: (L,) or (..., L, D) with ``L >= season``.
        horizon: H.
        season: m, the season length in steps (12 for monthly data with a yearly cycle).

    Returns:
        (H,) or (..., H, D).

    Example:
        >>> seasonal_naive_forecast([1, 2, 3, 4], horizon=3, season=2).tolist()
        [3, 4, 3]
    """
    check_positive_int("horizon", horizon)
    check_positive_int("season", season)
    a, flat = _history(history)
    steps = a.shape[-2]
    if steps < season:
        raise ValueError(f"history must hold at least season = {season} steps, got {steps}")
    idx = steps - season + np.arange(horizon) % season
    out = a[..., idx, :]  # (..., H, D)
    return out[:, 0] if flat else out


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = _array("y_true", y_true).astype(np.float64)
    p = _array("y_pred", y_pred).astype(np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_pred must have the shape of y_true {t.shape}, got {p.shape}")
    if t.size == 0:
        raise ValueError("y_true must hold at least one value, got none")
    return t, p


def mae(y_true, y_pred) -> float:
    """Mean absolute error over all elements."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def mse(y_true, y_pred) -> float:
    """Mean squared error over all elements."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mase(y_true, y_pred, y_train, season: int = 1) -> float:
    """Mean absolute scaled error.

    Args:
        y_true, y_pred: forecasts and truth, same shape.
        y_train: the training series, (T,) or (T, D), time on the first axis.
        season: m; 1 scales by the naive forecast, m > 1 by the seasonal naive one.

    Returns:
        ``MAE(y_true, y_pred) / mean(|y_train[t] - y_train[t - m]|)``.
    """
    check_positive_int("season", season)
    train = _array("y_train", y_train).astype(np.float64)
    if train.ndim == 0 or len(train) <= season:
        raise ValueError(f"y_train must hold more than season = {season} steps, got {train.shape}")
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    if scale == 0:
        raise ValueError("y_train is constant at lag season, so MASE is undefined (scale 0)")
    return mae(y_true, y_pred) / scale
