"""The forecast task's metrics, as long-horizon and probabilistic forecasting papers report
them, each beside the naive and seasonal-naive baselines on the same windows: MSE / MAE on the
scaled values (``*_scaled``), MAE / RMSE / MSE / MASE on the original scale, per horizon step
for the test split, and for a likelihood head CRPS and 80%-interval coverage
(:mod:`deeprnn.tasks.forecast.distributions`).

Shape symbols: N windows, W input window, H horizon, K targets.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError

from deeprnn.data.timeseries import Scaler
from deeprnn.tasks.forecast import distributions as D

PROB_METRICS = ("crps_scaled", "crps", "coverage_80")


def prob_metric_group() -> dict:
    return {name: MeanMetric() for name in PROB_METRICS}


def metric_group() -> nn.ModuleDict:
    return nn.ModuleDict(
        {
            "mse_scaled": MeanSquaredError(),
            "mae_scaled": MeanAbsoluteError(),
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "mse": MeanSquaredError(),
            "mase": MeanMetric(),
        }
    )


def _pairs(pred: Tensor, truth: Tensor, observed: Tensor | None):
    """The (pred, truth) pairs a metric scores: all, or the observed entries (flattened)."""
    if observed is None:
        return pred.contiguous(), truth
    return pred[observed], truth[observed]


def _weighted(values: Tensor, w: Tensor | None):
    """MeanMetric.update arguments: values, with weights where some entries are unobserved."""
    return (values,) if w is None else (values, w)


class ForecastScorer(nn.Module):
    """Scores a forecaster's val / test forecasts and its baselines'.

    ``metrics[f"{stage}_{name}"]`` holds the metric group of ``name`` (``model``, ``naive``, and
    ``snaive`` when ``seasonality > 1``) for the ``val`` and ``test`` stages; a probabilistic
    forecaster's groups (and its reference baseline's: ``snaive``, else ``naive``) add CRPS and
    coverage.

    Args:
        scaler: the targets' scaling (forecasts are scored scaled and on the original scale).
        n_targets: K.
        horizon: H.
        seasonality: m, the season of the ``snaive`` baseline and of MASE's scale.
        probabilistic: whether the forecasts come with a predictive distribution.
    """

    def __init__(
        self,
        scaler: Scaler,
        n_targets: int,
        horizon: int,
        seasonality: int = 1,
        probabilistic: bool = False,
    ):
        super().__init__()
        self.scaler, self.n_targets, self.horizon = scaler, n_targets, horizon
        self.seasonality = seasonality
        names = ["model", "naive"] + (["snaive"] if seasonality > 1 else [])
        self.metrics = nn.ModuleDict(
            {f"{stage}_{n}": metric_group() for stage in ("val", "test") for n in names}
        )
        self.reference = names[-1] if probabilistic else None
        if probabilistic:  # CRPS and coverage, beside the (seasonal) naive quantiles
            for stage in ("val", "test"):
                for n in ("model", self.reference):
                    self.metrics[f"{stage}_{n}"].update(prob_metric_group())
        self._per_step: dict[str, dict] = {}  # test error sums per horizon step

    def score(self, stage: str, history: Tensor, pred: Tensor, y: Tensor, observed=None) -> dict:
        """Update the metrics of ``pred`` and the baselines against ``y`` (N, H, K), all scaled,
        from the scaled ``history`` (N, W, K + C); over the ``observed`` (N, H, K) steps only
        when given (a masked target's gaps). Returns the metrics to log, by name."""
        k = self.n_targets
        scaled_past = history[..., :k]  # (N, W, K) scaled
        past = self.scaler.inverse(scaled_past, k)  # original scale
        truth = self.scaler.inverse(y, k)
        m = self.seasonality
        lag = m if past.shape[1] > m else 1
        scale = (past[:, lag:] - past[:, :-lag]).abs().mean(1, keepdim=True)  # (N, 1, K)
        defined = (scale > 0).expand_as(y).to(y.dtype)  # a flat window has no MASE: weight 0
        if observed is not None:
            defined = defined * observed.to(y.dtype)
        scale = scale.clamp_min(1e-8)
        candidates = {"model": pred.detach()}  # scaled
        candidates["naive"] = D.seasonal_naive(scaled_past, 1, self.horizon)
        if f"{stage}_snaive" in self.metrics:
            candidates["snaive"] = D.seasonal_naive(scaled_past, m, self.horizon)
        logged = {}
        for name, p_scaled in candidates.items():
            p = self.scaler.inverse(p_scaled, k)
            group = self.metrics[f"{stage}_{name}"]
            for metric_name, metric in group.items():
                if metric_name in PROB_METRICS:  # updated by score_distribution
                    continue
                if metric_name == "mase":
                    metric.update((p - truth).abs() / scale, defined)
                elif metric_name.endswith("_scaled"):
                    metric.update(*_pairs(p_scaled, y, observed))
                else:
                    metric.update(*_pairs(p, truth, observed))
                prefix = "" if name == "model" else f"{name}_"
                logged[f"{prefix}{metric_name}"] = metric
            if stage == "test":
                self._add_per_step(name, p_scaled, y, p, truth, observed)
        return logged

    def score_distribution(
        self, stage: str, history: Tensor, dist: D.Predictive, y: Tensor, observed=None
    ) -> dict:
        """:meth:`score` of the predictive distribution ``dist``'s point forecast, then CRPS and
        coverage of its quantiles and of the reference baseline's, against ``y`` (N, H, K)
        scaled."""
        k = self.n_targets
        original = dist.space == "original"
        point = dist.point()
        pred = self.scaler.transform(point, k) if original else point
        logged = self.score(stage, history, pred.detach(), y, observed)
        w = None if observed is None else observed.to(y.dtype)
        # quantiles on the scaled values (an increasing map of the original ones)
        levels = dist.levels if dist.kind == "quantile" else D.CRPS_LEVELS
        q = dist.quantiles(levels).detach()
        q = self.scaler.transform(q, k) if original else q
        m = self.seasonality if self.reference == "snaive" else 1
        base = D.naive_quantiles(history[..., :k], m, self.horizon, levels)
        lo, hi = (levels.index(v) if v in levels else None for v in D.INTERVAL)
        for name, qs in (("model", q), (self.reference, base)):
            group = self.metrics[f"{stage}_{name}"]
            prefix = "" if name == "model" else f"{name}_"
            group["crps_scaled"].update(*_weighted(D.crps(y, qs, levels), w))
            crps = D.crps(self.scaler.inverse(y, k), self.scaler.inverse(qs, k), levels)
            group["crps"].update(*_weighted(crps, w))
            logged[f"{prefix}crps_scaled"], logged[f"{prefix}crps"] = (
                group["crps_scaled"],
                group["crps"],
            )
            if lo is not None and hi is not None:
                group["coverage_80"].update(*_weighted(D.coverage(y, qs[lo], qs[hi]), w))
                logged[f"{prefix}coverage_80"] = group["coverage_80"]
        return logged

    # -- per-step test metrics ---------------------------------------------------------------
    def _add_per_step(self, name: str, p_scaled, y, p, truth, observed=None) -> None:
        """Sums over windows and targets, per horizon step (H,), in float64 (over the observed
        steps only, when given)."""
        prefix = "" if name == "model" else f"{name}_"
        errors = {"mse_scaled": (p_scaled - y) ** 2, "mae_scaled": (p_scaled - y).abs()}
        errors.update({"mse": (p - truth) ** 2, "mae": (p - truth).abs()})
        w = torch.ones_like(y) if observed is None else observed.to(y.dtype)
        sums = self._per_step.setdefault(prefix, {"count": 0.0})
        for metric, e in errors.items():
            total = (e.detach() * w).double().sum(dim=(0, 2)).cpu()  # (H,)
            sums[metric] = sums.get(metric, 0) + total
        sums["count"] = sums["count"] + w.double().sum(dim=(0, 2)).cpu()  # (H,)

    def reset_per_step(self) -> None:
        self._per_step = {}

    def per_step(self) -> dict:
        """``test_{[naive_|snaive_]}{mse_scaled, mae_scaled, mse, mae}_per_step``: lists of H
        values, each the mean over the test windows and targets since :meth:`reset_per_step`."""
        out = {}
        for prefix, sums in self._per_step.items():
            count = torch.as_tensor(sums["count"]).clamp(min=1.0)
            for metric, total in sums.items():
                if metric != "count":
                    out[f"test_{prefix}{metric}_per_step"] = (total / count).tolist()
        return out
