"""Conversion between deeprnn's ``LSTM`` / ``GRU`` / ``SimpleRNN`` and
``torch.nn.LSTM / GRU / RNN`` (:func:`from_torch`, :func:`to_torch`), weights copied."""

from __future__ import annotations

import torch
from torch import nn

from deeprnn._config import registered_classes

# Conversion to and from ``torch.nn.RNN / LSTM / GRU``.
#
# torch keeps two bias vectors per gate block (``b_ih``, ``b_hh``); Keras and deeprnn's LSTM and
# SimpleRNN keep one, so ``from_torch`` sums them and ``to_torch`` puts the sum in ``b_ih`` and
# zeros in ``b_hh`` — the same function either way. GRUs keep both vectors (reset-after).

# by registered name: deeprnn.layers.rnn's LSTM calls to_torch here, so this module does not
# import it back (the classes are registered when deeprnn.layers is imported, before this)
_TORCH_TO_DEEPRNN = {nn.LSTM: "LSTM", nn.GRU: "GRU", nn.RNN: "SimpleRNN"}


def _torch_params(module: nn.RNNBase, layer: int, suffix: str) -> dict[str, torch.Tensor]:
    tag = f"l{layer}{suffix}"
    out = {
        "weight_ih": getattr(module, f"weight_ih_{tag}"),
        "weight_hh": getattr(module, f"weight_hh_{tag}"),
    }
    if module.bias:
        out["bias_ih"] = getattr(module, f"bias_ih_{tag}")
        out["bias_hh"] = getattr(module, f"bias_hh_{tag}")
    return out


def from_torch(module: nn.Module, **options):
    """Build the deeprnn layer equal to a ``torch.nn.LSTM``, ``GRU`` or ``RNN``.

    ``options`` are passed to the deeprnn constructor (e.g. ``return_state=False``);
    ``batch_first``, sizes, layers, bias, dropout and bidirectionality come from ``module``.
    """
    name = _TORCH_TO_DEEPRNN.get(type(module))
    cls = registered_classes()[name] if name else None
    if cls is None:
        raise TypeError(f"module must be a torch.nn.LSTM, GRU or RNN, got {type(module).__name__}")
    if getattr(module, "proj_size", 0):
        raise ValueError(
            f"LSTM with proj_size has no deeprnn equivalent, got proj_size={module.proj_size}"
        )
    kwargs = dict(
        num_layers=module.num_layers,
        bias=module.bias,
        batch_first=module.batch_first,
        dropout=float(module.dropout),
        bidirectional=module.bidirectional,
    )
    if isinstance(module, nn.RNN):
        kwargs["activation"] = module.nonlinearity
    kwargs.update(options)
    layer = cls(module.input_size, module.hidden_size, **kwargs)
    layer = layer.to(dtype=module.weight_ih_l0.dtype, device=module.weight_ih_l0.device)
    cells = layer._cells()
    with torch.no_grad():
        for k, cell in enumerate(cells):
            d = 2 if module.bidirectional else 1
            src = _torch_params(module, k // d, "_reverse" if k % d else "")
            cell.weight_ih.copy_(src["weight_ih"])
            cell.weight_hh.copy_(src["weight_hh"])
            if module.bias and isinstance(module, nn.GRU):
                cell.bias_ih.copy_(src["bias_ih"])
                cell.bias_hh.copy_(src["bias_hh"])
            elif module.bias:
                cell.bias.copy_(src["bias_ih"] + src["bias_hh"])
    return layer


def to_torch(layer) -> nn.RNNBase:
    """The ``torch.nn`` module equal to a deeprnn ``LSTM``, ``GRU`` or ``SimpleRNN``."""
    cfg = layer.get_config()
    inverse = {registered_classes()[v]: k for k, v in _TORCH_TO_DEEPRNN.items()}
    torch_cls = inverse.get(type(layer))
    problems = []
    if torch_cls is None:
        problems.append(f"class {type(layer).__name__}")
    if cfg.get("layer_norm"):
        problems.append("layer_norm=True")
    if cfg.get("reset_after") is False:
        problems.append("reset_after=False")
    if cfg.get("activation", "tanh") not in ("tanh", "relu"):
        problems.append(f"activation={cfg['activation']!r}")
    for key in ("zoneout", "input_dropout", "output_dropout", "learn_initial_state"):
        if cfg.get(key):
            problems.append(f"{key}={cfg[key]!r}")
    if cfg.get("bidirectional") and cfg.get("merge_mode") != "concat":
        problems.append(f"merge_mode={cfg.get('merge_mode')!r}")
    for key in ("residual", "highway", "norm", "go_backwards"):
        if cfg.get(key):
            problems.append(f"{key}={cfg[key]!r}")
    if problems:
        raise ValueError(
            f"torch.nn has no equivalent of a deeprnn layer with {', '.join(problems)}"
        )
    kwargs = dict(
        num_layers=cfg["num_layers"],
        bias=cfg["bias"],
        batch_first=cfg["batch_first"],
        dropout=cfg["dropout"],
        bidirectional=cfg["bidirectional"],
    )
    if torch_cls is nn.RNN:
        kwargs["nonlinearity"] = cfg.get("activation", "tanh")
    ref = layer._cells()[0].weight_ih
    module = torch_cls(cfg["input_size"], cfg["hidden_size"], **kwargs).to(
        device=ref.device, dtype=ref.dtype
    )
    d = 2 if cfg["bidirectional"] else 1
    with torch.no_grad():
        for k, cell in enumerate(layer._cells()):
            dst = _torch_params(module, k // d, "_reverse" if k % d else "")
            dst["weight_ih"].copy_(cell.weight_ih)
            dst["weight_hh"].copy_(cell.weight_hh)
            if cfg["bias"] and torch_cls is nn.GRU:
                dst["bias_ih"].copy_(cell.bias_ih)
                dst["bias_hh"].copy_(cell.bias_hh)
            elif cfg["bias"]:
                dst["bias_ih"].copy_(cell.bias)
                dst["bias_hh"].zero_()
    return module
