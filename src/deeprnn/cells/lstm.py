"""LSTM cells: the standard one and the layer-normalised one (Ba et al. 2016)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn.cells._base import RecurrentCell, add_layer_norms
from deeprnn.states import LSTMState


def _lstm_update(gates: Tensor, c: Tensor, norm_c=None) -> tuple[Tensor, Tensor]:
    """Gate nonlinearities and the cell update shared by both LSTM cells."""
    i, f, g, o = gates.chunk(4, dim=-1)  # each (N, H), torch gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c if norm_c is None else norm_c(c))
    return h, c


@register
class LSTMCell(RecurrentCell):
    r"""One step of a long short-term memory cell (Hochreiter & Schmidhuber 1997).

    .. math::
        \begin{aligned}
        {}[i, f, g, o] &= W_{ih} x_t + W_{hh} h_{t-1} + b \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
        h_t &= \sigma(o) \odot \tanh(c_t)
        \end{aligned}

    Gates in torch order (i, f, g, o); one bias vector, as in Keras: ``LSTMCell(32, 32)`` has
    ``4 * (32*32 + 32*32 + 32) = 8,320`` parameters. With ``init="keras"`` the forget-gate bias
    starts at 1 (``unit_forget_bias``).

    Shapes: ``x_t`` (N, I); state :class:`~deeprnn.LSTMState` ``(h, c)``, each (N, H);
    returns ``(h_t, LSTMState(h_t, c_t))``.

    >>> cell = LSTMCell(3, 5)
    >>> h, (h2, c) = cell(torch.randn(2, 3))
    >>> c.shape
    torch.Size([2, 5])
    """

    num_gates = 4
    state_type = LSTMState
    has_cell_state = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, init: str = "keras"):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        if bias:
            self.bias = nn.Parameter(torch.empty(4 * hidden_size))  # (4H,)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _reset_gate_biases(self) -> None:
        if self.bias is not None:
            with torch.no_grad():
                self.bias[self.hidden_size : 2 * self.hidden_size].fill_(1.0)

    fused_kind = "lstm"

    def pointwise(self, xp: Tensor, hp: Tensor, state: LSTMState):
        h, c = _lstm_update(xp + hp, state.c)  # gates (N, 4H)
        return h, LSTMState(h, c)


@register
class LayerNormLSTMCell(RecurrentCell):
    r"""LSTM cell with layer normalisation (Ba, Kiros & Hinton 2016; as in haste).

    .. math::
        \begin{aligned}
        {}[i, f, g, o] &= \mathrm{LN}_{ih}(W_{ih} x_t) + \mathrm{LN}_{hh}(W_{hh} h_{t-1}) \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
        h_t &= \sigma(o) \odot \tanh(\mathrm{LN}_c(c_t))
        \end{aligned}

    Each LN has a gain and a shift (``ln_*_weight``, ``ln_*_bias``; no shifts with
    ``bias=False``); the shift of :math:`\mathrm{LN}_{ih}` plays the role of the gate bias
    (forget slice starts at 1).
    Normalising the input term makes it depend on ``x_t`` alone, so a layer still computes it
    for all steps at once. Shapes as :class:`LSTMCell`.
    """

    num_gates = 4
    state_type = LSTMState
    has_cell_state = True
    eps = 1e-5

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, init: str = "keras"):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        gh = 4 * hidden_size
        add_layer_norms(self, {"ih": gh, "hh": gh, "c": hidden_size}, bias)
        self.reset_parameters()

    def _reset_gate_biases(self) -> None:
        if self.ln_ih_bias is not None:
            with torch.no_grad():
                self.ln_ih_bias[self.hidden_size : 2 * self.hidden_size].fill_(1.0)

    @property
    def fused_kind(self) -> str | None:
        # the hand-written BPTT assumes LN shifts, and every fused kernel normalises with eps
        # 1e-5 (a subclass with another eps runs the loop, which reads self.eps)
        return "ln_lstm" if self.use_bias and self.eps == 1e-5 else None

    def project_input(self, x: Tensor) -> Tensor:
        gh = 4 * self.hidden_size
        return F.layer_norm(
            F.linear(x, self.weight_ih), (gh,), self.ln_ih_weight, self.ln_ih_bias, self.eps
        )

    def _norm_c(self, c: Tensor) -> Tensor:
        return F.layer_norm(c, (self.hidden_size,), self.ln_c_weight, self.ln_c_bias, self.eps)

    def pointwise(self, xp: Tensor, hp: Tensor, state: LSTMState):
        gh = 4 * self.hidden_size
        gates = xp + F.layer_norm(hp, (gh,), self.ln_hh_weight, self.ln_hh_bias, self.eps)
        h, c = _lstm_update(gates, state.c, self._norm_c)
        return h, LSTMState(h, c)


__all__ = ["LSTMCell", "LayerNormLSTMCell"]
