"""The segment-wise RNN forecaster (SegRNN, Lin et al. 2023, "SegRNN: Segment Recurrent Neural
Network for Long-Term Time Series Forecasting"), written from the paper's description.

Shape symbols: B rows (windows, or windows x channels in channel-independent mode), W input
window, S segment length, n = W / S input segments, H horizon, m = ceil(H / S) output segments,
F input features, K output features, d the recurrent hidden size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deeprnn.layers import DeepRNN


class SegmentRNN(nn.Module):
    r"""Segment-wise recurrent encoder with parallel multi-step decoding.

    Encoding: the window :math:`x \in \mathbb{R}^{W \times F}` is cut into :math:`n = W / S`
    segments :math:`x_j \in \mathbb{R}^{S F}`, each embedded linearly, and the RNN runs over the
    *segments* (n steps instead of W):

    .. math::
        e_j = \mathrm{ReLU}(W_e x_j + b_e) \in \mathbb{R}^{d}, \qquad
        h_j = \mathrm{RNN}(e_j, h_{j-1}), \quad h_0 = 0

    Decoding (parallel multi-step, "PMR"): each of the :math:`m = \lceil H / S \rceil` output
    segments starts one recurrent step from the same final state :math:`h_n`, with a learned
    positional embedding :math:`p_i` (and, over ``channels`` series, a channel embedding
    :math:`c_k`) as its input, and is projected back to S points:

    .. math::
        u_{i} = [p_i ; c_k] \in \mathbb{R}^{d}, \qquad
        \hat y_i = W_o\, \mathrm{dropout}(\mathrm{RNN}(u_i, h_n)) + b_o \in \mathbb{R}^{S K}

    With known covariates over the horizon (``future_size`` C > 0), each output segment's
    covariates :math:`z_i \in \mathbb{R}^{S C}` (the horizon zero-padded to m S steps) add
    :math:`W_z z_i` to :math:`u_i`.

    The m segments are concatenated and cut to H steps. With ``channels=None`` the positional
    embedding takes all d units. The RNN's weights are shared by the encoder and the decoder.

    Args:
        input_size: F.
        output_size: K.
        segment_length: S (must divide the input length at call time).
        horizon: H.
        rnn: the recurrent body (a unidirectional :class:`~deeprnn.DeepRNN` over d inputs,
            d = ``embed_size``; SegRNN uses a single GRU layer).
        embed_size: d.
        channels: number of series sharing the model in channel-independent mode (row b is
            series ``b % channels``), or None.
        dropout: on the decoder outputs before the projection.
        future_size: C, the known covariates per horizon step (0: none).

    Inputs: ``x`` (B, W, F); ``lengths`` (B,), optional: post-padded windows whose real length
    is a multiple of S (the encoder stops at each row's last real segment); ``future``
    (B, H, C) when ``future_size`` > 0.

    Outputs: (B, H, K).
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        segment_length: int,
        horizon: int,
        rnn: DeepRNN,
        embed_size: int,
        channels: int | None = None,
        dropout: float = 0.0,
        future_size: int = 0,
    ):
        super().__init__()
        if any(d == 2 for d in rnn.layout):
            raise ValueError("model.rnn.bidirectional must be false for model.encoder='segment'")
        self.segment_length = segment_length
        self.horizon = horizon
        self.output_size = output_size
        self.channels = channels
        self.out_segments = -(-horizon // segment_length)  # m
        self.embed = nn.Sequential(nn.Linear(segment_length * input_size, embed_size), nn.ReLU())
        self.rnn = rnn
        pos = embed_size if channels is None else embed_size - embed_size // 2
        self.position = nn.Parameter(torch.randn(self.out_segments, pos) * 0.02)
        self.channel = None
        if channels is not None:
            self.channel = nn.Parameter(torch.randn(channels, embed_size // 2) * 0.02)
        self.future = nn.Linear(segment_length * future_size, embed_size) if future_size else None
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(rnn.output_size, segment_length * output_size)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, future: Tensor | None = None
    ) -> Tensor:
        b, w, f = x.shape
        s, m = self.segment_length, self.out_segments
        if w % s:
            raise ValueError(
                f"x must have a multiple of segment_length={s} steps, got shape {tuple(x.shape)}"
            )
        if self.channels is not None and b % self.channels:
            raise ValueError(
                f"x must hold a multiple of channels={self.channels} rows, got {b} rows"
            )
        seg_lengths = None
        if lengths is not None:
            if bool((lengths % s != 0).any()):
                raise ValueError(
                    f"lengths must be multiples of segment_length={s}, got {lengths.tolist()}"
                )
            seg_lengths = lengths // s  # (B,)
        segments = x.reshape(b, w // s, s * f)  # (B, n, S F): time-major inside a segment
        e = self.embed(segments)  # (B, n, d)
        _, states = self.rnn(e, lengths=seg_lengths)
        start = states.map(lambda t: t.repeat_interleave(m, dim=0))  # (B m, d) per layer
        u = self.position.expand(b, -1, -1)  # (B, m, d_p)
        if self.channel is not None:
            c = self.channel.repeat(b // self.channels, 1)  # (B, d_c): row b is b % channels
            u = torch.cat([u, c[:, None].expand(-1, m, -1)], dim=-1)  # (B, m, d)
        if self.future is not None:
            if future is None or future.shape[:2] != (b, self.horizon):
                got = None if future is None else tuple(future.shape)
                raise ValueError(
                    f"future must be (B={b}, H={self.horizon}, C) known covariates, got {got}"
                )
            pad = m * s - self.horizon
            z = nn.functional.pad(future, (0, 0, 0, pad)).reshape(b, m, -1)  # (B, m, S C)
            u = u + self.future(z)
        out, _ = self.rnn(u.reshape(b * m, 1, -1), initial_state=start)  # (B m, 1, d)
        y = self.project(self.dropout(out[:, 0]))  # (B m, S K)
        y = y.view(b, m * s, self.output_size)  # (B, m S, K)
        return y[:, : self.horizon]
