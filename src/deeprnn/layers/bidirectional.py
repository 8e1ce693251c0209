"""``Bidirectional(layer)``: a forward and a backward copy of a recurrent layer, merged."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deeprnn._config import register
from deeprnn.layers._sequence import SequenceLayer
from deeprnn.layers.recurrent import Recurrent

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def merge(a: Tensor, b: Tensor, mode: str | None):
    """Combine forward and backward features (Keras ``merge_mode``)."""
    if mode == "concat":
        return torch.cat([a, b], dim=-1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    if mode == "ave":
        return (a + b) / 2
    return (a, b)


def check_merge_mode(merge_mode):
    if merge_mode not in MERGE_MODES:
        raise ValueError(f"merge_mode must be one of {list(MERGE_MODES)}, got {merge_mode!r}")
    return merge_mode


@register
class Bidirectional(SequenceLayer):
    r"""Run ``layer`` forwards and a fresh copy of it backwards; merge the two outputs.

    .. math::
        y_t = \mathrm{merge}(\overrightarrow{h}_t, \overleftarrow{h}_t)

    The backward copy starts at each row's last real step (padding is skipped), and its
    outputs are aligned with the input, so ``merge_mode`` combines features of the same step.
    ``merge_mode`` is ``"concat"`` (F = 2H), ``"sum"``, ``"mul"``, ``"ave"`` (F = H) or
    ``None`` (a tuple ``(forward, backward)``). States: ``[forward, backward]``.
    ``return_sequences``, ``return_state``, ``stateful`` and ``batch_first`` come from
    ``layer``, as in Keras. Every other option of ``layer`` (dropouts, regularizers,
    constraints, initializers, a learned initial state) is copied to the backward layer, which
    draws its own dropout masks and learns its own initial state. With input / output dropout
    in training, or an activity regularizer, the two directions run as two calls (each still on
    the fastest implementation) instead of one fused bidirectional call.

    >>> from deeprnn.cells import GRUCell
    >>> bi = Bidirectional(Recurrent(GRUCell(8, 16), return_state=False))
    >>> bi(torch.randn(4, 10, 8)).shape
    torch.Size([4, 10, 32])
    """

    def __init__(self, layer: Recurrent, merge_mode: str | None = "concat"):
        if not isinstance(layer, Recurrent):
            raise TypeError(f"layer must be a deeprnn Recurrent layer, got {type(layer).__name__}")
        super().__init__(
            batch_first=layer.batch_first,
            return_sequences=layer.return_sequences,
            return_state=layer.return_state,
            stateful=layer.stateful,
        )
        self.merge_mode = check_merge_mode(merge_mode)
        config = layer.get_config()
        self.forward_layer = layer
        self.backward_layer = Recurrent.from_config(
            {**config, "go_backwards": not layer.go_backwards}
        )
        self.input_size = layer.input_size
        self.hidden_size = layer.hidden_size
        self.output_size = layer.hidden_size * (2 if merge_mode == "concat" else 1)
        self.layout = (2,)

    def _cells(self):
        return [self.forward_layer.cell, self.backward_layer.cell]

    def _recurrents(self):
        return [self.forward_layer, self.backward_layer]

    def _one_call(self) -> bool:
        """Whether both directions can share one fused call: not when each direction needs its
        own input / output dropout mask or its own recorded outputs."""
        fwd = self.forward_layer
        if fwd.go_backwards or fwd.activity_regularizer is not None:
            return False
        if self.training and (fwd.input_dropout or fwd.output_dropout):
            return False
        return not (fwd.checkpoint_steps and self.training and torch.is_grad_enabled())

    def _run(self, x: Tensor, mask: Tensor | None, states: list):
        from deeprnn.kernels.dispatch import choose

        fwd, bwd = self.forward_layer, self.backward_layer
        if self._one_call() and choose(fwd, x, mask).impl == choose(bwd, x, mask).impl == "torch":
            from deeprnn.kernels.torch_rnn import torch_scan

            out, finals = torch_scan([fwd, bwd], x, mask, states)  # one bidirectional fused call
            H = self.hidden_size
            out_f, out_b = out[..., :H], out[..., H:]
            any_real = 1 if mask is None else mask.any(dim=1, keepdim=True)
            sum_f, sum_b = finals[0].h * any_real, finals[1].h * any_real
            out = out if self.merge_mode == "concat" else merge(out_f, out_b, self.merge_mode)
            return out, merge(sum_f, sum_b, self.merge_mode), finals
        out_f, sum_f, (fin_f,) = self.forward_layer._run(x, mask, states[:1])
        out_b, sum_b, (fin_b,) = self.backward_layer._run(x, mask, states[1:])
        return (
            merge(out_f, out_b, self.merge_mode),
            merge(sum_f, sum_b, self.merge_mode),
            [fin_f, fin_b],
        )

    def get_config(self) -> dict[str, Any]:
        return {"layer": self.forward_layer.get_config(), "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(
            Recurrent.from_config(config["layer"]), merge_mode=config.get("merge_mode", "concat")
        )

    def extra_repr(self) -> str:
        return f"merge_mode={self.merge_mode!r}"
