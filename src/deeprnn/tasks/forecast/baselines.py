"""Which forecast a direct model corrects (``model.baseline``), chosen on the validation split.

The network's output is added to a baseline forecast: ``none`` (nothing: a network that adds
nothing forecasts the window mean with RevIN, the training mean without), ``naive`` (the last
value) or ``snaive`` (the last season, ``1 < m <= input_window``). ``baseline: auto`` scores
each of those forecasts on the validation windows (the scaled MSE over the observed steps,
:func:`validation_scores`, the data artifact ``baseline_val``) and picks the best
(:func:`resolve_baseline`); the choice is the model artifact ``baseline_chosen``, logged in one
line and written to ``metrics.json``. A model saved before the scores existed resolves
``auto`` as it was trained: ``snaive`` where the season fits the window, else ``none``.

When the validation windows are few (fewer than :data:`POOL_BELOW`: a series of a hundred
points has a dozen), a choice made on them alone is noise: ``auto`` then chooses on every
training and validation window (the artifact ``baseline_train`` beside ``baseline_val``,
:func:`selection_scores`), as rolling-origin evaluation does — each window's baseline forecast
is made from that window's own past, so a training window's is out of sample as much as a
validation window's (the network is not among the candidates); the rule was chosen on
held-out series, neither airline nor Uschange's Consumption (benchmarks/baseline_selection.py).
The guard (:func:`guard`) still holds the trained network to the chosen baseline on validation.

Shape symbols: N windows, W input steps, H horizon steps, K targets.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from deeprnn.tasks.forecast.distributions import masked_mean, seasonal_naive

log = logging.getLogger("deeprnn.tasks.forecast")

CANDIDATES = ("none", "naive", "snaive", "ets", "arima", "ets_arima")  # simplest first
#: fewer validation windows than this: ``auto`` chooses on the training windows too
POOL_BELOW = 100


def pool_train_windows(art: dict, splits: dict, score) -> None:
    """With fewer than :data:`POOL_BELOW` validation windows, the artifacts ``baseline_train``
    (``score(train windows)``) and ``baseline_windows`` (how many of each) beside
    ``baseline_val``, so that :func:`selection_scores` chooses on both."""
    val, train = splits.get("val"), splits.get("train")
    if val and train and len(val) < POOL_BELOW:
        art["baseline_train"] = score(train)
        art["baseline_windows"] = {"train": len(train), "val": len(val)}


def selection_scores(art: dict) -> dict | None:
    """What ``auto`` chooses on: ``baseline_val``, or with ``baseline_train`` the mean score
    over every train and validation window (each split's score weighted by its windows)."""
    val, train = art.get("baseline_val"), art.get("baseline_train")
    if val is None or not train:
        return val
    a, b = art["baseline_windows"]["train"], art["baseline_windows"]["val"]
    return {k: (a * train[k] + b * v) / (a + b) for k, v in val.items() if k in train}


def selection_text(art: dict) -> str:
    """The windows ``auto`` chose on, as the log line and ``metrics.json`` say it."""
    if not art.get("baseline_train"):
        return "the validation windows"
    n = art["baseline_windows"]
    return (
        f"the {n['train']} train + {n['val']} validation windows (rolling origin: the "
        f"validation windows alone are fewer than {POOL_BELOW})"
    )


def baseline_forecasts(past: torch.Tensor, h: int, m: int) -> dict[str, torch.Tensor]:
    """The forecasts a baseline leaves when the network adds nothing, from ``past`` (N, W, K)
    over ``h`` steps, each (N, h, K): ``naive``, ``snaive`` (when ``1 < m <= W``), ``mean``
    (the window mean: ``none`` with RevIN) and ``zero`` (``none`` without RevIN)."""
    n, w, k = past.shape
    out = {
        "naive": seasonal_naive(past, 1, h),
        "mean": past.mean(1, keepdim=True).expand(-1, h, -1),
        "zero": past.new_zeros(n, h, k),
    }
    if 1 < m <= w:
        out["snaive"] = seasonal_naive(past, m, h)
    return out


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
    forecasts = baseline_forecasts(past, y.shape[1], m)
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
    score.update({n: scores[n] for n in CANDIDATES[3:] if n in scores})  # when fitted
    return min(score, key=lambda name: (score[name], CANDIDATES.index(name)))


def note_choice(
    choice: str, scores: dict, revin: bool, seasonality: int, without: str | None = None,
    on: str = "the validation windows",
) -> None:  # fmt: skip
    """One line in the run log: the baseline ``auto`` chose and each candidate's score;
    ``without``: why the classical candidates (ets, arima, ets_arima) were not among them."""
    shown = {"none": scores["mean" if revin else "zero"], "naive": scores["naive"]}
    if "snaive" in scores:
        shown[f"snaive (m={seasonality})"] = scores["snaive"]
    shown.update({n: scores[n] for n in CANDIDATES[3:] if n in scores})
    note = f"; ets / arima not considered: {without}" if without else ""
    log.warning(
        "model.baseline auto: %s, the best on %s (mse_scaled %s%s); set model.baseline to override",
        choice,
        on,
        ", ".join(f"{name} {value:.4g}" for name, value in shown.items()),
        note,
    )


# -- classical baselines: AutoETS / AutoARIMA (statsforecast) -------------------------------------
#: ``baselines: true`` fits them only when the val + test windows and their histories are few
CLASSICAL_MAX_FITS = 30
CLASSICAL_MAX_HISTORY = 600
CLASSICAL = {"ets": "AutoETS", "arima": "AutoARIMA"}


def histories(dm, split: str) -> list:
    """Each window of ``split``'s history: the scaled target (a 1-D float64 array) of its series
    from the series' first row to the window's forecast origin (its input window's end) — the
    whole past a classical model is refitted on, per window
    (:func:`deeprnn.tasks.forecast.classical.histories`). Data without window positions
    (``source: sines``, one window per series): the window's input alone."""
    from deeprnn.tasks.forecast.classical import histories as series_past

    past = series_past(dm, split)
    if past is not None:
        return past
    w = int(dm.artifacts["input_window"])
    return [item[0][:w, 0].double().numpy() for item in dm.splits[split]]


def classical(dm, names: list[str], explicit: bool) -> dict:
    """``{stage}_{ets|arima}_{metric}``: statsforecast's AutoETS / AutoARIMA with season
    ``data.seasonality``, refitted on every val / test window's history (:func:`histories`) on
    the original scale, scored like the model (:class:`~deeprnn.tasks.forecast.metrics.
    ForecastScorer`: the scaled and original-scale metrics, over the observed steps). Only for
    one target (covariates are not used); beyond :data:`CLASSICAL_MAX_FITS` windows or
    :data:`CLASSICAL_MAX_HISTORY` steps of history only when named in the ``baselines`` key,
    unless the model's ``baseline`` fitted them already (the same fits, reused)."""
    from deeprnn._validation import MissingExtraError, require
    from deeprnn.tasks._baseline_util import skipped, stages

    names = [n for n in names if n in CLASSICAL]
    if not names:
        return {}
    art = dm.artifacts
    if len(art["targets"]) != 1:
        for n in names:
            skipped(n, f"univariate series only, and the data has {len(art['targets'])} targets")
        return {}
    if getattr(dm, "classical_forecasts", None) is not None:  # fitted for model.baseline
        return _score_classical(dm, names, {})
    splits = dict.fromkeys(stages(dm).values())
    fits = sum(len(dm.splits[s]) for s in splits)
    past = {s: histories(dm, s) for s in splits} if explicit or fits <= CLASSICAL_MAX_FITS else {}
    longest = max((len(h) for p in past.values() for h in p), default=0)
    if not explicit and (fits > CLASSICAL_MAX_FITS or longest > CLASSICAL_MAX_HISTORY):
        why = f"{fits} val/test windows to refit on (cap {CLASSICAL_MAX_FITS})"
        if longest > CLASSICAL_MAX_HISTORY:
            why = f"histories up to {longest} steps (cap {CLASSICAL_MAX_HISTORY})"
        for n in names:
            skipped(n, f"{why}; name it in the baselines key to run it")
        return {}
    try:
        require("statsforecast", "the ets / arima baselines")
    except MissingExtraError as e:
        for n in names:
            skipped(n, str(e))
        return {}
    return _score_classical(dm, names, past)


def _score_classical(dm, names: list[str], past: dict) -> dict:
    from statsforecast.models import AutoARIMA, AutoETS

    from deeprnn.tasks._baseline_util import stages
    from deeprnn.tasks.forecast.metrics import ForecastScorer

    art = dm.artifacts
    w, h, m = int(art["input_window"]), int(art["horizon"]), int(art.get("seasonality", 1))
    models = {"ets": AutoETS, "arima": AutoARIMA}
    out: dict = {}
    cached = getattr(dm, "classical_forecasts", None)  # the same fits, made for model.baseline
    for name in names:
        scorer = ForecastScorer(dm.scaler, 1, h, m)
        for stage, split in stages(dm).items():
            windows = dm.splits[split]
            if cached is not None:
                pred = torch.from_numpy(cached[split][name][:, :, None]).float()  # (N, H, 1)
            else:
                preds = []
                for series in past[split]:
                    original = dm.scaler.inverse(torch.from_numpy(series)[:, None], 1)[:, 0]
                    f = models[name](season_length=m).forecast(y=original.numpy(), h=h)["mean"]
                    preds.append(torch.as_tensor(np.asarray(f, dtype=np.float64))[:, None])
                pred = dm.scaler.transform(torch.stack(preds), 1).float()  # (N, H, 1) scaled
            x = torch.stack([item[0] for item in windows])
            y = torch.stack([item[1] for item in windows])
            observed = torch.isfinite(y)
            masked = None if bool(observed.all()) else observed
            y = torch.where(observed, y, torch.zeros_like(y))
            scorer.score(stage, x[:, :w], pred, y, masked)
            for metric, value in scorer.metrics[f"{stage}_model"].items():
                out[f"{stage}_{name}_{metric}"] = float(value.compute())
        log.info(
            "baseline %s: %s refitted on each val / test window's history", name, CLASSICAL[name]
        )
    return out


# -- never worse than the chosen baseline on validation ----------------------------------------
def guard(model, dm) -> str | None:
    """After training (the best checkpoint restored): a direct point forecaster with
    ``model.baseline: auto`` whose scaled validation MSE is above the score of the baseline
    ``auto`` chose (the best of none / naive / seasonal naive, and the classical forecasts when
    they were fitted, on the same windows, :func:`validation_scores`) forecasts that baseline alone from now on: the artifact
    ``baseline_only`` is set and the network's correction is dropped, so on validation the
    model is never worse than the best of those baselines. Returns the line that says so (the
    runner reports it with the run's other warnings), or ``None`` when the network is kept."""
    cfg, art = model.config, model.artifacts
    if cfg.baseline != "auto" or cfg.mode != "direct" or cfg.likelihood != "none":
        return None
    scores = art.get("baseline_val")
    if not scores or art.get("baseline_only") or not dm.splits.get("val"):
        return None
    revin = cfg.revin if cfg.revin is not None else True
    key = {"none": "mean" if revin else "zero"}.get(model.baseline, model.baseline)
    base = scores[key]
    total, count = 0.0, 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in dm.val_dataloader():  # with a classical baseline's forecasts, series codes
            x, y, *given = (None if t is None else t.to(model.device) for t in model.unpack(batch))
            history, future = model._split(x)
            pred = model(history, future, *given).double()
            observed = torch.isfinite(y)
            err = torch.where(observed, (pred - y.double()) ** 2, torch.zeros_like(pred))
            total += float(err.sum())
            count += float(observed.sum())
    model.train(was_training)
    network = total / max(count, 1.0)
    if network <= base:
        return None
    model.artifacts["baseline_only"] = True
    model.baseline_only = True
    return (
        f"the network's validation mse_scaled {network:.4g} is above the {model.baseline} "
        f"baseline's {base:.4g} (the one model.baseline: auto chose), so the model forecasts "
        f"{model.baseline} alone (artifact baseline_only: the network's correction is dropped); "
        "train longer or set model.baseline to keep the network"
    )
