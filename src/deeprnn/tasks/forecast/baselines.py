"""Which forecast a direct model corrects (``model.baseline``), chosen on the validation split.

The network's output is added to a baseline forecast: ``none`` (nothing: a network that adds
nothing forecasts the window mean with RevIN, the training mean without), ``naive`` (the last
value) or ``snaive`` (the last season, ``1 < m <= input_window``). ``baseline: auto`` scores
each of those forecasts on the validation windows (the scaled MSE over the observed steps,
:func:`validation_scores`, the data artifact ``baseline_val``) and picks the best
(:func:`resolve_baseline`); the choice is the model artifact ``baseline_chosen``, logged in one
line and written to ``metrics.json``. A model saved before the scores existed resolves
``auto`` as it was trained: ``snaive`` where the season fits the window, else ``none``.

Shape symbols: N windows, W input steps, H horizon steps, K targets.
"""

from __future__ import annotations

import logging

import torch

from deeprnn.tasks.forecast.distributions import masked_mean, seasonal_naive

log = logging.getLogger("deeprnn.tasks.forecast")

CANDIDATES = ("none", "naive", "snaive")


def validation_scores(windows: list, input_window: int, n_targets: int, m: int) -> dict:
    """The scaled MSE on ``windows`` (``(x (W + H, F), y (H, K))`` pairs, NaN at masked gaps
    of ``y``) of the forecasts a baseline leaves when the network adds nothing: ``naive``,
    ``snaive`` (when ``1 < m <= W``), ``mean`` (the window mean: ``none`` with RevIN) and
    ``zero`` (``none`` without RevIN)."""
    w, k = input_window, n_targets
    past = torch.stack([x[:w, :k] for x, _ in windows]).double()  # (N, W, K)
    y = torch.stack([t for _, t in windows]).double()  # (N, H, K)
    observed = torch.isfinite(y)
    y = torch.where(observed, y, torch.zeros_like(y))
    h = y.shape[1]
    forecasts = {
        "naive": seasonal_naive(past, 1, h),
        "mean": past.mean(1, keepdim=True).expand(-1, h, -1),
        "zero": torch.zeros_like(y),
    }
    if 1 < m <= w:
        forecasts["snaive"] = seasonal_naive(past, m, h)
    return {
        name: float(masked_mean((f - y) ** 2, observed)) for name, f in sorted(forecasts.items())
    }


def resolve_baseline(
    cfg, seasonality: int, input_window: int, scores: dict | None = None, chosen=None
) -> str:
    """``model.baseline`` of ``cfg`` (a ForecastConfig) with ``auto`` resolved.

    ``auto`` is ``none`` in autoregressive mode and for the negative binomial; else, with the
    validation ``scores`` of :func:`validation_scores`, the candidate (``none``, ``naive``,
    ``snaive`` where the season fits the window) whose forecast scores best, the simpler on a
    tie; ``chosen`` (a saved model's ``baseline_chosen``) is kept as it was trained with.
    Without scores (a model saved before them): ``snaive`` when ``1 < seasonality <=
    input_window``, else ``none``."""
    if cfg.baseline != "auto":
        return cfg.baseline
    if cfg.mode != "direct" or cfg.likelihood == "negative_binomial":
        return "none"
    if chosen is not None:
        if chosen not in CANDIDATES:
            raise ValueError(
                f"artifacts['baseline_chosen'] must be one of {list(CANDIDATES)}, got {chosen!r}"
            )
        return chosen
    fits = 1 < seasonality <= input_window
    if scores is None:
        return "snaive" if fits else "none"
    revin = cfg.revin if cfg.revin is not None else True
    score = {"none": scores["mean" if revin else "zero"], "naive": scores["naive"]}
    if fits and "snaive" in scores:
        score["snaive"] = scores["snaive"]
    return min(score, key=lambda name: (score[name], CANDIDATES.index(name)))


def note_choice(choice: str, scores: dict, revin: bool, seasonality: int) -> None:
    """One line in the run log: the baseline ``auto`` chose and each candidate's score."""
    shown = {"none": scores["mean" if revin else "zero"], "naive": scores["naive"]}
    if "snaive" in scores:
        shown[f"snaive (m={seasonality})"] = scores["snaive"]
    log.warning(
        "model.baseline auto: %s, the best on the validation windows (mse_scaled %s); set "
        "model.baseline to override",
        choice,
        ", ".join(f"{name} {value:.4g}" for name, value in shown.items()),
    )
