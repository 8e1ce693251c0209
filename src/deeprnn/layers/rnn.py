"""``LSTM``, ``GRU``, ``SimpleRNN`` and ``MinimalGRU``: uniform stacks with torch's argument
names and explicit signatures (their conversion to and from ``torch.nn.LSTM / GRU / RNN`` is in
:mod:`deeprnn.layers.torch_convert`)."""

from __future__ import annotations

import warnings
from typing import Any

from deeprnn._config import register
from deeprnn._validation import check_probability
from deeprnn._warnings import DeepRNNWarning
from deeprnn.layers.regularizers import Constraint, Regularizer
from deeprnn.layers.stacked import STACK_OPTIONS, DeepRNN

_ARGS_DOC = """
    Args:
        input_size: I, features of each step.
        hidden_size: H, units of each layer (and direction).
        num_layers: stacked layers.
        bias: use gate biases.
        batch_first: input (N, T, I) when True (the default, as in Keras), else (T, N, I).
            States are always batch-first (N, H).
        dropout: dropout between layers (not after the last), as in torch: with one layer it
            does nothing (a ``DeepRNNWarning`` says so). Keras' ``dropout`` is ``input_dropout``.
        bidirectional: a backward copy of every layer; outputs merged by ``merge_mode``.
        merge_mode: ``"concat"`` (outputs of D·H features), ``"sum"``, ``"mul"``, ``"ave"`` or
            ``None`` (a tuple of both directions' outputs).
        return_sequences: return the (N, T, D·H) outputs, or (N, D·H) at each row's last real
            step when False.
        return_state: also return the final :class:`~deeprnn.States` (as torch does).
        go_backwards: scan from the end (outputs stay aligned with the input).
        stateful: carry the final states into the next call (``reset_states()`` clears them).
        recurrent_dropout: variational dropout on the recurrent input, one mask per sequence.
        weight_dropout: DropConnect on the recurrent matrices :math:`W_{hh}` (AWD-LSTM's weight
            drop): one mask per call, the same at every step, training only.
        zoneout: zoneout probability on the state.
        residual: add each layer's input to its output (sizes permitting).
        highway: gate each layer's output against its input (a highway connection).
        norm: ``"batch"`` (masked batch norm) or ``"layer"`` between layers, or ``None``.
        dim_feedforward: width of a position-wise feed-forward block (pre-layer-norm, with its
            own residual) after every layer, as the parallel recurrences' papers stack them;
            ``None``: none.
        masked_output: ``"zero"`` (outputs at padded steps are 0) or ``"carry"`` (Keras: the
            last real step's output is repeated).
        init: ``"keras"`` (Glorot / orthogonal / zero biases, forget bias 1) or ``"torch"``.
        impl: ``"auto"``, ``"torch"``, ``"fused"`` or ``"loop"``;
            :func:`deeprnn.kernels.explain` says which one a call used and why.
        checkpoint_steps: activation checkpointing over chunks of this many steps.
        input_dropout: dropout on every layer's inputs (Keras ``dropout``).
        input_dropout_same_mask: one ``input_dropout`` mask per sequence (Keras) or a fresh one
            per step (TF1 ``DropoutWrapper``).
        output_dropout: dropout on every layer's outputs, a fresh mask per step (TF1
            ``DropoutWrapper(output_keep_prob)``).
        kernel_regularizer: penalty on the input weights (``"l1"``, ``"l2"``, ``0.01``, an
            :class:`~deeprnn.layers.L1L2` ...), summed by ``layer.regularization_loss()``.
        recurrent_regularizer: penalty on the recurrent weights.
        bias_regularizer: penalty on the biases.
        activity_regularizer: penalty on the outputs of the last call.
        kernel_constraint: projection of the input weights after each optimizer step
            (``"non_neg"``, ``"max_norm"``, a :class:`~deeprnn.layers.MaxNorm` ...).
        recurrent_constraint: the same for the recurrent weights.
        bias_constraint: the same for the biases.
        kernel_initializer: Keras initializer name for the input weights (``None``: ``init``).
        recurrent_initializer: for the recurrent weights.
        bias_initializer: for the biases.
        learn_initial_state: a trainable initial state instead of zeros.
"""

_CALL_DOC = """
    Call: ``layer(x, lengths=None, mask=None, initial_state=None)``: ``x`` (N, T, I);
    ``lengths`` (N,) real steps of post-padded rows, or ``mask`` (N, T) True at real steps
    (any padding side); see :mod:`deeprnn.layers.masking` for the rules. Returns ``(output, states)``
    (``output`` alone with ``return_state=False``).
"""


def _arguments(frame_locals: dict) -> dict[str, Any]:
    """A subclass's ``__init__`` arguments, passed on by name (its explicit signature is the
    documented one; ``_Uniform`` does the work)."""
    return {k: v for k, v in frame_locals.items() if k not in ("self", "__class__")}


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
        weight_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        dim_feedforward: int | None = None,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        input_dropout: float = 0.0,
        input_dropout_same_mask: bool = True,
        output_dropout: float = 0.0,
        kernel_regularizer: Regularizer | str | float | None = None,
        recurrent_regularizer: Regularizer | str | float | None = None,
        bias_regularizer: Regularizer | str | float | None = None,
        activity_regularizer: Regularizer | str | float | None = None,
        kernel_constraint: Constraint | str | None = None,
        recurrent_constraint: Constraint | str | None = None,
        bias_constraint: Constraint | str | None = None,
        kernel_initializer: str | None = None,
        recurrent_initializer: str | None = None,
        bias_initializer: str | None = None,
        learn_initial_state: bool = False,
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
            weight_dropout=weight_dropout,
            zoneout=zoneout,
            residual=residual,
            highway=highway,
            norm=norm,
            dim_feedforward=dim_feedforward,
            masked_output=masked_output,
            init=init,
            impl=impl,
            checkpoint_steps=checkpoint_steps,
            input_dropout=input_dropout,
            input_dropout_same_mask=input_dropout_same_mask,
            output_dropout=output_dropout,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            learn_initial_state=learn_initial_state,
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
        from deeprnn.layers.torch_convert import to_torch

        return to_torch(self)


@register
class LSTM(_Uniform):
    __doc__ = (
        """Multi-layer LSTM with torch's arguments plus Keras' sequence options.

    Equations per step: :class:`~deeprnn.cells.LSTMCell` (or
    :class:`~deeprnn.cells.LayerNormLSTMCell` with ``layer_norm=True``)."""
        + _ARGS_DOC
        + """        layer_norm: use the layer-normalised cell
            (:class:`~deeprnn.cells.LayerNormLSTMCell`).
"""
        + _CALL_DOC
        + """
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
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        layer_norm: bool = False,
        merge_mode: str | None = "concat",
        return_sequences: bool = True,
        return_state: bool = True,
        go_backwards: bool = False,
        stateful: bool = False,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        dim_feedforward: int | None = None,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        input_dropout: float = 0.0,
        input_dropout_same_mask: bool = True,
        output_dropout: float = 0.0,
        kernel_regularizer: Regularizer | str | float | None = None,
        recurrent_regularizer: Regularizer | str | float | None = None,
        bias_regularizer: Regularizer | str | float | None = None,
        activity_regularizer: Regularizer | str | float | None = None,
        kernel_constraint: Constraint | str | None = None,
        recurrent_constraint: Constraint | str | None = None,
        bias_constraint: Constraint | str | None = None,
        kernel_initializer: str | None = None,
        recurrent_initializer: str | None = None,
        bias_initializer: str | None = None,
        learn_initial_state: bool = False,
    ):
        super().__init__(**_arguments(locals()))


@register
class GRU(_Uniform):
    __doc__ = (
        """Multi-layer GRU with torch's arguments plus Keras' sequence options.

    Equations per step: :class:`~deeprnn.cells.GRUCell`."""
        + _ARGS_DOC
        + """        reset_after: True (torch, cuDNN, Keras 2+) or False (Cho 2014, Keras 1).
        layer_norm: use the layer-normalised (reset-after) cell.
"""
        + _CALL_DOC
    )

    cell_name = "gru"

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
        reset_after: bool = True,
        layer_norm: bool = False,
        merge_mode: str | None = "concat",
        return_sequences: bool = True,
        return_state: bool = True,
        go_backwards: bool = False,
        stateful: bool = False,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        dim_feedforward: int | None = None,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        input_dropout: float = 0.0,
        input_dropout_same_mask: bool = True,
        output_dropout: float = 0.0,
        kernel_regularizer: Regularizer | str | float | None = None,
        recurrent_regularizer: Regularizer | str | float | None = None,
        bias_regularizer: Regularizer | str | float | None = None,
        activity_regularizer: Regularizer | str | float | None = None,
        kernel_constraint: Constraint | str | None = None,
        recurrent_constraint: Constraint | str | None = None,
        bias_constraint: Constraint | str | None = None,
        kernel_initializer: str | None = None,
        recurrent_initializer: str | None = None,
        bias_initializer: str | None = None,
        learn_initial_state: bool = False,
    ):
        super().__init__(**_arguments(locals()))


@register
class SimpleRNN(_Uniform):
    __doc__ = (
        """Multi-layer Elman RNN with torch's arguments plus Keras' sequence options.

    Equations per step: :class:`~deeprnn.cells.SimpleRNNCell`."""
        + _ARGS_DOC
        + """        activation: ``tanh`` (default), ``relu``, ``leaky_relu``, ``sigmoid`` or
            ``identity``.
"""
        + _CALL_DOC
    )

    cell_name = "rnn"

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
        activation: str = "tanh",
        merge_mode: str | None = "concat",
        return_sequences: bool = True,
        return_state: bool = True,
        go_backwards: bool = False,
        stateful: bool = False,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        dim_feedforward: int | None = None,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        input_dropout: float = 0.0,
        input_dropout_same_mask: bool = True,
        output_dropout: float = 0.0,
        kernel_regularizer: Regularizer | str | float | None = None,
        recurrent_regularizer: Regularizer | str | float | None = None,
        bias_regularizer: Regularizer | str | float | None = None,
        activity_regularizer: Regularizer | str | float | None = None,
        kernel_constraint: Constraint | str | None = None,
        recurrent_constraint: Constraint | str | None = None,
        bias_constraint: Constraint | str | None = None,
        kernel_initializer: str | None = None,
        recurrent_initializer: str | None = None,
        bias_initializer: str | None = None,
        learn_initial_state: bool = False,
    ):
        super().__init__(**_arguments(locals()))


@register
class MinimalGRU(_Uniform):
    __doc__ = (
        """Multi-layer minimal GRU (update gate only): :class:`~deeprnn.cells.MinimalGRUCell`."""
        + _ARGS_DOC
        + _CALL_DOC
    )

    cell_name = "minimal_gru"

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
        weight_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        dim_feedforward: int | None = None,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        input_dropout: float = 0.0,
        input_dropout_same_mask: bool = True,
        output_dropout: float = 0.0,
        kernel_regularizer: Regularizer | str | float | None = None,
        recurrent_regularizer: Regularizer | str | float | None = None,
        bias_regularizer: Regularizer | str | float | None = None,
        activity_regularizer: Regularizer | str | float | None = None,
        kernel_constraint: Constraint | str | None = None,
        recurrent_constraint: Constraint | str | None = None,
        bias_constraint: Constraint | str | None = None,
        kernel_initializer: str | None = None,
        recurrent_initializer: str | None = None,
        bias_initializer: str | None = None,
        learn_initial_state: bool = False,
    ):
        super().__init__(**_arguments(locals()))
