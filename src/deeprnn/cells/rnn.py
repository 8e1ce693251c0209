"""The Elman cell (Keras ``SimpleRNNCell``, torch ``RNNCell``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn.cells._base import ACTIVATIONS, RecurrentCell, get_activation
from deeprnn.states import RNNState


@register
class SimpleRNNCell(RecurrentCell):
    r"""One step of a fully connected recurrent layer.

    .. math::
        h_t = \phi(W_{ih} x_t + W_{hh} h_{t-1} + b)

    with :math:`\phi` one of ``tanh`` (default), ``relu``, ``leaky_relu`` (slope 0.01),
    ``sigmoid``, ``identity``. One bias vector, as in Keras: ``SimpleRNNCell(32, 32)`` has
    ``32*32 + 32*32 + 32 = 2,080`` parameters.

    Args:
        input_size: I, features of ``x_t``.
        hidden_size: H, size of ``h``.
        activation: name of :math:`\phi`.
        bias: add ``b`` (shape (H,)).
        init: ``"keras"`` (Glorot/orthogonal/zeros) or ``"torch"``.

    Shapes: ``x_t`` (N, I); state :class:`~deeprnn.RNNState` with ``h`` (N, H); returns
    ``(h_t, RNNState(h_t))``.

    >>> cell = SimpleRNNCell(3, 5)
    >>> h, state = cell(torch.randn(2, 3))
    >>> h.shape
    torch.Size([2, 5])
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        activation: str = "tanh",
        bias: bool = True,
        init: str = "keras",
    ):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        self.activation = activation
        self._act = get_activation(activation)
        if bias:
            self.bias = nn.Parameter(torch.empty(hidden_size))  # (H,)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    fused_kind = "rnn"

    def pointwise(self, xp: Tensor, hp: Tensor, state: RNNState):
        h = self._act(xp + hp)
        return h, RNNState(h)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


__all__ = ["ACTIVATIONS", "SimpleRNNCell"]
