"""The forecaster and its config: windows of one or several series (targets + covariates) -> the
next ``horizon`` steps of the targets.

Encoders (``model.encoder``): ``rnn``, a :class:`~deeprnn.DeepRNN` over the time steps, decoded
``direct`` (the last hidden state -> all ``horizon`` steps at once) or ``autoregressive`` (a
one-step-ahead model trained with teacher forcing, fed its own predictions for ``horizon``
steps); or ``segment``, the segment-wise RNN with
parallel multi-step decoding of SegRNN (:class:`~deeprnn.models.segment.SegmentRNN`).

Known future covariates (calendar features, static covariates, ``data.known_covariates``;
:mod:`deeprnn.tasks.forecast.columns`) are read over the horizon: in ``direct`` mode a local
head (MQ-RNN, Wen et al. 2017) maps ``[h_T ; z_{T+j}]`` at each horizon step j to a correction
of the global head's output; the segment encoder adds a linear embedding of each output
segment's covariates to its positional embedding; ``autoregressive`` mode feeds them step by
step and holds the past-only covariates at their last observed value.

Options for long horizons: ``revin`` (reversible instance normalisation of the targets,
:class:`~deeprnn.layers.RevIN`) and ``channel_independent`` (one shared network runs over
each target series on its own, with the covariates beside it, as PatchTST and SegRNN do:
K targets are K rows of the batch).

Targets and covariates are scaled with statistics of the training part (and, with
``data.series_scaler``, each series' targets by its own, and ``model.series_embedding`` embeds
the series id: :mod:`deeprnn.tasks.forecast.series`; a batch then ends with the windows' series
codes). Metrics, each beside
the same metric of the ``naive`` (last value) and, with ``seasonality > 1``, the ``snaive``
(last season) baselines on the same windows: ``mse_scaled`` / ``mae_scaled`` on the scaled
(standardised) values, as long-horizon papers report them; MAE, RMSE, MSE and MASE (scaled by
the seasonal-naive error on each input window, as GluonTS does; series flat over a window are
left out of it) after the inverse transform.
The test metrics per horizon step (lists ``test_mse_scaled_per_step`` ...) are added by
:meth:`Forecast.extra_metrics` to ``metrics.json``. The model holds its scoring, a
:class:`~deeprnn.tasks.forecast.metrics.ForecastScorer` given the scaler and the shapes.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from deeprnn._validation import check_positive_int
from deeprnn.data.timeseries import Scaler
from deeprnn.layers import RevIN
from deeprnn.layers._sequence import lengths_to_mask
from deeprnn.models.ensemble import Ensemble, average_outputs, check_ensemble, members_loss
from deeprnn.tasks.base import TaskModule
from deeprnn.tasks.forecast import classical
from deeprnn.tasks.forecast import distributions as D
from deeprnn.tasks.forecast.baselines import (
    note_choice,
    resolve_baseline,
    selection_scores,
    selection_text,
)
from deeprnn.tasks.forecast.columns import known_features, masked_targets
from deeprnn.tasks.forecast.config import ForecastConfig
from deeprnn.tasks.forecast.metrics import ForecastScorer
from deeprnn.tasks.forecast.network import (
    ForecastNetwork,
    build_network,
    features,
    network_output,
)
from deeprnn.tasks.forecast.outputs import ForecastOutputs
from deeprnn.tasks.forecast.series import SeriesInputs, from_series, to_series, with_embedding


def _observed(y: Tensor) -> tuple[Tensor, Tensor | None]:
    """Targets (N, H, K) with NaN at a masked target's gaps -> (targets with 0 there, the
    observed flags), or ``(y, None)`` when every value is there."""
    observed = torch.isfinite(y)
    if bool(observed.all()):
        return y, None
    return torch.where(observed, y, torch.zeros_like(y)), observed


class Forecast(ForecastOutputs, TaskModule):
    """``forward(history (N, W, F), future_covariates (N, H, C) | None) -> (N, H, K)`` scaled.

    F = K targets (first) + C covariates. In channel-independent mode the network sees B = N K
    rows of 1 + C features (row ``n K + k``: target k of window n, and the covariates)."""

    config_class = ForecastConfig
    #: ``trainer.min_steps: null``: early stopping waits this many optimizer steps (a series of
    #: ~100 points has a few dozen windows, a handful of steps per epoch)
    default_min_steps: ClassVar[int] = 200
    # RevIN is on by default since the default-recipe measurement (benchmarks/default_recipe.py)
    saved_defaults: ClassVar[dict] = {"revin": False}

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        art = self.artifacts
        for key in ("targets", "covariates", "input_window", "horizon"):
            if key not in art:
                raise ValueError(f"Forecast needs artifacts[{key!r}] (from the data module)")
        for key in ("input_window", "horizon", "seasonality"):  # a saved config read back
            if key in art:
                check_positive_int(f"data.{key} (the model's artifacts[{key!r}])", art[key])
        self.n_targets = len(art["targets"])
        self.n_features = self.n_targets + len(art["covariates"])
        self.horizon = int(art["horizon"])
        cfg = self.config
        m = int(art.get("seasonality", 1))
        scores, chosen = selection_scores(art), art.get("baseline_chosen")
        self.baseline = resolve_baseline(cfg, m, int(art["input_window"]), scores, chosen)
        # set after training when the network did worse than that baseline on validation
        self.baseline_only = bool(art.get("baseline_only", False))
        revin = cfg.revin if cfg.revin is not None else cfg.likelihood != "negative_binomial"
        # auto with the classical candidates chooses when the data is bound (bind_data)
        self.choose_later = (
            cfg.baseline == "auto"
            and scores is not None
            and chosen is None
            and classical.eligible(cfg, art)
        )
        if cfg.baseline in classical.NAMES and not classical.eligible(cfg, art):
            raise ValueError(
                f"model.baseline={cfg.baseline!r} forecasts one target series, got "
                f"{len(art['targets'])} targets"
            )
        if (
            cfg.baseline == "auto"
            and scores is not None
            and chosen is None
            and not self.choose_later
        ):
            self.artifacts["baseline_chosen"] = self.baseline
            if cfg.mode == "direct" and cfg.likelihood != "negative_binomial":
                note_choice(self.baseline, scores, revin, m, on=selection_text(art))
        if cfg.baseline == "snaive" and not 1 < m <= int(art["input_window"]):
            raise ValueError(
                f"model.baseline='snaive' needs 1 < data.seasonality <= data.input_window, got "
                f"seasonality={m}, input_window={art['input_window']}"
            )
        if masked_targets(art.get("fill"), list(art["targets"])) and cfg.mode != "direct":
            raise ValueError(
                f"data.fill 'mask' (the loss skips a target's gaps) needs model.mode 'direct', "
                f"got {cfg.mode!r}: use a fill policy such as interpolate for autoregressive"
            )
        ci = cfg.channel_independent
        self.known = known_features(art)  # covariate features read over the horizon
        self.register_buffer("_known", torch.tensor(self.known, dtype=torch.long), False)
        self.legacy_future = "known_covariates" not in art  # saved before the key: AR reads all
        n_known = len(self.known)
        self.scaler = Scaler.from_state_dict(art.get("scaler"))
        self.series_inputs = SeriesInputs.of(cfg, art, self.scaler)
        self.levels = tuple(float(v) for v in cfg.quantiles)
        self.n_params = D.n_params(cfg.likelihood, self.levels)  # outputs per step and target
        k_out = (1 if ci else self.n_targets) * self.n_params  # outputs per row of the network
        size = (1 + len(art["covariates"]) if ci else self.n_features) + cfg.series_embedding
        self.revin = RevIN(self.n_targets, affine=cfg.revin_affine) if revin else None
        self.ensemble = None
        if check_ensemble(cfg.ensemble) == 1:
            build_network(self, cfg, art, size, k_out, n_known, self.horizon)
        else:  # the members are networks of their own: state keys ensemble.members.{j}.*
            self.ensemble = Ensemble(
                lambda: ForecastNetwork(cfg, art, size, k_out, n_known, self.horizon),
                cfg.ensemble,
            )
        self.scorer = ForecastScorer(
            self.scaler, self.n_targets, self.horizon, m, probabilistic=cfg.likelihood != "none"
        )

    def unpack(self, batch) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(x, y, base or None, series codes or None)`` of a batch of windows
        (:class:`~deeprnn.tasks.forecast.windows.Windows`: the codes come last when set)."""
        x, y, *rest = batch
        series = rest.pop() if self.series_inputs.used else None
        return x, y, (rest[0] if rest else None), series

    @property
    def metrics(self) -> nn.ModuleDict:
        """The val / test metric groups (:attr:`ForecastScorer.metrics`)."""
        return self.scorer.metrics

    # -- the model -------------------------------------------------------------------------------
    def _features(self, x: Tensor) -> Tensor:
        return features(self, x)

    def _channels(self, targets: Tensor, cov: Tensor) -> Tensor:
        """(N, T, K) targets and (N, T, C) covariates -> the network's rows: (N, T, K + C), or
        (N K, T, 1 + C) channel-independent."""
        if not self.config.channel_independent:
            return torch.cat([targets, cov], dim=-1)
        n, t, k = targets.shape
        rows = targets.transpose(1, 2).reshape(n * k, t, 1)  # (N K, T, 1)
        c = cov[:, None].expand(n, k, t, cov.shape[-1]).reshape(n * k, t, -1)  # (N K, T, C)
        return torch.cat([rows, c], dim=-1)

    def _unchannels(self, pred: Tensor, n: int) -> Tensor:
        """The network's outputs (B, T, K' P) -> (N, T, K P), P outputs per target."""
        if not self.config.channel_independent:
            return pred
        t = pred.shape[1]
        return pred.reshape(n, self.n_targets, t, -1).transpose(1, 2).reshape(n, t, -1)

    def _rows(self, t: Tensor | None) -> Tensor | None:
        """Per-window values (N, ...) -> per network row (B, ...)."""
        if t is None or not self.config.channel_independent:
            return t
        return t.repeat_interleave(self.n_targets, dim=0)

    def _normalise(self, history: Tensor, mask: Tensor | None = None):
        """RevIN of the targets: ``(targets (N, T, K), stats or None)``."""
        targets = history[..., : self.n_targets]
        if self.revin is None:
            return targets, None
        return self.revin.normalize(targets, mask)

    def _denormalise(self, pred: Tensor, stats) -> Tensor:
        return pred if stats is None else self.revin.denormalize(pred, stats)

    def _future(self, future_covariates: Tensor | None, n: int, device) -> Tensor | None:
        """The known covariates over the horizon (N, H, C_known), or None when there are none."""
        if not self.known:
            return None
        if future_covariates is None:
            raise ValueError(
                f"this forecaster reads {len(self.known)} known covariates over the horizon: "
                f"pass future_covariates (N, {self.horizon}, {self.n_features - self.n_targets})"
            )
        return future_covariates.index_select(-1, self._known.to(device))

    def forward(
        self,
        history: Tensor,
        future_covariates: Tensor | None = None,
        base: Tensor | None = None,
        series: Tensor | None = None,
    ) -> Tensor:
        """``base`` (N, H, K) scaled: each window's classical forecast, for a model whose
        ``baseline`` is ``ets``, ``arima`` or ``ets_arima`` (its windows carry it); ``series``
        (N,) the windows' series codes, for a model that reads them
        (:mod:`~deeprnn.tasks.forecast.series`)."""
        ab = self.series_inputs.affine(series)  # into each series' units and back
        history, base = to_series(history, ab, self.n_targets), to_series(base, ab, self.n_targets)
        if self.config.mode == "direct":
            pred = self._direct(history, future=future_covariates, base=base, series=series)
        else:
            pred = self._autoregressive(history, future_covariates)
        return from_series(pred, ab)

    def _members(self, history, future_covariates=None, base=None, series=None) -> Tensor:
        """An ensemble's forecast per member, (K, N, H, K), as :meth:`forward` makes the mean."""
        ab, k = self.series_inputs.affine(series), self.n_targets
        preds = self._direct(to_series(history, ab, k), future=future_covariates,
                             base=to_series(base, ab, k), series=series, members=True)  # fmt: skip
        return torch.stack([from_series(p, ab) for p in preds])

    def _autoregressive(self, history: Tensor, future_covariates: Tensor | None) -> Tensor:
        n, k = history.shape[0], self.n_targets
        targets, stats = self._normalise(history)
        out, states = self.rnn(self._features(self._channels(targets, history[..., k:])))
        step = self.head(out[:, -1])  # (B, K')
        preds = [step]
        future = self._rows(self._ar_future(history, future_covariates))  # (B, H, C)
        for h in range(1, self.horizon):
            feats = step
            if future is not None and future.shape[-1]:
                feats = torch.cat([step, future[:, h - 1]], dim=-1)
            out, states = self.rnn(self._features(feats[:, None]), initial_state=states)
            step = self.head(out[:, -1])
            preds.append(step)
        pred = self._unchannels(torch.stack(preds, dim=1), n)  # (N, H, K)
        return self._denormalise(pred, stats)

    def _ar_future(self, history: Tensor, future: Tensor | None) -> Tensor | None:
        """Autoregressive inputs over the horizon: known covariates as given, past-only ones
        held at their last observed value (all as given for models saved before the key)."""
        if future is None or self.legacy_future or not future.shape[-1]:
            return future
        held = history[:, -1:, self.n_targets :].expand_as(future).clone()
        if self.known:
            index = self._known.to(future.device)
            held[..., index] = future.index_select(-1, index)
        return held

    def _direct(
        self, history: Tensor, lengths: Tensor | None = None, future: Tensor | None = None,
        base: Tensor | None = None, series: Tensor | None = None, members: bool = False,
    ) -> Tensor:  # fmt: skip
        """Direct decoding of (N, T, F) histories (post-padded to ``lengths``), with the
        covariates over the horizon ``future`` (N, H, C), -> (N, H, K); with a likelihood
        head, the point forecast (the median) of :meth:`distribution`. ``members``: an
        ensemble's forecast per member, (K, N, H, K) (their mean is the forecast)."""
        if self.config.likelihood != "none":
            dist = self._distribution(history, lengths, future, series)
            point = dist.point()
            return self._to_scaled(point) if dist.space == "original" else point
        pred, targets, stats = self._direct_raw(history, lengths, future, series, members)
        if self.baseline_only:  # the baseline alone (baselines.guard)
            pred = torch.zeros_like(pred)
        if self.baseline != "none":  # corrected where the network works (RevIN'd)
            pred = pred + self._baseline(targets, lengths, base, stats)
        if members:  # (K, N, H, K): each member's forecast
            return torch.stack([self._denormalise(p, stats) for p in pred])
        return self._denormalise(pred, stats)

    def distribution(
        self,
        history: Tensor,
        lengths: Tensor | None = None,
        future: Tensor | None = None,
        series: Tensor | None = None,
    ) -> D.Predictive:
        """The predictive distribution of the next ``horizon`` steps of (N, T, F) histories
        (``future``: their covariates over the horizon, (N, H, C); ``series``: their series
        codes): on the scaled values, or the original ones for the negative binomial."""
        ab = self.series_inputs.affine(series)
        k = self.n_targets
        dist = self._distribution(to_series(history, ab, k), lengths, future, series)
        return dist if ab is None else dist.map(lambda t: from_series(t, ab))

    def _distribution(self, history, lengths=None, future=None, series=None) -> D.Predictive:
        """:meth:`distribution` of histories in the series' units (with data.series_scaler)."""
        pred, targets, stats = self._direct_raw(history, lengths, future, series)
        n, h, k = pred.shape[0], self.horizon, self.n_targets
        raw = pred.view(n, h, k, self.n_params)
        shift = self._baseline(targets, lengths) if self.baseline != "none" else None
        scale = None
        if self.config.likelihood == "negative_binomial":
            past = self.scaler.inverse(history[..., :k], k)  # (N, T, K) counts
            if lengths is not None:
                mask = lengths_to_mask(lengths, history.shape[1])[..., None].to(past)
                mean = (past * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp(min=1)
            else:
                mean = past.mean(1, keepdim=True)
            scale = 1.0 + mean.clamp(min=0)  # (N, 1, K)
        return D.build(
            self.config.likelihood,
            raw,
            self.levels,
            shift=shift,
            denormalise=lambda t: self._denormalise(t, stats),
            count_scale=scale,
        )

    def _to_scaled(self, values: Tensor) -> Tensor:
        """Original-scale targets (..., K) -> scaled."""
        return self.scaler.transform(values, self.n_targets)

    def _direct_raw(
        self, history: Tensor, lengths: Tensor | None = None, future=None, series=None,
        members: bool = False,
    ):  # fmt: skip
        """The network's outputs (N, H, K P) on RevIN'd targets (an ensemble's mean, or with
        ``members`` each member's, (K, N, H, K P)), the RevIN'd past targets (N, T, K) and the
        RevIN statistics."""
        n, k = history.shape[0], self.n_targets
        known = self._rows(self._future(future, n, history.device))  # (B, H, C_known) | None
        mask = None if lengths is None else lengths_to_mask(lengths, history.shape[1])
        targets, stats = self._normalise(history, mask)
        cov = with_embedding(history[..., k:], self.series_inputs.embed(series))  # (N, T, C + E)
        x = self._channels(targets, cov)  # (B, T, F)
        rows = self._rows(lengths)
        if self.ensemble is None:
            pred = network_output(self, x, rows, known, self.horizon)  # (B, H, K')
            return self._unchannels(pred, n), targets, stats  # (N, H, K P)
        preds = self.ensemble(x, rows, known)  # (K, B, H, K')
        if not members:
            return self._unchannels(average_outputs(preds), n), targets, stats
        return torch.stack([self._unchannels(p, n) for p in preds]), targets, stats

    def _baseline(self, past: Tensor, lengths=None, base=None, stats=None) -> Tensor:
        """The forecast the network corrects (``model.baseline``) from the past targets
        (N, W, K): the last value (``naive``) or the last season repeated (``snaive``); or the
        windows' classical forecasts ``base`` (N, H, K, scaled) RevIN'd with ``stats``."""
        if self.baseline in classical.NAMES:
            if base is None:
                raise ValueError(
                    f"model.baseline={self.baseline!r} corrects each window's classical "
                    "forecast: pass base (N, H, K), which the data module's windows carry once "
                    "the model is bound to it (Forecast.bind_data)"
                )
            return base if stats is None else self.revin.normalize(base, stats=stats)[0]
        m = 1 if self.baseline == "naive" else int(self.artifacts.get("seasonality", 1))
        return D.seasonal_naive(past, m, self.horizon, lengths)  # (N, H, K)

    def gradient_groups(self) -> list[nn.Module]:
        """What gradient clipping clips on its own: each ensemble member (and the members'
        shared RevIN), else the model."""
        if self.ensemble is None:
            return [self]
        return [*self.ensemble.members, *([self.revin] if self.revin is not None else [])]

    def _split(self, x: Tensor):
        w = int(self.artifacts["input_window"])
        return x[:, :w], x[:, w:, self.n_targets :]

    def setup(self, stage: str) -> None:
        dm = self.trainer.datamodule
        if dm is not None:
            self.bind_data(dm)

    def bind_data(self, dm) -> None:
        """Before training on or scoring ``dm``: ``auto`` (not chosen yet) adds the classical
        candidates' validation scores to the artifact ``baseline_val`` where
        :func:`classical.unavailable` allows, chooses among all candidates (the artifact
        ``baseline_chosen``) and says so in one line, with why the classical ones were left out;
        then a model that corrects a classical forecast gets it on every window of ``dm``
        (:func:`classical.attach`)."""
        cfg, art = self.config, self.artifacts
        if self.choose_later:
            self.choose_later = False
            why = classical.unavailable(dm) if dm.splits.get("val") else "no validation windows"
            if why is None:
                art["baseline_val"].update(classical.split_scores(dm, "val"))
                if art.get("baseline_train"):
                    art["baseline_train"].update(classical.split_scores(dm, "train"))
            scores = selection_scores(art)
            m, w = int(art.get("seasonality", 1)), int(art["input_window"])
            self.baseline = resolve_baseline(cfg, m, w, scores)
            art["baseline_chosen"] = self.baseline
            revin = cfg.revin if cfg.revin is not None else True
            note_choice(self.baseline, scores, revin, m, why, on=selection_text(art))
        if self.baseline in classical.NAMES:
            classical.attach(dm, self.baseline)
        if self.series_inputs.used:
            dm.attach_series()

    def step(self, batch, stage: str):
        # x (N, W + H, F), y (N, H, K) scaled; base (N, H, K): a classical one; series (N,)
        x, y, base, series = self.unpack(batch)
        history, future_cov = self._split(x)
        ab = self.series_inputs.affine(series)  # the loss is in each series' units
        if self.config.mode == "autoregressive" and stage == "train":
            x = to_series(x, ab, self.n_targets)
            return nn.functional.mse_loss(self._teacher_forced(x), x[:, 1:, : self.n_targets]), {}
        y, observed = _observed(y)
        if self.config.likelihood != "none":
            return self._prob_step(stage, history, y, future_cov, observed, series)
        if self.ensemble is not None and stage == "train":  # each member on its own loss
            preds = self._members(history, future_cov, base, series)  # (K, N, H, K)
            errs = [p - y if ab is None else (p - y) / ab[1] for p in preds]
            return members_loss([D.masked_mean(e**2, observed) for e in errs]), {}
        pred = self(history, future_cov, base, series)
        err = pred - y if ab is None else (pred - y) / ab[1]
        loss = D.masked_mean(err**2, observed)
        if stage == "train":
            return loss, {}
        return loss, self.scorer.score(stage, history, pred, y, observed)

    def _prob_step(self, stage, history, y, future=None, observed=None, series=None):
        """The negative log-likelihood (pinball) loss of a likelihood head (in each series'
        units with data.series_scaler), and its metrics."""
        k, ab = self.n_targets, self.series_inputs.affine(series)
        dist = self._distribution(to_series(history, ab, k), future=future, series=series)
        truth = self.scaler.inverse(y, self.n_targets) if dist.space == "original" else y
        truth = to_series(truth, ab, k)
        if dist.space == "original" and bool((truth < -0.5).any()):
            raise ValueError(
                "model.likelihood='negative_binomial' needs non-negative counts as targets, "
                f"got {float(truth.min()):.4g}"
            )
        loss = dist.loss(truth, observed)
        if stage == "train":
            return loss, {}
        if ab is not None:
            dist = dist.map(lambda t: from_series(t, ab))
        return loss, self.scorer.score_distribution(stage, history, dist, y, observed)

    def _teacher_forced(self, x: Tensor) -> Tensor:
        """One-step-ahead predictions at every step of x (N, W + H, F): (N, W + H - 1, K)."""
        n, k, w = x.shape[0], self.n_targets, int(self.artifacts["input_window"])
        targets = x[..., :k]
        stats = None
        if self.revin is not None:  # the statistics of the history part
            _, stats = self.revin.normalize(targets[:, :w])
            targets, _ = self.revin.normalize(targets, stats=stats)
        out, _ = self.rnn(self._features(self._channels(targets, x[..., k:])[:, :-1]))
        pred = self._unchannels(self.head(out), n)  # (N, W + H - 1, K)
        return self._denormalise(pred, stats)

    def on_test_epoch_start(self) -> None:
        self.scorer.reset_per_step()

    def guard_baseline(self, dm) -> str | None:
        """:func:`deeprnn.tasks.forecast.baselines.guard`: the baseline alone when the network
        did worse than it on validation (``model.baseline: auto``)."""
        from deeprnn.tasks.forecast.baselines import guard

        return guard(self, dm)
