"""``LSTM``, ``GRU`` and ``SimpleRNN``: uniform stacks with torch's argument names, and their
conversion to and from ``torch.nn.LSTM / GRU / RNN`` (:func:`from_torch`, :func:`to_torch`)."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from deeprnn._config import register
from deeprnn._validation import check_probability
from deeprnn._warnings import DeepRNNWarning
from deeprnn.layers.stacked import STACK_OPTIONS, DeepRNN

_COMMON_DOC = """
    Args:
        input_size: I, features of each step.
        hidden_size: H.
        num_layers: stacked layers.
        bias: use gate biases.
        batch_first: input (N, T, I) when True (the default, as in Keras), else (T, N, I).
            States are always batch-first (N, H).
        dropout: dropout between layers (not after the last), as in torch: with one layer it
            does nothing (a ``DeepRNNWarning`` says so). Keras' ``dropout`` is ``input_dropout``.
        input_dropout: dropout on every layer's inputs (Keras ``dropout``), by default one
            mask per sequence (``input_dropout_same_mask=True``, as Keras).
        output_dropout: dropout on every layer's outputs, a fresh mask per step (TF1
            ``DropoutWrapper(output_keep_prob)``).
        bidirectional: a backward copy of every layer; outputs merged by ``merge_mode``.
        merge_mode: ``concat`` (default), ``sum``, ``mul``, ``ave`` or ``None``.
        return_sequences: return (N, T, D*H) outputs (default) or (N, D*H) at each row's last
            real step.
        return_state: also return the final :class:`~deeprnn.States` (default True, as torch).
        go_backwards: scan from the end (outputs stay aligned with the input).
        stateful: carry the final states into the next call; see ``reset_states``.
        recurrent_dropout: variational dropout on the recurrent input, one mask per sequence.
        zoneout: zoneout probability on the state.
        residual, highway, norm: connections between layers, see :class:`DeepRNN`.
        masked_output: ``"zero"`` (default) or ``"carry"`` (Keras) at masked steps.
        init: ``"keras"`` (Glorot / orthogonal / zero biases) or ``"torch"``.
        impl: ``"auto"``, ``"torch"``, ``"fused"`` or ``"loop"``; see :class:`Recurrent`.
        checkpoint_steps: activation checkpointing over chunks of this many steps.
        input_dropout_same_mask, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            activity_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
            kernel_initializer, recurrent_initializer, bias_initializer, learn_initial_state:
            Keras' options, on every layer; see :class:`Recurrent` and
            :mod:`deeprnn.layers.regularizers` (``layer.regularization_loss()``).

    Call: ``layer(x, lengths=None, mask=None, initial_state=None)``; see
    :mod:`deeprnn.layers._sequence` for the shapes and the masking rules.
"""


class _Uniform(DeepRNN):
    """A DeepRNN whose layers share one cell type and size."""

    cell_name: str = "lstm"
    _extra: tuple[str, ...] = ()

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        merge_mode: str | None = "concat",
        return_sequences: bool = True,
        return_state: bool = True,
        go_backwards: bool = False,
        stateful: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        input_dropout: float = 0.0,
        output_dropout: float = 0.0,
        **cell_options: Any,
    ):
        own_config = {
            k: v for k, v in locals().items() if k not in ("self", "cell_options", "__class__")
        }
        own_config.update(cell_options)
        if num_layers == 1 and check_probability("dropout", dropout) > 0:
            warnings.warn(
                f"dropout={dropout} is applied between layers (torch semantics), so a one-layer "
                f"{type(self).__name__} drops nothing; for Keras' dropout on the layer's inputs "
                f"use input_dropout={dropout} (or output_dropout), or set num_layers > 1",
                DeepRNNWarning,
                stacklevel=2 if type(self).__init__ is _Uniform.__init__ else 3,  # user's line
            )
        super().__init__(
            input_size,
            cell=self.cell_name,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            merge_mode=merge_mode,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            recurrent_dropout=recurrent_dropout,
            zoneout=zoneout,
            residual=residual,
            highway=highway,
            norm=norm,
            masked_output=masked_output,
            init=init,
            impl=impl,
            checkpoint_steps=checkpoint_steps,
            input_dropout=input_dropout,
            output_dropout=output_dropout,
            **cell_options,
        )
        self.hidden_size = hidden_size
        stack = super().get_config()  # regularizers and constraints in their JSON form
        own_config.update({k: v for k, v in stack.items() if k in STACK_OPTIONS})
        self._own_config = own_config

    def get_config(self) -> dict[str, Any]:
        return dict(self._own_config)

    def to_torch(self):
        """The equivalent ``torch.nn.LSTM/GRU/RNN`` (weights copied, biases split)."""
        return to_torch(self)


@register
class LSTM(_Uniform):
    __doc__ = (
        """Multi-layer LSTM with torch's arguments plus Keras' sequence options.

    Equations per step: :class:`~deeprnn.cells.LSTMCell` (or
    :class:`~deeprnn.cells.LayerNormLSTMCell` with ``layer_norm=True``)."""
        + _COMMON_DOC
        + """    layer_norm: use the layer-normalised cell.

    >>> lstm = LSTM(8, 16, num_layers=2, bidirectional=True)
    >>> out, states = lstm(torch.randn(4, 10, 8), lengths=torch.tensor([10, 9, 1, 0]))
    >>> out.shape, len(states)
    (torch.Size([4, 10, 32]), 4)
    """
    )

    cell_name = "lstm"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *args,
        layer_norm: bool = False,
        **kwargs,
    ):
        super().__init__(
            input_size, hidden_size, num_layers, *args, layer_norm=layer_norm, **kwargs
        )


@register
class GRU(_Uniform):
    __doc__ = (
        """Multi-layer GRU with torch's arguments plus Keras' sequence options.

    Equations per step: :class:`~deeprnn.cells.GRUCell`."""
        + _COMMON_DOC
        + """    reset_after: True (torch, cuDNN, Keras 2+) or False (Cho 2014, Keras 1).
        layer_norm: use the layer-normalised (reset-after) cell.
    """
    )

    cell_name = "gru"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *args,
        reset_after: bool = True,
        layer_norm: bool = False,
        **kwargs,
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            *args,
            reset_after=reset_after,
            layer_norm=layer_norm,
            **kwargs,
        )


@register
class SimpleRNN(_Uniform):
    __doc__ = (
        """Multi-layer Elman RNN with torch's arguments plus Keras' sequence options.

    Equations per step: :class:`~deeprnn.cells.SimpleRNNCell`."""
        + _COMMON_DOC
        + """    activation: ``tanh`` (default), ``relu``, ``leaky_relu``, ``sigmoid`` or ``identity``.
    """
    )

    cell_name = "rnn"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *args,
        activation: str = "tanh",
        **kwargs,
    ):
        super().__init__(
            input_size, hidden_size, num_layers, *args, activation=activation, **kwargs
        )


@register
class MinimalGRU(_Uniform):
    __doc__ = (
        """Multi-layer minimal GRU (update gate only): :class:`~deeprnn.cells.MinimalGRUCell`."""
        + _COMMON_DOC
    )

    cell_name = "minimal_gru"


# -- conversion to and from torch.nn.RNN / LSTM / GRU ----------------------------------------
# Conversion to and from ``torch.nn.RNN / LSTM / GRU``.
#
# torch keeps two bias vectors per gate block (``b_ih``, ``b_hh``); Keras and deeprnn's LSTM and
# SimpleRNN keep one, so ``from_torch`` sums them and ``to_torch`` puts the sum in ``b_ih`` and
# zeros in ``b_hh`` — the same function either way. GRUs keep both vectors (reset-after).

_TORCH_TO_DEEPRNN = {nn.LSTM: LSTM, nn.GRU: GRU, nn.RNN: SimpleRNN}


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
    cls = _TORCH_TO_DEEPRNN.get(type(module))
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
    inverse = {v: k for k, v in _TORCH_TO_DEEPRNN.items()}
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
