"""Normalisation between recurrent layers that respects padding."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MaskedBatchNorm1d(nn.Module):
    r"""Batch norm over the features of a (N, T, C) sequence, with statistics taken over the
    real steps only (padding would otherwise drag the mean towards zero).

    .. math::
        \mu = \frac{\sum_{n,t} m_{nt} x_{nt}}{\sum_{n,t} m_{nt}}, \quad
        \sigma^2 = \frac{\sum_{n,t} m_{nt} (x_{nt} - \mu)^2}{\sum_{n,t} m_{nt}}, \quad
        y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

    Running statistics use ``momentum`` like :class:`torch.nn.BatchNorm1d` (unbiased variance).
    A batch with no real step leaves them unchanged. Padded outputs are zero.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        m = x.new_ones(x.shape[:2]) if mask is None else mask.to(x.dtype)  # (N, T)
        m3 = m[..., None]  # (N, T, 1)
        if self.training:
            # branch-free, so torch.compile keeps one graph: an empty batch leaves the running
            # statistics as they are and is normalised with them
            count = m.sum()
            has = (count > 0).to(x.dtype)
            n = count.clamp(min=1)
            batch_mean = (x * m3).sum(dim=(0, 1)) / n  # (C,)
            batch_var = (((x - batch_mean) ** 2) * m3).sum(dim=(0, 1)) / n  # (C,)
            with torch.no_grad():
                unbiased = batch_var * n / (n - 1).clamp(min=1)
                self.running_mean.lerp_(batch_mean.detach(), self.momentum * has)
                self.running_var.lerp_(unbiased.detach(), self.momentum * has)
            mean = torch.lerp(self.running_mean, batch_mean, has)
            var = torch.lerp(self.running_var, batch_var, has)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
        return y * m3

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
