"""Run a deeprnn stack through deeprnn.reference (NumPy float64), forward and backward.

Covers stacks of plain cells with concat/sum/ave merges and nothing between layers (the
reference has no dropout, norms or skips): exactly the cases marked ``reference=True``.
"""

from __future__ import annotations

import numpy as np

from deeprnn import reference as ref
from deeprnn.cells import GRUCell, LSTMCell, MinimalGRUCell, ParallelCell, SimpleRNNCell


def ref_kind(cell) -> tuple[str, str]:
    if isinstance(cell, SimpleRNNCell):
        return "rnn", cell.activation
    if isinstance(cell, LSTMCell):
        return "lstm", "tanh"
    if isinstance(cell, GRUCell):
        return ("gru" if cell.reset_after else "gru_v1"), "tanh"
    if isinstance(cell, MinimalGRUCell):
        return "minimal_gru", "tanh"
    if isinstance(cell, ParallelCell):
        return cell.scan_kind, "tanh"
    raise TypeError(f"no reference for {type(cell).__name__}")


def _np(t):
    return t.detach().double().cpu().numpy()


def blocks_of(module):
    """[(recurrent layers of one block, merge_mode)] for Recurrent/Bidirectional/DeepRNN."""
    from deeprnn.layers import Bidirectional, Recurrent

    blocks = module.blocks if hasattr(module, "blocks") else [module]
    out = []
    for b in blocks:
        if isinstance(b, Bidirectional):
            out.append(([b.forward_layer, b.backward_layer], b.merge_mode))
        else:
            assert isinstance(b, Recurrent)
            out.append(([b], None))
    return out


def reference_forward_backward(module, x, mask, states0, d_out, d_finals, rec_masks=None):
    """Returns (out, finals, grads) with grads = {"x", "state{k}.{field}", "cell{k}.{param}"}."""
    x = _np(x)
    mask_np = None if mask is None else mask.cpu().numpy().astype(bool)
    caches = []
    k = 0
    h = x
    finals = []
    for layers, merge in blocks_of(module):
        outs = []
        for rec in layers:
            kind, act = ref_kind(rec.cell)
            params = {n: _np(p) for n, p in rec.cell.named_parameters()}
            s0 = tuple(_np(t) for t in states0[k])
            rm = None if rec_masks is None else rec_masks[k]
            extra = {"candidate": rec.cell.candidate} if hasattr(rec.cell, "candidate") else {}
            o, fin, cache = ref.forward(
                kind,
                h,
                s0,
                params,
                mask=mask_np,
                reverse=rec.go_backwards,
                rec_mask=rm,
                activation=act,
                **extra,
            )
            outs.append(o)
            finals.append(fin)
            caches.append((cache, merge, len(layers)))
            k += 1
        if merge is None or merge == "concat":
            h = np.concatenate(outs, axis=-1)
        elif merge == "sum":
            h = outs[0] + outs[1]
        elif merge == "ave":
            h = (outs[0] + outs[1]) / 2
        else:
            raise ValueError(merge)
    out = h
    # backward, block by block from the top
    grads = {}
    d_h = _np(d_out)
    idx = len(caches)
    for layers, merge in reversed(blocks_of(module)):
        n = len(layers)
        idx -= n
        if merge is None or merge == "concat":
            parts = np.split(d_h, n, axis=-1)
        elif merge == "sum":
            parts = [d_h, d_h]
        else:
            parts = [d_h / 2, d_h / 2]
        d_x = 0
        for j in range(n):
            kk = idx + j
            cache = caches[kk][0]
            d_fin = tuple(_np(t) for t in d_finals[kk])
            g = ref.backward(cache, parts[j], d_fin)
            d_x = d_x + g["x"]
            for name, val in g.items():
                if name == "x":
                    continue
                if name in ("h0", "c0", "re0", "im0"):
                    grads[f"state{kk}.{name[:-1]}"] = val
                else:
                    grads[f"cell{kk}.{name}"] = val
        d_h = d_x
    grads["x"] = d_h
    return out, finals, grads


def run_against_reference(module, x, mask, dtype):
    """Run ``module`` forward and backward from random initial states with random output and
    final-state gradients, and the NumPy reference with the same inputs: returns
    ``(states0, out, finals, r_out, r_finals, r_grads)`` (``x.grad``, the initial states' and
    the parameters' grads are set)."""
    import torch

    states0 = [
        type(s)(*(torch.randn_like(t).requires_grad_(True) for t in s))
        for s in module.initial_state(len(x), dtype=dtype)
    ]
    out, finals = module(x, mask=mask, initial_state=states0)
    d_out = torch.randn_like(out)
    d_fin = [type(s)(*(torch.randn_like(t) for t in s)) for s in finals]
    loss = (out * d_out).sum() + sum(
        (a * b).sum() for s, ds in zip(finals, d_fin) for a, b in zip(s, ds)
    )
    loss.backward()
    r_out, r_fin, r_grads = reference_forward_backward(module, x, mask, states0, d_out, d_fin)
    return states0, out, finals, r_out, r_fin, r_grads
