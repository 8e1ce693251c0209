"""Reversible instance normalisation (RevIN, Kim et al. 2022, "Reversible Instance
Normalization for Accurate Time-Series Forecasting against Distribution Shift", ICLR)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deeprnn._validation import check_bool, check_float_tensor, check_positive_int


class RevIN(nn.Module):
    r"""Normalise each input window by its own statistics, and undo it on the forecast.

    For a window :math:`x \in \mathbb{R}^{T \times D}` with real steps :math:`m_t \in \{0, 1\}`:

    .. math::
        \mu_d = \frac{\sum_t m_t x_{td}}{\sum_t m_t}, \quad
        \sigma_d = \sqrt{\frac{\sum_t m_t (x_{td} - \mu_d)^2}{\sum_t m_t} + \epsilon}, \quad
        \hat x_{td} = \gamma_d \frac{x_{td} - \mu_d}{\sigma_d} + \beta_d

    and a forecast :math:`\hat y` made in the normalised space is mapped back by

    .. math::
        y_{td} = \frac{\hat y_{td} - \beta_d}{\gamma_d + \epsilon^2} \sigma_d + \mu_d

    so a model only sees level- and scale-free windows, and the level and scale of each window
    are restored on its output (the shift between training and test distributions is removed).
    ``affine=False`` fixes :math:`\gamma = 1, \beta = 0`.

    Args:
        num_features: D, the features normalised (each on its own).
        eps: :math:`\epsilon`, added to the variance (and, squared, to :math:`\gamma`).
        affine: learn :math:`\gamma, \beta` (D,).

    Inputs of :meth:`normalize`: ``x`` (N, T, D); ``mask`` (N, T) bool, optional: statistics
    over the real steps only, padded outputs are zero; ``stats``, optional: use these instead
    of the statistics of ``x`` (a history's, to normalise its future). Returns ``(x_hat (N, T, D), stats)``
    with ``stats = (mean (N, 1, D), std (N, 1, D))``.

    Inputs of :meth:`denormalize`: ``y`` (N, T', D) and the ``stats`` of its window.

    >>> revin = RevIN(3)
    >>> x = torch.randn(4, 24, 3) * 5 + 10
    >>> z, stats = revin.normalize(x)
    >>> torch.allclose(revin.denormalize(z, stats), x, atol=1e-4)
    True
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        self.eps = float(eps)
        self.affine = check_bool("affine", affine)
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def _check(self, name: str, x: Tensor) -> None:
        check_float_tensor(name, x, 3)
        if x.shape[-1] != self.num_features:
            raise ValueError(
                f"{name} must have {self.num_features} features (num_features) in its last "
                f"dimension, got shape {tuple(x.shape)}"
            )

    def normalize(
        self, x: Tensor, mask: Tensor | None = None, stats: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        self._check("x", x)
        if mask is not None and mask.shape != x.shape[:2]:
            raise ValueError(
                f"mask must have shape {tuple(x.shape[:2])} (N, T), got {tuple(mask.shape)}"
            )
        m = None if mask is None else mask.to(x.dtype)[..., None]  # (N, T, 1)
        if stats is not None:  # another window's statistics (a history's, for its future)
            mean, std = stats
        elif mask is None:
            mean = x.mean(1, keepdim=True)  # (N, 1, D)
            var = x.var(1, keepdim=True, unbiased=False)
            std = torch.sqrt(var + self.eps)  # (N, 1, D)
        else:
            count = m.sum(1, keepdim=True).clamp(min=1)  # (N, 1, 1)
            mean = (x * m).sum(1, keepdim=True) / count
            var = (((x - mean) ** 2) * m).sum(1, keepdim=True) / count
            std = torch.sqrt(var + self.eps)  # (N, 1, D)
        out = (x - mean) / std
        if self.affine:
            out = out * self.weight + self.bias
        if m is not None:
            out = out * m
        return out, (mean.detach(), std.detach())

    def denormalize(self, y: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        self._check("y", y)
        mean, std = stats
        if self.affine:
            y = (y - self.bias) / (self.weight + self.eps**2)
        return y * std + mean

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"
