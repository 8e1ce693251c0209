"""The forecaster's outputs beyond the training step, a mixin of
:class:`~deeprnn.tasks.forecast.model.Forecast`: the extra test metrics, ``predict`` on CSV rows
(:mod:`deeprnn.tasks.forecast.predict`) and the ONNX entry point."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from deeprnn.tasks.forecast import classical
from deeprnn.tasks.forecast.baselines import selection_scores, selection_text
from deeprnn.tasks.forecast.predict import predict_rows
from deeprnn.tasks.forecast.series import from_series, to_series


class ForecastOutputs:
    """Methods of :class:`~deeprnn.tasks.forecast.model.Forecast` that read its scorer,
    artifacts and network (``scorer``, ``artifacts``, ``_direct`` ...)."""

    def extra_metrics(self, dm=None) -> dict:
        """``test_{[naive_|snaive_]}{mse_scaled, mae_scaled, mse, mae}_per_step``: lists of H
        values, each the mean over the test windows and targets (of the last test run, in this
        process), and the baseline ``auto`` chose with its candidates' validation scores."""
        out = self.scorer.per_step()
        if "baseline_chosen" in self.artifacts:
            out["baseline_chosen"] = self.artifacts["baseline_chosen"]
            out["baseline_val_mse_scaled"] = self.artifacts.get("baseline_val")
            out["baseline_chosen_on"] = selection_text(self.artifacts)
            if self.artifacts.get("baseline_train"):  # chosen on train + val windows
                out["baseline_train_mse_scaled"] = self.artifacts["baseline_train"]
                out["baseline_selection_mse_scaled"] = selection_scores(self.artifacts)
            out["baseline_only"] = bool(self.artifacts.get("baseline_only", False))
        return out

    # -- inference -------------------------------------------------------------------------------
    def predict_raw(self, records: list, quantiles=None, seed: int = 0, **options) -> list[dict]:
        """CSV rows of a history (grouped by the series column when there is one) -> forecasts
        of the ``horizon`` steps after each series' last row with a target value, one dict per
        (series, step), with its ``time`` when the model was trained with a time column.

        Every row holds the series column, the covariates and the time column(s); the target
        columns may be left out of the rows after a series' history (its future covariates),
        not its first row.

        ``quantiles`` (a probabilistic model's levels, e.g. ``[0.1, 0.5, 0.9]``) adds the
        columns ``{target}_q{level}`` to every row."""
        return predict_rows(self, records, quantiles, seed)

    #: ONNX inputs whose dim 1 is not the (dynamic) time axis: the horizon's covariates
    onnx_fixed_length: ClassVar[tuple[str, ...]] = ("future",)

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        lengths = torch.full((batch_size,), steps, dtype=torch.long)
        inputs = {"x": torch.randn(batch_size, steps, self.n_features), "lengths": lengths}
        if self.known:
            c = self.n_features - self.n_targets
            inputs["future"] = torch.randn(batch_size, self.horizon, c)
        if self.series_inputs.used:  # codes into the artifact series_ids
            inputs["series"] = torch.zeros(batch_size, dtype=torch.long)
        return inputs

    def onnx_forward(
        self, x: Tensor, lengths: Tensor, future: Tensor | None = None, series=None
    ) -> Tensor:
        """Direct mode over a padded batch of histories: (N, H, K) scaled forecasts made at each
        row's last real step; ``future`` (N, H, C): the covariates over the horizon, an input
        only for a model that reads known covariates; ``series`` (N,) int64: the rows' series
        codes (index into the artifact ``series_ids``), an input only for a model that reads
        the series (``data.series_scaler`` / ``model.series_embedding``)."""
        if self.config.mode != "direct" or self.baseline in classical.NAMES:
            raise ValueError(
                "ONNX export covers model.mode='direct' forecasters without a classical "
                f"baseline, got mode {self.config.mode!r}, baseline {self.baseline!r}"
            )
        ab = self.series_inputs.affine(series)
        x = to_series(x, ab, self.n_targets)
        return from_series(self._direct(x, lengths, future, series=series), ab)
