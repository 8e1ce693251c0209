"""GRU cells: reset-after (torch, Keras 2+), reset-before (Cho 2014, Keras 1), layer-normalised,
and the minimal GRU with an update gate only."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn._validation import check_bool
from deeprnn.cells._base import RecurrentCell, add_layer_norms, recurrent_input
from deeprnn.states import RNNState


def _interpolate(z: Tensor, n: Tensor, h: Tensor) -> Tensor:
    """``h_t = (1 - z) * n + z * h_{t-1}``, written as one fused-friendly expression."""
    return n + z * (h - n)


@register
class GRUCell(RecurrentCell):
    r"""One step of a gated recurrent unit (Cho et al. 2014).

    ``reset_after=True`` (default; torch, cuDNN and Keras 2+) applies the reset gate after the
    recurrent matmul and keeps two bias vectors:

    .. math::
        \begin{aligned}
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h_t &= (1 - z) \odot n + z \odot h_{t-1}
        \end{aligned}

    ``reset_after=False`` (the original paper, Keras 1) applies it before, with one bias:
    :math:`n = \tanh(W_{in} x + W_{hn}(r \odot h) + b_n)`.

    Gate order (r, z, n) as in torch. ``GRUCell(32, 32)`` has ``3 * (32*32 + 32*32 + 2*32) =
    6,336`` parameters (Keras' count); with ``reset_after=False``, 6,240.

    Shapes: ``x_t`` (N, I); state :class:`~deeprnn.RNNState` ``h`` (N, H).
    """

    num_gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        reset_after: bool = True,
        init: str = "keras",
    ):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        self.reset_after = check_bool("reset_after", reset_after)
        gh = 3 * hidden_size
        if bias and reset_after:
            self.bias_ih = nn.Parameter(torch.empty(gh))  # (3H,)
            self.bias_hh = nn.Parameter(torch.empty(gh))  # (3H,)
        elif bias:
            self.bias = nn.Parameter(torch.empty(gh))  # (3H,)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @property
    def fused_kind(self) -> str | None:
        return "gru" if self.reset_after else None

    def pointwise(self, xp: Tensor, hp: Tensor, state: RNNState):
        """Reset-after only: ``hp = W_hh h + b_hh``."""
        x_r, x_z, x_n = xp.chunk(3, dim=-1)  # each (N, H)
        h_r, h_z, h_n = hp.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        h = _interpolate(z, torch.tanh(x_n + r * h_n), state.h)
        return h, RNNState(h)

    def step(self, xp: Tensor, state: RNNState, recurrent_mask: Tensor | None = None):
        if self.reset_after:
            return super().step(xp, state, recurrent_mask)
        # reset before the matmul: the candidate needs a second GEMM on r * h
        H = self.hidden_size
        hin = recurrent_input(state.h, recurrent_mask)
        x_r, x_z, x_n = xp.chunk(3, dim=-1)
        h_r, h_z = F.linear(hin, self.weight_hh[: 2 * H]).chunk(2, -1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + F.linear(r * hin, self.weight_hh[2 * H :]))
        h = _interpolate(z, n, state.h)
        return h, RNNState(h)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


@register
class MinimalGRUCell(RecurrentCell):
    r"""The simplified GRU with an update gate only (no reset gate).

    .. math::
        \begin{aligned}
        z &= \sigma(W_{iz} x_t + W_{hz} h_{t-1} + b_z) \\
        n &= \tanh(W_{in} x_t + W_{hn} h_{t-1} + b_n) \\
        h_t &= (1 - z) \odot n + z \odot h_{t-1}
        \end{aligned}

    Gate order (z, n); ``weight_ih`` (2H, I), ``weight_hh`` (2H, H), ``bias`` (2H,).
    """

    num_gates = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, init: str = "keras"):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        if bias:
            self.bias = nn.Parameter(torch.empty(2 * hidden_size))  # (2H,)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    fused_kind = "minimal_gru"

    def pointwise(self, xp: Tensor, hp: Tensor, state: RNNState):
        z, n = (xp + hp).chunk(2, dim=-1)  # gates (N, 2H)
        h = _interpolate(torch.sigmoid(z), torch.tanh(n), state.h)
        return h, RNNState(h)


@register
class LayerNormGRUCell(RecurrentCell):
    r"""Reset-after GRU with layer normalisation of both matmul terms (as in haste).

    .. math::
        \begin{aligned}
        {}[a_r, a_z, a_n] &= \mathrm{LN}_{ih}(W_{ih} x_t), \quad
        [b_r, b_z, b_n] = \mathrm{LN}_{hh}(W_{hh} h_{t-1}) \\
        r &= \sigma(a_r + b_r), \quad z = \sigma(a_z + b_z) \\
        n &= \tanh(a_n + r \odot b_n), \quad h_t = (1 - z) \odot n + z \odot h_{t-1}
        \end{aligned}

    The LN shifts play the role of the two GRU bias vectors.
    """

    num_gates = 3
    eps = 1e-5

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, init: str = "keras"):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        gh = 3 * hidden_size
        add_layer_norms(self, {"ih": gh, "hh": gh}, bias)
        self.reset_parameters()

    @property
    def fused_kind(self) -> str | None:
        # the hand-written BPTT assumes LN shifts, and every fused kernel normalises with eps
        # 1e-5 (a subclass with another eps runs the loop, which reads self.eps)
        return "ln_gru" if self.use_bias and self.eps == 1e-5 else None

    def project_input(self, x: Tensor) -> Tensor:
        gh = 3 * self.hidden_size
        return F.layer_norm(
            F.linear(x, self.weight_ih), (gh,), self.ln_ih_weight, self.ln_ih_bias, self.eps
        )

    def recurrent_projection(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight_hh)  # (N, 3H), normalised in pointwise

    def pointwise(self, xp: Tensor, hp: Tensor, state: RNNState):
        gh = 3 * self.hidden_size
        hp = F.layer_norm(hp, (gh,), self.ln_hh_weight, self.ln_hh_bias, self.eps)
        x_r, x_z, x_n = xp.chunk(3, dim=-1)
        h_r, h_z, h_n = hp.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        h = _interpolate(z, torch.tanh(x_n + r * h_n), state.h)
        return h, RNNState(h)


__all__ = ["GRUCell", "LayerNormGRUCell", "MinimalGRUCell"]
