"""Dispatch plain configurations to torch's fused RNN ops (cuDNN on GPU, oneDNN on CPU).

The layer's own parameters are handed to ``torch._VF.lstm / gru / rnn_tanh / rnn_relu`` as they
are — no per-call copies. LSTM and SimpleRNN keep one bias (Keras); torch adds ``b_hh`` to it,
so a zero tensor stands in for ``b_hh``.

Variable lengths. Each row's real steps are first gathered into scan order — a stable
compaction (a masked step carries the state, so skipping it is exact), reversed for a backward
scan — giving a post-padded batch. Then:

* on CUDA, a packed sequence (cuDNN runs those natively);
* on CPU, where oneDNN has no packed kernel and torch's fallback is about 2x slower, the batch is
  sorted by length and scanned in segments between consecutive distinct lengths, each segment a
  fused call over the rows still running, carrying ``(h, c)`` across: exact final states, and no
  work on padding.

Empty rows (which torch rejects) keep their initial state and output zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from deeprnn._validation import autocast_enabled
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


def _op(cell):
    if isinstance(cell, LSTMCell):
        return torch._VF.lstm
    if isinstance(cell, GRUCell):
        return torch._VF.gru
    return torch._VF.rnn_tanh if cell.activation == "tanh" else torch._VF.rnn_relu


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
    real_key = steps - 1 - pos if backwards else pos
    return torch.where(mask, real_key, steps + pos).argsort(dim=1, stable=True)


def _gather_time(x: Tensor, order: Tensor) -> Tensor:
    return x.gather(1, order[..., None].expand(-1, -1, x.shape[2]))


def _scatter_time(y: Tensor, order: Tensor) -> Tensor:
    return torch.zeros_like(y).scatter(1, order[..., None].expand(-1, -1, y.shape[2]), y)


def _segments(op, x: Tensor, lengths: Tensor, hx: list[Tensor], weights, has_biases: bool):
    """Post-padded ``x`` (N, T, I): scan rows sorted by length, segment by segment."""
    batch, steps, _ = x.shape
    rows = lengths.argsort(descending=True, stable=True)
    inverse = rows.argsort()
    xs = x.index_select(0, rows)
    sorted_lengths = lengths.index_select(0, rows).tolist()
    state = [h.index_select(1, rows) for h in hx]  # each (1, N, H)
    outs = []
    start = 0
    for end in sorted(set(sorted_lengths)):
        if end == 0:
            continue
        active = sum(1 for n in sorted_lengths if n >= end)
        hx_seg = tuple(s[:, :active] for s in state) if len(state) == 2 else state[0][:, :active]
        seg = xs[:active, start:end].transpose(0, 1)  # time-major: oneDNN's fast layout
        y, *h_n = op(seg, hx_seg, weights, has_biases, 1, 0.0, False, False, False)
        outs.append(
            F.pad(y.transpose(0, 1), (0, 0, 0, 0, 0, batch - active))
        )  # (N, end - start, H)
        state = [torch.cat([h, s[:, active:]], dim=1) for h, s in zip(h_n, state)]
        start = end
    hidden = hx[0].shape[2]
    if start < steps:
        outs.append(x.new_zeros(batch, steps - start, hidden))
    y = torch.cat(outs, dim=1).index_select(0, inverse)
    return y, [s.index_select(1, inverse) for s in state]


def _packed(op, x: Tensor, lengths: Tensor, hx: list[Tensor], weights, has_biases: bool):
    steps = x.shape[1]
    packed = pack_padded_sequence(
        x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
    )
    perm = packed.sorted_indices
    hx_sorted = [h.index_select(1, perm) for h in hx]
    hx_arg = tuple(hx_sorted) if len(hx) == 2 else hx_sorted[0]
    data, *h_n = op(
        packed.data, packed.batch_sizes, hx_arg, weights, has_biases, 1, 0.0, False, False
    )
    y, _ = pad_packed_sequence(
        PackedSequence(data, packed.batch_sizes, perm, packed.unsorted_indices),
        batch_first=True,
        total_length=steps,
    )
    h_n = [h.index_select(1, packed.unsorted_indices) for h in h_n]
    real = (lengths > 0)[None, :, None]  # empty rows ran one dummy step: restore their state
    return y, [torch.where(real, h, h0) for h, h0 in zip(h_n, hx)]


def _states(cell, h_n: list[Tensor], direction: int):
    if isinstance(cell, LSTMCell):
        return LSTMState(h_n[0][direction], h_n[1][direction])
    return RNNState(h_n[0][direction])


def torch_scan(layers, x: Tensor, mask: Tensor | None, states: list):
    """Run one Recurrent, or a forward/backward pair, through torch's fused op.

    Returns ``(out (N, T, D*H), [final states])``; ``out`` is zero at masked steps.

    Under CUDA autocast torch's own policy applies (cuDNN runs the RNN in float16). Other
    devices have no mixed-precision RNN kernel (oneDNN fails on mixed dtypes), so under their
    autocast the scan runs in the parameters' dtype with autocast off.
    """
    device = x.device.type
    if device != "cuda" and autocast_enabled(device):
        dtype = layers[0].cell.weight_hh.dtype
        states = [type(s)(*(t.to(dtype) for t in s)) for s in states]
        with torch.autocast(device, enabled=False):
            return _torch_scan(layers, x.to(dtype), mask, states)
    return _torch_scan(layers, x, mask, states)


def _torch_scan(layers, x: Tensor, mask: Tensor | None, states: list):
    cell = layers[0].cell
    op = _op(cell)
    has_biases = cell.use_bias
    batch, steps, _ = x.shape
    full = mask is None or bool(mask.all())
    if full and not any(layer.go_backwards for layer in layers[:1]):
        # one call, both directions at once when bidirectional
        weights = [w for layer in layers for w in _flat_weights(layer.cell)]
        h0 = torch.stack([s.h for s in states])  # (D, N, H)
        hx = (h0, torch.stack([s.c for s in states])) if isinstance(cell, LSTMCell) else h0
        # time-major in and out (views both ways): oneDNN is up to ~1.7x faster than with
        # batch_first=True at long T, and the next layer receives time-major memory again
        y, *h_n = op(
            x.transpose(0, 1), hx, weights, has_biases, 1, 0.0, False, len(layers) == 2, False
        )
        return y.transpose(0, 1), [_states(cell, h_n, d) for d in range(len(layers))]
    if mask is None:
        mask = torch.ones(batch, steps, dtype=torch.bool, device=x.device)
    lengths = mask.sum(dim=1)
    prefix = torch.arange(steps, device=x.device)[None] < lengths[:, None]
    is_prefix = bool(torch.equal(prefix, mask))
    outs, finals = [], []
    for layer, state in zip(layers, states):
        order = (
            None
            if (is_prefix and not layer.go_backwards)
            else _processing_order(mask, layer.go_backwards)
        )
        xo = x if order is None else _gather_time(x, order)
        hx = [t[None] for t in state]  # (1, N, H) each
        scan = _packed if x.is_cuda else _segments
        y, h_n = scan(op, xo, lengths, hx, _flat_weights(layer.cell), has_biases)
        y = y if order is None else _scatter_time(y, order)
        outs.append(y * mask[..., None])
        finals.append(_states(cell, h_n, 0))
    return (outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)), finals
