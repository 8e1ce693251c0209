"""Dispatch plain configurations to torch's fused RNN ops (cuDNN on GPU, oneDNN / ATen on CPU).

The layer's own parameters are handed to ``torch._VF.lstm / gru / rnn_tanh / rnn_relu`` as they
are — no per-call copies. LSTM and SimpleRNN keep one bias (Keras); torch adds ``b_hh`` to it,
so a zero buffer stands in for ``b_hh``.

Masks become packed sequences. Anything a packed sequence cannot express is mapped onto one:
rows whose real steps are not a prefix (pre-padding, holes) are compacted with a stable gather
(a masked step carries the state, so skipping it is exact), a backward scan reverses each row's
real steps, and empty rows (which torch rejects) run one dummy step whose output and state are
then replaced by zeros and the initial state.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from deeprnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from deeprnn.states import LSTMState, RNNState

CUDNN_MAX_STEPS = 65535  # cuDNN fails on longer sequences; those fall back to the fused kernel


def unsupported_reason(layer) -> str | None:
    """Why ``layer`` (a Recurrent) cannot use torch's fused op, or None when it can."""
    cell = layer.cell
    if type(cell) is LSTMCell:
        pass
    elif type(cell) is GRUCell:
        if not cell.reset_after:
            return "GRU with reset_after=False"
    elif type(cell) is SimpleRNNCell:
        if cell.activation not in ("tanh", "relu"):
            return f"SimpleRNN activation {cell.activation!r}"
    else:
        return f"cell {type(cell).__name__}"
    if layer.zoneout:
        return "zoneout"
    if layer.recurrent_dropout and layer.training:
        return "recurrent dropout"
    if layer.masked_output != "zero":
        return "masked_output='carry'"
    if layer._probe is not None:
        return "gradient probe"
    return None


def _mode_and_fn(cell):
    if isinstance(cell, LSTMCell):
        return "lstm", torch._VF.lstm
    if isinstance(cell, GRUCell):
        return "gru", torch._VF.gru
    return (
        f"rnn_{cell.activation}",
        torch._VF.rnn_tanh if cell.activation == "tanh" else torch._VF.rnn_relu,
    )


def _flat_weights(cell) -> list[Tensor]:
    if not cell.use_bias:
        return [cell.weight_ih, cell.weight_hh]
    if isinstance(cell, GRUCell):
        return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    zeros = cell.bias.new_zeros(cell.bias.shape)  # torch's b_hh; ours is folded into `bias`
    return [cell.weight_ih, cell.weight_hh, cell.bias, zeros]


def _processing_order(mask: Tensor, backwards: bool) -> Tensor:
    """(N, T) gather index: each row's real steps in scan order first, then its masked steps."""
    steps = mask.shape[1]
    pos = torch.arange(steps, device=mask.device).expand_as(mask)
    key = torch.where(mask, pos, steps + pos)  # real steps first, order kept
    if backwards:
        key = torch.where(mask, steps - 1 - pos, steps + pos)
    return key.argsort(dim=1, stable=True)


def torch_scan(layers, x: Tensor, mask: Tensor | None, states: list, dropout: float = 0.0):
    """Run one Recurrent, or a forward/backward pair, through torch's fused op.

    Returns ``(out (N, T, D*H), [final states])``; ``out`` is zero at masked steps.
    """
    cell = layers[0].cell
    bidirectional = len(layers) == 2
    backwards = layers[0].go_backwards and not bidirectional
    mode, fn = _mode_and_fn(cell)
    weights = [w for layer in layers for w in _flat_weights(layer.cell)]
    has_biases = cell.use_bias
    batch, steps, _ = x.shape
    h0 = torch.stack([s.h for s in states])  # (D, N, H)
    hx = (h0, torch.stack([s.c for s in states])) if mode == "lstm" else h0

    lengths = None
    order = None
    if mask is not None or backwards:
        full = mask is None or bool(mask.all())
        if backwards or not full:
            mask_ = (
                mask
                if mask is not None
                else torch.ones(batch, steps, dtype=torch.bool, device=x.device)
            )
            lengths = mask_.sum(dim=1)
            prefix = torch.arange(steps, device=x.device)[None] < lengths[:, None]
            if backwards or not torch.equal(prefix, mask_):
                order = _processing_order(mask_, backwards)  # (N, T)
                x = x.gather(1, order[..., None].expand(-1, -1, x.shape[2]))
    if lengths is None:
        args = (x, hx, weights, has_biases, 1, 0.0, False, bidirectional, True)
        y, *h_n = fn(*args)
    else:
        cpu_lengths = lengths.clamp(min=1).cpu()
        packed = pack_padded_sequence(x, cpu_lengths, batch_first=True, enforce_sorted=False)
        perm = packed.sorted_indices
        hx_sorted = (
            tuple(h.index_select(1, perm) for h in hx)
            if mode == "lstm"
            else hx.index_select(1, perm)
        )
        args = (
            packed.data,
            packed.batch_sizes,
            hx_sorted,
            weights,
            has_biases,
            1,
            0.0,
            False,
            bidirectional,
        )
        data, *h_n = fn(*args)
        y, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, perm, packed.unsorted_indices),
            batch_first=True,
            total_length=steps,
        )
        h_n = [h.index_select(1, packed.unsorted_indices) for h in h_n]
    if order is not None:
        y = torch.zeros_like(y).scatter(1, order[..., None].expand(-1, -1, y.shape[2]), y)
    if lengths is not None:
        real = lengths > 0
        y = y * mask[..., None] if mask is not None else y
        h_n = [
            torch.where(real[None, :, None], h, h_init)
            for h, h_init in zip(h_n, (h0, hx[1]) if mode == "lstm" else (h0,))
        ]
    if mode == "lstm":
        finals = [LSTMState(h_n[0][d], h_n[1][d]) for d in range(len(layers))]
    else:
        finals = [RNNState(h_n[0][d]) for d in range(len(layers))]
    return y, finals
