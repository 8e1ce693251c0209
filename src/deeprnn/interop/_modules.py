"""The Keras layers that deeprnn has no module of its own for, as small ``nn.Module``s with
Keras' semantics (channels-last, Keras' activation names), each registered so that
``save_pretrained`` / ``load_pretrained`` round-trip an imported model."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register

#: Keras activation name -> the torch function with the same definition
ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "silu": F.silu,
    "swish": F.silu,
    "gelu": F.gelu,  # Keras 3: approximate=False
    "exponential": torch.exp,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # Keras' default negative_slope
    "relu6": F.relu6,
    "hard_sigmoid": lambda x: F.relu6(x + 3.0) / 6.0,  # Keras 3's definition
    "mish": F.mish,
}


def check_activation(name, where: str) -> str:
    if name is None:
        return "linear"
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{where}: activation {name!r} has no deeprnn equivalent")
    return name


@register
class KerasDense(ConfigMixin, nn.Module):
    """``keras.layers.Dense`` (and ``TimeDistributed(Dense)``): a linear map on the last axis,
    then the activation. The mask, if any, passes through."""

    mask_rule = "pass"

    def __init__(self, in_features: int, units: int, activation: str = "linear", bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_features, units, bias=bias)
        self.activation = check_activation(activation, "Dense")

    def forward(self, x: Tensor) -> Tensor:
        return ACTIVATIONS[self.activation](self.linear(x))

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.linear.in_features,
            "units": self.linear.out_features,
            "activation": self.activation,
            "bias": self.linear.bias is not None,
        }


@register
class KerasActivation(ConfigMixin, nn.Module):
    """``keras.layers.Activation``; the mask passes through."""

    mask_rule = "pass"

    def __init__(self, activation: str = "linear"):
        super().__init__()
        self.activation = check_activation(activation, "Activation")

    def forward(self, x: Tensor) -> Tensor:
        return ACTIVATIONS[self.activation](x)

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.activation}


@register
class KerasDropout(ConfigMixin, nn.Dropout):
    """``keras.layers.Dropout`` / ``SpatialDropout1D`` (``spatial``: one mask per feature over
    all steps); identity in eval; the mask passes through."""

    mask_rule = "pass"

    def __init__(self, rate: float = 0.0, spatial: bool = False):
        super().__init__(float(rate))
        self.spatial = bool(spatial)

    def forward(self, x: Tensor) -> Tensor:
        if not self.spatial or not self.training or self.p == 0.0 or x.dim() != 3:
            return super().forward(x)
        keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype)
        return x * keep.bernoulli_(1.0 - self.p) / (1.0 - self.p)  # (N, T, I)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.p, "spatial": self.spatial}


@register
class KerasFlatten(ConfigMixin, nn.Module):
    """``keras.layers.Flatten``: (N, ...) -> (N, prod(...)), in channels-last order."""

    mask_rule = "drop"

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)

    def get_config(self) -> dict[str, Any]:
        return {}


@register
class KerasRepeatVector(ConfigMixin, nn.Module):
    """``keras.layers.RepeatVector``: (N, F) -> (N, n, F)."""

    mask_rule = "drop"

    def __init__(self, n: int):
        super().__init__()
        self.n = int(n)

    def forward(self, x: Tensor) -> Tensor:
        return x[:, None, :].expand(-1, self.n, -1)  # (N, n, F)

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n}


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF's "same" padding: (left, right), the extra one on the right."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


@register
class KerasConv1D(ConfigMixin, nn.Module):
    """``keras.layers.Conv1D`` on (N, T, C) inputs (channels last), padding ``valid``,
    ``same`` or ``causal``; the mask stops here (as in Keras)."""

    mask_rule = "drop"

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel_size: int,
        strides: int = 1,
        padding: str = "valid",
        dilation_rate: int = 1,
        groups: int = 1,
        activation: str = "linear",
        bias: bool = True,
    ):
        super().__init__()
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be valid, same or causal, got {padding!r}")
        self.conv = nn.Conv1d(
            in_channels, filters, kernel_size, stride=strides, dilation=dilation_rate,
            groups=groups, bias=bias,
        )  # fmt: skip
        self.padding = padding
        self.activation = check_activation(activation, "Conv1D")

    def forward(self, x: Tensor) -> Tensor:
        x = x.transpose(1, 2)  # (N, C, T)
        k, s, d = self.conv.kernel_size[0], self.conv.stride[0], self.conv.dilation[0]
        if self.padding == "same":
            x = F.pad(x, _same_pads(x.shape[-1], k, s, d))
        elif self.padding == "causal":
            x = F.pad(x, ((k - 1) * d, 0))
        return ACTIVATIONS[self.activation](self.conv(x).transpose(1, 2))  # (N, T', F)

    def get_config(self) -> dict[str, Any]:
        c = self.conv
        return {
            "in_channels": c.in_channels,
            "filters": c.out_channels,
            "kernel_size": c.kernel_size[0],
            "strides": c.stride[0],
            "padding": self.padding,
            "dilation_rate": c.dilation[0],
            "groups": c.groups,
            "activation": self.activation,
            "bias": c.bias is not None,
        }


@register
class KerasPooling1D(ConfigMixin, nn.Module):
    """``MaxPooling1D`` / ``AveragePooling1D`` on (N, T, C), padding ``valid`` or ``same``
    (an average over the real entries of a padded window, as TF)."""

    mask_rule = "drop"

    def __init__(self, kind: str, pool_size: int, strides: int | None = None, padding="valid"):
        super().__init__()
        if kind not in ("max", "average"):
            raise ValueError(f"kind must be 'max' or 'average', got {kind!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"pooling: padding must be valid or same, got {padding!r}")
        self.kind, self.pool_size = kind, int(pool_size)
        self.strides = int(strides or pool_size)
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        x = x.transpose(1, 2)  # (N, C, T)
        k, s = self.pool_size, self.strides
        if self.padding == "same":
            left, right = _same_pads(x.shape[-1], k, s)
            if self.kind == "max":
                x = F.pad(x, (left, right), value=-math.inf)
                return F.max_pool1d(x, k, s).transpose(1, 2)
            ones = F.pad(torch.ones_like(x[:, :1]), (left, right))
            total = F.avg_pool1d(F.pad(x, (left, right)), k, s)
            return (total / F.avg_pool1d(ones, k, s)).transpose(1, 2)
        pool = F.max_pool1d if self.kind == "max" else F.avg_pool1d
        return pool(x, k, s).transpose(1, 2)  # (N, T', C)

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@register
class KerasGlobalPooling1D(ConfigMixin, nn.Module):
    """``GlobalMaxPooling1D`` / ``GlobalAveragePooling1D`` over time; the average uses the mask
    (a mean over real steps), as in Keras, the max ignores it (as in Keras)."""

    mask_rule = "consume"

    def __init__(self, kind: str, keepdims: bool = False):
        super().__init__()
        if kind not in ("max", "average"):
            raise ValueError(f"kind must be 'max' or 'average', got {kind!r}")
        self.kind, self.keepdims = kind, bool(keepdims)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if self.kind == "max":
            return x.amax(dim=1, keepdim=self.keepdims)
        if mask is None:
            return x.mean(dim=1, keepdim=self.keepdims)
        m = mask.to(x.dtype)[..., None]  # (N, T, 1)
        return (x * m).sum(1, keepdim=self.keepdims) / m.sum(1, keepdim=self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "keepdims": self.keepdims}


MERGES = ("add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate")


@register
class KerasMerge(ConfigMixin, nn.Module):
    """``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``,
    ``Concatenate(axis)``; the output mask is the AND of the input masks (Keras)."""

    mask_rule = "merge"

    def __init__(self, mode: str, axis: int = -1):
        super().__init__()
        if mode not in MERGES:
            raise ValueError(f"mode must be one of {list(MERGES)}, got {mode!r}")
        self.mode, self.axis = mode, int(axis)

    def forward(self, *xs: Tensor) -> Tensor:
        if self.mode == "concatenate":
            return torch.cat(xs, dim=self.axis)
        if self.mode == "subtract":
            return xs[0] - xs[1]
        out = xs[0]
        for x in xs[1:]:
            if self.mode in ("add", "average"):
                out = out + x
            elif self.mode == "multiply":
                out = out * x
            elif self.mode == "maximum":
                out = torch.maximum(out, x)
            else:
                out = torch.minimum(out, x)
        return out / len(xs) if self.mode == "average" else out

    def get_config(self) -> dict[str, Any]:
        return {"mode": self.mode, "axis": self.axis}
