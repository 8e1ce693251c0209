"""Forecasting: windows of one or several series (targets + covariates) -> the next ``horizon``
steps of the targets.

Decoding: ``direct`` (the last hidden state -> all ``horizon`` steps at once) or
``autoregressive`` (a one-step-ahead model trained with teacher forcing, fed its own
predictions for ``horizon`` steps; future covariates are taken as known). Targets and
covariates are scaled with statistics of the training part; metrics are computed after the
inverse transform: MAE, RMSE, MSE and MASE (scaled by the seasonal-naive error on each input
window, as GluonTS does), each beside the same metric of the ``naive`` (last value) and, with
``seasonality > 1``, the ``snaive`` (last season) baselines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError

from deeprnn.tasks._body import InputConfig, RNNConfig, build_rnn
from deeprnn.tasks.base import TaskModule
from deeprnn.tasks.forecast_data import ForecastData, Scaler


@dataclass
class ForecastConfig:
    """The forecaster. ``input.projection`` optionally maps the features through a linear layer."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=lambda: RNNConfig(hidden_size=32, num_layers=2))
    mode: Literal["direct", "autoregressive"] = "direct"
    head_hidden: int = 0
    baseline: Literal["none", "naive", "snaive"] = "none"

    def validate(self, where: str) -> None:
        if self.baseline != "none" and self.mode != "direct":
            raise ValueError(
                f"{where}.baseline={self.baseline!r} needs mode 'direct', got {self.mode!r}"
            )


def _metrics() -> nn.ModuleDict:
    return nn.ModuleDict(
        {
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "mse": MeanSquaredError(),
            "mase": MeanMetric(),
        }
    )


class Forecast(TaskModule):
    """``forward(history (N, W, F), future_covariates (N, H, C) | None) -> (N, H, K)`` scaled."""

    config_class = ForecastConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        art = self.artifacts
        for key in ("targets", "covariates", "input_window", "horizon"):
            if key not in art:
                raise ValueError(f"Forecast needs artifacts[{key!r}] (from the data module)")
        self.n_targets = len(art["targets"])
        self.n_features = self.n_targets + len(art["covariates"])
        self.horizon = int(art["horizon"])
        cfg = self.config
        m = int(art.get("seasonality", 1))
        if cfg.baseline == "snaive" and not 1 < m <= int(art["input_window"]):
            raise ValueError(
                f"model.baseline='snaive' needs 1 < data.seasonality <= data.input_window, got "
                f"seasonality={m}, input_window={art['input_window']}"
            )
        size = self.n_features
        self.projection = None
        if cfg.input.projection:
            self.projection = nn.Linear(size, cfg.input.projection)
            size = cfg.input.projection
        self.rnn = build_rnn(size, cfg.rnn)
        out = self.n_targets * (self.horizon if cfg.mode == "direct" else 1)
        hidden = self.rnn.output_size
        layers: list[nn.Module] = []
        if cfg.head_hidden:
            layers += [nn.Linear(hidden, cfg.head_hidden), nn.ReLU()]
            hidden = cfg.head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(hidden, out))
        self.scaler = Scaler.from_artifact(art.get("scaler"))
        names = ["model", "naive"] + (["snaive"] if int(art.get("seasonality", 1)) > 1 else [])
        self.metrics = nn.ModuleDict(
            {f"{stage}_{n}": _metrics() for stage in ("val", "test") for n in names}
        )

    # -- the model -------------------------------------------------------------------------------
    def _features(self, x: Tensor) -> Tensor:
        return self.projection(x) if self.projection is not None else x

    def forward(self, history: Tensor, future_covariates: Tensor | None = None) -> Tensor:
        n = history.shape[0]
        if self.config.mode == "direct":
            out, _ = self.rnn(self._features(history))
            pred = self.head(out[:, -1]).view(n, self.horizon, self.n_targets)
            return pred if self.config.baseline == "none" else pred + self._baseline(history)
        out, states = self.rnn(self._features(history))
        step = self.head(out[:, -1])  # (N, K)
        preds = [step]
        for h in range(1, self.horizon):
            feats = step
            if future_covariates is not None and future_covariates.shape[-1]:
                feats = torch.cat([step, future_covariates[:, h - 1]], dim=-1)
            out, states = self.rnn(self._features(feats[:, None]), initial_state=states)
            step = self.head(out[:, -1])
            preds.append(step)
        return torch.stack(preds, dim=1)  # (N, H, K)

    def _baseline(self, history: Tensor) -> Tensor:
        """The forecast the network corrects (``model.baseline``), in scaled units (N, H, K):
        the last value (``naive``) or the last season repeated (``snaive``)."""
        past = history[..., : self.n_targets]  # (N, W, K)
        if self.config.baseline == "naive":
            return past[:, -1:].expand(-1, self.horizon, -1)
        m = int(self.artifacts.get("seasonality", 1))
        reps = -(-self.horizon // m)
        return past[:, -m:].repeat(1, reps, 1)[:, : self.horizon]

    def _split(self, x: Tensor):
        w = int(self.artifacts["input_window"])
        return x[:, :w], x[:, w:, self.n_targets :]

    def step(self, batch, stage: str):
        x, y = batch  # x (N, W + H, F) scaled, y (N, H, K) scaled
        history, future_cov = self._split(x)
        if self.config.mode == "autoregressive" and stage == "train":
            out, _ = self.rnn(self._features(x[:, :-1]))  # teacher forcing, every step
            pred = self.head(out)  # (N, W + H - 1, K)
            target = x[:, 1:, : self.n_targets]
            return nn.functional.mse_loss(pred, target), {}
        pred = self(history, future_cov)
        loss = nn.functional.mse_loss(pred, y)
        if stage == "train":
            return loss, {}
        return loss, self._score(stage, history, pred, y)

    def _score(self, stage: str, history: Tensor, pred: Tensor, y: Tensor) -> dict:
        k = self.n_targets
        past = self.scaler.inverse(history[..., :k], k)  # (N, W, K) original scale
        truth = self.scaler.inverse(y, k)
        m = int(self.artifacts.get("seasonality", 1))
        lag = m if past.shape[1] > m else 1
        scale = (past[:, lag:] - past[:, :-lag]).abs().mean(1, keepdim=True).clamp_min(1e-8)
        candidates = {"model": self.scaler.inverse(pred.detach(), k)}
        candidates["naive"] = past[:, -1:].expand_as(truth).contiguous()
        if f"{stage}_snaive" in self.metrics:
            reps = -(-self.horizon // m)
            candidates["snaive"] = past[:, -m:].repeat(1, reps, 1)[:, : self.horizon]
        logged = {}
        for name, p in candidates.items():
            group = self.metrics[f"{stage}_{name}"]
            for metric_name, metric in group.items():
                if metric_name == "mase":
                    metric.update((p - truth).abs() / scale)
                else:
                    metric.update(p.contiguous(), truth)
                prefix = "" if name == "model" else f"{name}_"
                logged[f"{prefix}{metric_name}"] = metric
        return logged

    # -- inference -------------------------------------------------------------------------------
    def predict_raw(self, records: list, **options) -> list[dict]:
        """CSV rows of a history (grouped by the series column when there is one) -> forecasts.

        Every row holds the series column and the covariates; the target columns may be left
        out of the rows after a series' history (its future covariates), not its first row."""
        from deeprnn._validation import RecordError, check_record_fields

        art = self.artifacts
        series = [art["series_column"]] if art.get("series_column") else []
        always = series + list(art["covariates"])
        columns = [*series, *art["targets"], *art["covariates"]]
        started = set()
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise RecordError(
                    i, f"a forecast model reads rows with columns {columns}, got {r!r}"
                )
            sid = str(r.get(series[0])) if series else ""
            first = sid not in started
            started.add(sid)
            check_record_fields(i, r, "forecast", all_of=columns if first else always)
        data = ForecastData(None, artifacts=self.artifacts)
        out = []
        for series_id, x, future_cov in data.encode_history(records):
            with torch.no_grad():
                pred = self(x[None].to(self.device), future_cov[None].to(self.device))[0].cpu()
            values = self.scaler.inverse(pred, self.n_targets)
            for h in range(self.horizon):
                row = {"series": series_id, "step": h + 1}
                row.update(
                    {t: float(values[h, i]) for i, t in enumerate(self.artifacts["targets"])}
                )
                out.append(row)
        return out

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        lengths = torch.full((batch_size,), steps, dtype=torch.long)
        return {"x": torch.randn(batch_size, steps, self.n_features), "lengths": lengths}

    def onnx_forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Direct mode over a padded batch of histories: (N, H, K) scaled forecasts made at each
        row's last real step."""
        if self.config.mode != "direct":
            raise ValueError("ONNX export covers model.mode='direct' forecasters")
        out, _ = self.rnn(self._features(x), lengths=lengths)
        index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, out.shape[-1])
        last = out.gather(1, index).squeeze(1)
        return self.head(last).view(x.shape[0], self.horizon, self.n_targets)
