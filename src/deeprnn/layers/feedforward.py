"""The position-wise feed-forward block a :class:`~deeprnn.DeepRNN` puts after every layer with
``dim_feedforward`` (the parallel recurrences' deep stack: minGRU / minLSTM, LRU)."""

from __future__ import annotations

from torch import Tensor, nn


class FeedForward(nn.Module):
    r"""The position-wise block between recurrent layers: :math:`y + W_2\,\mathrm{GELU}(W_1\,
    \mathrm{LN}(y))`, ``y`` (..., F) -> (..., F), :math:`W_1` F -> ``dim_feedforward``. Every step
    is mixed alone, so masks, streaming and states are those of the layers around it."""

    def __init__(self, size: int, dim_feedforward: int):
        super().__init__()
        self.norm = nn.LayerNorm(size)
        self.linear1 = nn.Linear(size, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, size)

    def forward(self, y: Tensor) -> Tensor:
        return y + self.linear2(nn.functional.gelu(self.linear1(self.norm(y))))
