"""``LSTM``, ``GRU`` and ``SimpleRNN``: uniform stacks with torch's argument names."""

from __future__ import annotations

from typing import Any

from deeprnn._config import register
from deeprnn.layers.stacked import DeepRNN

_COMMON_DOC = """
    Args:
        input_size: I, features of each step.
        hidden_size: H.
        num_layers: stacked layers.
        bias: use gate biases.
        batch_first: input (N, T, I) when True (the default, as in Keras), else (T, N, I).
            States are always batch-first (N, H).
        dropout: dropout between layers (not after the last), as in torch.
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
        **cell_options: Any,
    ):
        own_config = {
            k: v for k, v in locals().items() if k not in ("self", "cell_options", "__class__")
        }
        own_config.update(cell_options)
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
            **cell_options,
        )
        self.hidden_size = hidden_size
        self._own_config = own_config

    def get_config(self) -> dict[str, Any]:
        return dict(self._own_config)

    def to_torch(self):
        """The equivalent ``torch.nn.LSTM/GRU/RNN`` (weights copied, biases split)."""
        from deeprnn.layers.convert import to_torch

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
