r"""Fully convolutional front ends for series classification: FCN (Wang et al. 2017) and the
convolutional branch of LSTM-FCN (Karim et al. 2017).

An FCN block is a 1-D convolution, batch norm over the real steps and a ReLU; three blocks of
128, 256 and 128 filters with kernels 8, 5 and 3 ('same' padding, so lengths are unchanged),
then a global average over the real steps:

.. math::
    h^{(k)} = \mathrm{ReLU}(\mathrm{BN}(W^{(k)} * h^{(k-1)} + b^{(k)})), \qquad
    z = \frac{1}{L} \sum_{t \le L} h^{(3)}_t

Padding is zeroed before every convolution and excluded from the batch-norm statistics and the
average, so a padded batch gives each series the output it gets alone.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deeprnn.layers import MaskedBatchNorm1d


class FCN(nn.Module):
    """``forward(x (N, T, F), mask (N, T)) -> (N, channels[-1])``."""

    def __init__(
        self,
        input_size: int,
        channels: tuple[int, ...] = (128, 256, 128),
        kernels: tuple[int, ...] = (8, 5, 3),
    ):
        super().__init__()
        if len(channels) != len(kernels) or not channels:
            raise ValueError(
                f"model.fcn_channels and model.fcn_kernels must have the same length >= 1, "
                f"got {list(channels)} and {list(kernels)}"
            )
        sizes = [input_size, *channels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, k) for a, b, k in zip(sizes, sizes[1:], kernels))
        # 'same' padding, the odd step on the right for even kernels (as torch and Keras do)
        self.pads = [((k - 1) // 2, k // 2) for k in kernels]
        self.norms = nn.ModuleList(MaskedBatchNorm1d(c) for c in channels)
        self.output_size = channels[-1]

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask[..., None].to(x.dtype)  # (N, T, 1)
        h = x * m
        for conv, norm, pad in zip(self.convs, self.norms, self.pads):
            h = conv(nn.functional.pad(h.transpose(1, 2), pad)).transpose(1, 2)  # (N, T, C)
            h = torch.relu(norm(h, mask)) * m
        return h.sum(1) / m.sum(1).clamp(min=1.0)  # (N, C)


def zscore_series(x: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    r"""Per-series, per-channel z-normalisation over the real steps of ``x`` (N, T, F):
    :math:`(x_t - \mu) / \sigma` with :math:`\mu, \sigma` of that series' own steps (the UCR
    archive's convention); padding stays 0 and a constant channel becomes 0."""
    m = mask[..., None].to(x.dtype)  # (N, T, 1)
    n = m.sum(1, keepdim=True).clamp(min=1.0)  # (N, 1, 1)
    mean = (x * m).sum(1, keepdim=True) / n
    centred = (x - mean) * m  # padding 0 before any division
    std = ((centred**2).sum(1, keepdim=True) / n).sqrt()  # (N, 1, F)
    # 1 / std, and 0 for a constant channel or a one-step series (never x / tiny: ONNX Runtime
    # turned that into NaN for a length-1 series where torch gave 0)
    inv = torch.where(std > eps, 1.0 / std.clamp(min=eps), torch.zeros_like(std))
    return centred * inv
