"""The forecast task's metrics, as long-horizon and probabilistic forecasting papers report
them, each beside the naive and seasonal-naive baselines on the same windows: MSE / MAE on the
scaled values (``*_scaled``), MAE / RMSE / MSE / MASE on the original scale, per horizon step
for the test split, and for a likelihood head CRPS and 80%-interval coverage
(:mod:`deeprnn.tasks._forecast_dist`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError

from deeprnn.tasks import _forecast_dist as D

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


def _observed(pred: Tensor, truth: Tensor, observed: Tensor | None):
    """The (pred, truth) pairs a metric scores: all, or the observed entries (flattened)."""
    if observed is None:
        return pred.contiguous(), truth
    return pred[observed], truth[observed]


def _weighted(values: Tensor, w: Tensor | None):
    """MeanMetric.update arguments: values, with weights where some entries are unobserved."""
    return (values,) if w is None else (values, w)


class ForecastScoring:
    """Metric updates of :class:`~deeprnn.tasks.Forecast` (a mixin: it uses the model's
    ``metrics``, ``scaler``, ``artifacts``, ``horizon``, ``n_targets`` and ``distribution``)."""

    def _prob_step(self, stage: str, history: Tensor, y: Tensor, future=None, observed=None):
        k = self.n_targets
        dist = self.distribution(history, future=future)
        original = dist.space == "original"
        truth = self.scaler.inverse(y, k) if original else y
        if original and bool((truth < -0.5).any()):
            raise ValueError(
                "model.likelihood='negative_binomial' needs non-negative counts as targets, "
                f"got {float(truth.min()):.4g}"
            )
        loss = dist.loss(truth, observed)
        if stage == "train":
            return loss, {}
        point = dist.point()
        pred = self._to_scaled(point) if original else point
        logged = self._score(stage, history, pred.detach(), y, observed)
        w = None if observed is None else observed.to(y.dtype)
        # quantiles on the scaled values (an increasing map of the original ones)
        levels = self.levels if self.config.likelihood == "quantile" else D.CRPS_LEVELS
        q = dist.quantiles(levels).detach()
        q = self._to_scaled(q) if original else q
        m = int(self.artifacts.get("seasonality", 1)) if self.reference == "snaive" else 1
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
        return loss, logged

    def _score(self, stage: str, history: Tensor, pred: Tensor, y: Tensor, observed=None) -> dict:
        """Update the metrics of ``pred`` and the baselines against ``y`` (N, H, K), over the
        ``observed`` (N, H, K) steps only when given (a masked target's gaps)."""
        k = self.n_targets
        scaled_past = history[..., :k]  # (N, W, K) scaled
        past = self.scaler.inverse(scaled_past, k)  # original scale
        truth = self.scaler.inverse(y, k)
        m = int(self.artifacts.get("seasonality", 1))
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
                if metric_name in PROB_METRICS:  # updated by _prob_step
                    continue
                if metric_name == "mase":
                    metric.update((p - truth).abs() / scale, defined)
                elif metric_name.endswith("_scaled"):
                    metric.update(*_observed(p_scaled, y, observed))
                else:
                    metric.update(*_observed(p, truth, observed))
                prefix = "" if name == "model" else f"{name}_"
                logged[f"{prefix}{metric_name}"] = metric
            if stage == "test":
                self._add_per_step(name, p_scaled, y, p, truth, observed)
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

    def on_test_epoch_start(self) -> None:
        self._per_step = {}

    def extra_metrics(self, dm=None) -> dict:
        """``test_{[naive_|snaive_]}{mse_scaled, mae_scaled, mse, mae}_per_step``: lists of H
        values, each the mean over the test windows and targets (of the last test run, in this
        process)."""
        out = {}
        for prefix, sums in self._per_step.items():
            count = torch.as_tensor(sums["count"]).clamp(min=1.0)
            for metric, total in sums.items():
                if metric != "count":
                    out[f"test_{prefix}{metric}_per_step"] = (total / count).tolist()
        return out
