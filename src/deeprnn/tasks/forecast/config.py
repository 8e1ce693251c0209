"""The forecaster's config (``model`` keys of ``task: forecast``): :class:`ForecastConfig`, its
checks at the boundary; the model is :class:`deeprnn.tasks.forecast.model.Forecast`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deeprnn.models import InputConfig, RNNConfig
from deeprnn.models.ensemble import check_ensemble
from deeprnn.tasks.forecast import classical
from deeprnn.tasks.forecast.distributions import check_levels


@dataclass
class ForecastConfig:
    """The forecaster. ``input.projection`` optionally maps the features through a linear layer.

    ``encoder: segment`` needs ``segment_length`` (S, dividing ``data.input_window``; the
    horizon is decoded in ceil(H / S) segments and cut to H) and ``mode: direct``; its
    embedding size is ``rnn.hidden_size`` (SegRNN: one GRU layer, ``rnn: {cell: gru,
    num_layers: 1}``). ``head_dropout``: dropout before the output layer. ``revin`` /
    ``revin_affine``: RevIN of the targets, with learned affine parameters; ``None`` (the
    default): on, except for the negative binomial (counts on their own scale).
    ``baseline``: the forecast the network corrects: ``none``, ``naive``, ``snaive``, or a
    classical one refitted on each window's whole past, ``ets``, ``arima`` or their mean
    ``ets_arima`` (one target, a point forecast; :mod:`deeprnn.tasks.forecast.classical`);
    ``auto`` (the default), in direct mode without the negative binomial, is whichever of
    ``none``, ``naive`` and ``snaive`` — and the classical three, when the windows are few and
    statsforecast is installed — forecasts the validation windows best
    (:mod:`deeprnn.tasks.forecast.baselines`), else ``none``.

    ``series_embedding``: the size E of a learned embedding of each window's series id (0:
    off), fed beside the covariates at every step as a static categorical (DeepAR); the ids
    are the artifact ``series_ids`` (:mod:`deeprnn.tasks.forecast.series`; an id unseen in
    training is an error); needs ``mode: direct``.

    ``likelihood``: a probabilistic head (``gaussian``, ``student_t``, ``negative_binomial``
    for counts, or ``quantile`` at the levels ``quantiles``), trained by its negative
    log-likelihood (pinball loss), with CRPS and 80%-interval coverage in the metrics
    (:mod:`deeprnn.tasks.forecast.distributions`); needs ``mode: direct``.

    ``ensemble``: k > 1 networks of this shape with different initialisations, trained
    together, each on its own loss; the forecast is their mean (``mode: direct``,
    ``likelihood: none``; :mod:`deeprnn.tasks.forecast.network`)."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=lambda: RNNConfig(hidden_size=32, num_layers=2))
    mode: Literal["direct", "autoregressive"] = "direct"
    head_hidden: int = 0
    baseline: Literal["auto", "none", "naive", "snaive", "ets", "arima", "ets_arima"] = "auto"
    encoder: Literal["rnn", "segment"] = "rnn"
    segment_length: int | None = None
    channel_independent: bool = False
    revin: bool | None = None
    revin_affine: bool = True
    head_dropout: float = 0.0
    likelihood: Literal["none", "gaussian", "student_t", "negative_binomial", "quantile"] = "none"
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    series_embedding: int = 0
    # k > 1: k networks trained together, each on its own loss, their forecasts averaged
    # (deeprnn.tasks.forecast.network; the M4 winners and N-BEATS ensemble)
    ensemble: int = 1

    def validate(self, where: str) -> None:
        e = self.series_embedding
        if isinstance(e, bool) or not isinstance(e, int) or e < 0:
            raise ValueError(f"{where}.series_embedding must be an int >= 0 (0: off), got {e!r}")
        if e and self.mode != "direct":
            raise ValueError(
                f"{where}.series_embedding={e} needs {where}.mode='direct', got {self.mode!r}"
            )
        levels = check_levels(self.quantiles, f"{where}.quantiles")
        if check_ensemble(self.ensemble, f"{where}.ensemble") > 1 and (
            self.mode != "direct" or self.likelihood != "none"
        ):
            raise ValueError(
                f"{where}.ensemble={self.ensemble} averages point forecasts: it needs "
                f"{where}.mode 'direct' and {where}.likelihood 'none', got mode "
                f"{self.mode!r}, likelihood {self.likelihood!r}"
            )
        if self.likelihood == "quantile" and not levels[0] <= 0.5 <= levels[-1]:
            raise ValueError(
                f"{where}.quantiles must span the median (its point forecast), got {levels!r}"
            )
        if self.likelihood != "none" and self.mode != "direct":
            raise ValueError(
                f"{where}.likelihood={self.likelihood!r} needs {where}.mode='direct', "
                f"got {self.mode!r}"
            )
        explicit = self.baseline not in ("none", "auto")
        if self.likelihood == "negative_binomial" and (self.revin or explicit):
            raise ValueError(
                f"{where}.likelihood='negative_binomial' models counts on their own scale: "
                f"set {where}.revin false and {where}.baseline 'none' "
                f"(got revin={self.revin!r}, baseline={self.baseline!r})"
            )
        if self.baseline in classical.NAMES and self.likelihood != "none":
            raise ValueError(
                f"{where}.baseline={self.baseline!r} corrects a classical point forecast: it "
                f"needs {where}.likelihood 'none', got {self.likelihood!r}"
            )
        if explicit and self.mode != "direct":
            raise ValueError(
                f"{where}.baseline={self.baseline!r} needs mode 'direct', got {self.mode!r}"
            )
        if not 0 <= self.head_dropout < 1:
            raise ValueError(f"{where}.head_dropout must be in [0, 1), got {self.head_dropout!r}")
        if self.encoder == "rnn":
            if self.segment_length is not None:
                raise ValueError(
                    f"{where}.segment_length={self.segment_length!r} needs "
                    f"{where}.encoder='segment', got {self.encoder!r}"
                )
            return
        s = self.segment_length
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(
                f"{where}.segment_length must be a positive int for {where}.encoder='segment', "
                f"got {s!r}"
            )
        if self.mode != "direct":
            raise ValueError(
                f"{where}.encoder='segment' decodes in parallel: {where}.mode must be 'direct', "
                f"got {self.mode!r}"
            )
        if self.head_hidden:
            raise ValueError(
                f"{where}.head_hidden={self.head_hidden!r} needs {where}.encoder='rnn'"
            )
