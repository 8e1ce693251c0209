"""``MinGRU``, ``MinLSTM`` and ``LRU``: stacks of the linear recurrences that train in parallel
over time, with the classic layers' arguments (torch names, Keras sequence options)."""

from __future__ import annotations

import math
from typing import Any

from deeprnn._config import register
from deeprnn.layers.regularizers import Constraint, Regularizer
from deeprnn.layers.rnn import _ARGS_DOC, _CALL_DOC, _Uniform

_NOTES = """
    There is no recurrent matrix, so ``recurrent_dropout`` must stay 0 and the
    ``recurrent_*`` options have nothing to act on. ``impl``: ``"auto"`` / ``"fused"`` (the
    compiled CPU scan, gates fused), ``"parallel"`` (the associative scan in torch, any device)
    or ``"loop"`` (the readable step loop); all agree to rounding. The papers' deep stack is
    ``residual=True, norm="layer", dim_feedforward=4 * hidden_size``.
"""


class _Linear(_Uniform):
    """A uniform stack of one linear-recurrence cell; ``options`` are the cell's own."""

    def _with_cell_options(self, args: dict[str, Any], options: dict[str, Any]) -> None:
        super().__init__(**args, cell_options=options)
        self._own_config.pop("cell_options", None)
        self._own_config.update(options)


def _args(frame_locals: dict, *own: str) -> tuple[dict[str, Any], dict[str, Any]]:
    skip = ("self", "__class__", *own)
    return (
        {k: v for k, v in frame_locals.items() if k not in skip},
        {k: frame_locals[k] for k in own},
    )


_CANDIDATE_DOC = """        candidate: ``"g"`` (the paper's positive :func:`~deeprnn.cells.parallel.g`, default)
            or ``"identity"``.
"""


@register
class MinGRU(_Linear):
    __doc__ = (
        """Multi-layer minGRU (Feng et al. 2024): :class:`~deeprnn.cells.MinGRUCell`,
    :math:`h_t = (1 - z_t) h_{t-1} + z_t \\tilde h_t` with gates from :math:`x_t` only."""
        + _NOTES
        + _ARGS_DOC
        + _CANDIDATE_DOC
        + _CALL_DOC
        + """
    >>> import torch
    >>> gru = MinGRU(8, 16, num_layers=2, residual=True, norm="layer")
    >>> out, states = gru(torch.randn(4, 10, 8), lengths=torch.tensor([10, 9, 1, 0]))
    >>> out.shape, len(states)
    (torch.Size([4, 10, 16]), 2)
    """
    )

    cell_name = "mingru"

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
        candidate: str = "g",
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
        self._with_cell_options(*_args(locals(), "candidate"))


@register
class MinLSTM(_Linear):
    __doc__ = (
        """Multi-layer minLSTM (Feng et al. 2024): :class:`~deeprnn.cells.MinLSTMCell`,
    :math:`h_t = f'_t h_{t-1} + i'_t \\tilde h_t` with normalised gates from :math:`x_t` only."""
        + _NOTES
        + _ARGS_DOC
        + _CANDIDATE_DOC
        + _CALL_DOC
    )

    cell_name = "minlstm"

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
        candidate: str = "g",
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
        self._with_cell_options(*_args(locals(), "candidate"))


@register
class LRU(_Linear):
    __doc__ = (
        """Multi-layer Linear Recurrent Unit (Orvieto et al. 2023): :class:`~deeprnn.cells.LRUCell`,
    a complex diagonal recurrence :math:`s_t = \\lambda s_{t-1} + \\gamma B x_t`, output
    :math:`y_t = \\mathrm{Re}(C s_t) + D x_t`. States are :class:`~deeprnn.cells.LRUState`
    ``(h, re, im)``."""
        + _NOTES
        + _ARGS_DOC
        + """        r_min, r_max: the ring :math:`|\\lambda|` starts on (defaults 0.9, 0.999: memories
            of tens to a thousand steps).
        max_phase: the largest initial phase of :math:`\\lambda` (default :math:`2\\pi`).
"""
        + _CALL_DOC
    )

    cell_name = "lru"

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
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
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
        self._with_cell_options(*_args(locals(), "r_min", "r_max", "max_phase"))


__all__ = ["LRU", "MinGRU", "MinLSTM"]
