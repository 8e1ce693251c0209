r"""The forecaster's network proper, and the ensemble of such networks (``model.ensemble``).

:func:`build_network` puts the trainable parts of one forecaster on a module: the optional input
``projection``, then either the SegRNN ``segment`` encoder or the ``rnn`` body with its ``head``
(and, with known covariates, the MQ-RNN ``local_head``). :func:`network_output` runs them on
the network's input rows. :class:`~deeprnn.tasks.forecast.model.Forecast` holds the parts itself
for one network (its state keys ``rnn.*``, ``head.*`` ... as before) or ``k`` of them, each a
:class:`ForecastNetwork`, in ``ensemble.members.{j}`` (:class:`deeprnn.models.ensemble.Ensemble`).

An ensemble's members see the same scaled, RevIN'd inputs and correct the same baseline; their
raw outputs :math:`o_j` average before the baseline is added and RevIN is undone. Both are
affine in :math:`o`, so the forecast is the mean of the members' forecasts,
:math:`\hat y = \frac1k \sum_j \hat y_j` (M4's and N-BEATS' practice, a mean here). Each member
is trained on its own loss (:func:`deeprnn.models.ensemble.members_loss`), so its gradient is
the one it would get alone; the RevIN affine parameters and the series-id embedding
(``model.series_embedding``) are shared and get the sum of the members' gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deeprnn.models import SegmentRNN, build_rnn


def build_network(
    net: nn.Module, cfg, art: dict, size: int, k_out: int, n_known: int, horizon: int
) -> None:
    """Set ``projection``, ``segment`` or ``rnn`` + ``head`` (+ ``local_head``) on ``net``.

    ``size``: features per network row; ``k_out``: outputs per row and step (targets times the
    likelihood's parameters); ``n_known``: covariates read over the horizon."""
    net.projection = None
    if cfg.input.projection:
        net.projection = nn.Linear(size, cfg.input.projection)
        size = cfg.input.projection
    net.segment = None
    if cfg.encoder == "segment":
        w, s = int(art["input_window"]), cfg.segment_length
        if w % s:
            raise ValueError(
                f"model.segment_length={s} must divide data.input_window={w} "
                f"(the window is cut into whole segments)"
            )
        d = cfg.rnn.hidden_size
        net.segment = SegmentRNN(
            size,
            k_out,
            s,
            horizon,
            build_rnn(d, cfg.rnn),
            d,
            channels=len(art["targets"]) if cfg.channel_independent else None,
            dropout=cfg.head_dropout,
            future_size=n_known,
        )
        return
    net.rnn = build_rnn(size, cfg.rnn)
    out = k_out * (horizon if cfg.mode == "direct" else 1)
    hidden = net.rnn.output_size
    layers: list[nn.Module] = []
    if cfg.head_hidden:
        layers += [nn.Linear(hidden, cfg.head_hidden), nn.ReLU()]
        hidden = cfg.head_hidden
    if cfg.head_dropout:
        layers.append(nn.Dropout(cfg.head_dropout))
    net.head = nn.Sequential(*layers, nn.Linear(hidden, out))
    net.local_head = None
    if n_known and cfg.mode == "direct":
        d = net.rnn.output_size
        net.local_head = nn.Sequential(nn.Linear(d + n_known, d), nn.ReLU(), nn.Linear(d, k_out))


def features(net: nn.Module, x: Tensor) -> Tensor:
    """The input projection of ``net``, if it has one."""
    return net.projection(x) if net.projection is not None else x


def network_output(
    net: nn.Module, x: Tensor, rows: Tensor | None, known: Tensor | None, horizon: int
) -> Tensor:
    """Direct decoding: the network's rows ``x`` (B, T, F) post-padded to ``rows`` (B,) or
    full, with the known covariates over the horizon ``known`` (B, H, C) -> (B, H, K')."""
    x = features(net, x)
    if net.segment is not None:
        return net.segment(x, rows, future=known)
    out, _ = net.rnn(x, lengths=rows)
    if rows is None:
        last = out[:, -1]
    else:
        index = (rows - 1).clamp(min=0)[:, None, None].expand(-1, 1, out.shape[-1])
        last = out.gather(1, index).squeeze(1)  # (B, H') at each row's last real step
    pred = net.head(last).view(x.shape[0], horizon, -1)  # (B, H, K')
    if net.local_head is not None:  # MQ-RNN's local head: [h_T ; z_{T+j}] per step j
        context = last[:, None].expand(-1, horizon, -1)
        pred = pred + net.local_head(torch.cat([context, known], dim=-1))
    return pred


class ForecastNetwork(nn.Module):
    """One member of a forecasting ensemble: ``forward(x, rows, known) -> (B, H, K')``."""

    def __init__(self, cfg, art: dict, size: int, k_out: int, n_known: int, horizon: int):
        super().__init__()
        self.horizon = horizon
        build_network(self, cfg, art, size, k_out, n_known, horizon)

    def forward(self, x: Tensor, rows: Tensor | None = None, known: Tensor | None = None):
        return network_output(self, x, rows, known, self.horizon)
