r"""The scans of the linear-recurrence cells (minGRU, minLSTM, LRU), behind one API.

Every step of these cells is :math:`h_t = a_t \odot h_{t-1} + b_t` with :math:`a_t, b_t`
functions of :math:`x_t` only (:meth:`deeprnn.cells.ParallelCell.coefficients`); a masked step
is :math:`a_t = 1, b_t = 0`, so it keeps the state. :func:`parallel_scan` runs a
:class:`~deeprnn.layers.Recurrent` of such a cell with one of three kernels
(:func:`deeprnn.kernels.dispatch.choose` picks):

* ``"parallel_scan"`` — :func:`linear_scan`, the associative scan in torch: :math:`\lceil\log_2
  T\rceil` rounds of :math:`(A, B)_t \leftarrow (A_t A_{t-s},\ A_t B_{t-s} + B_t)` for
  :math:`s = 1, 2, 4, \dots`, then :math:`h_t = A_t h_0 + B_t`. Every round is a parallel pass
  over (N, T, H); autograd differentiates it. It multiplies coefficients of modulus at most 1
  and never divides, so it needs no log space (the paper's log-space form,
  ``logcumsumexp``, exists for the same reason) and takes any sign of :math:`h_0` and
  :math:`b_t`; complex for the LRU.
* ``"compiled_scan"`` — the CPU kernels in ``csrc/parallel_scan.cpp``: the gates and the scan
  in one pass forward (from the projections ``xp``), one pass backward, with the hand-written
  gradients below; each thread scans a block of rows over the whole sequence (the units are
  independent over time). Built just in time like :mod:`deeprnn.kernels.compiled`
  (``DEEPRNN_COMPILED=0`` turns it off; a failed build warns once and the parallel scan runs).
* ``"triton_scan"`` — the same fused passes as Triton kernels on CUDA
  (:mod:`deeprnn.kernels.triton_scan`, same entry points, run by the same autograd Functions
  below): one program per (row block, unit block) loops over time.

Backward of one step, given :math:`\bar h_t` (the output's gradient plus what flows back from
:math:`t+1`): minGRU :math:`\bar k = \bar h_t (\tilde h_t - h_{t-1}) z(1-z)`, :math:`\bar c =
\bar h_t z g'(c)`, :math:`\bar h_{t-1} = \bar h_t (1-z)`; minLSTM with :math:`s = f + i`,
:math:`r = \bar h_t (h_{t-1} - \tilde h_t) / s^2`: :math:`\bar k_f = i r f(1-f)`, :math:`\bar
k_i = -f r i(1-i)`, :math:`\bar c = \bar h_t (i/s) g'(c)`, :math:`\bar h_{t-1} = \bar h_t f/s`;
LRU :math:`\bar s_{t-1} = \bar\lambda\,\bar s_t`, :math:`\bar\lambda \mathrel{+}= \bar s_t
\overline{s_{t-1}}`, :math:`\bar u_t = \gamma \bar s_t`, :math:`\bar\gamma \mathrel{+}=
\mathrm{Re}(\bar s_t \bar u_t)` (written in real arithmetic in the kernel).
"""

from __future__ import annotations

import threading

import torch
from torch import Tensor

from deeprnn._validation import autocast_enabled
from deeprnn.kernels import compiled

KINDS = frozenset({"mingru", "minlstm", "lru"})
_lock = threading.Lock()
_state: dict = {"module": None, "tried": False, "error": None}


# -- the parallel scan in torch ----------------------------------------------------------------
def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    r"""All :math:`h_t = a_t h_{t-1} + b_t` over dim 1 at once: ``a`` broadcastable to ``b``
    (N, T, H), ``h0`` (N, H); real or complex. Returns (N, T, H)."""
    a = a.expand_as(b)
    steps, s = b.shape[1], 1
    while s < steps:  # Hillis-Steele: after the round, (a_t, b_t) compose steps t-2s+1 .. t
        b = torch.cat([b[:, :s], a[:, s:] * b[:, :-s] + b[:, s:]], dim=1)
        a = torch.cat([a[:, :s], a[:, s:] * a[:, :-s]], dim=1)
        s *= 2
    return a * h0[:, None] + b


def _torch_states(cell, xp: Tensor, mask: Tensor | None, h0: Tensor, reverse: bool) -> Tensor:
    """hs (N, T, S) with the parallel scan: S = H, or 2H ([re | im]) for the LRU."""
    a, b = cell.coefficients(xp)  # (N, T, H) each (a: (H,) for the LRU), complex for the LRU
    lru = cell.scan_kind == "lru"
    if lru:
        hidden = cell.hidden_size
        h0 = torch.complex(h0[:, :hidden], h0[:, hidden:])
    a = a.expand_as(b)
    if mask is not None:
        m = mask[..., None]  # (N, T, 1)
        a = torch.where(m, a, torch.ones_like(a))
        b = torch.where(m, b, torch.zeros_like(b))
    if reverse:
        a, b = a.flip(1), b.flip(1)
    hs = linear_scan(a, b, h0)
    if reverse:
        hs = hs.flip(1)
    return torch.cat([hs.real, hs.imag], dim=-1) if lru else hs  # (N, T, S)


# -- the compiled kernels ----------------------------------------------------------------------
def _build():
    return compiled.build_extension("deeprnn_parallel_scan", ("parallel_scan.cpp",))


def load():
    """The built extension, or None (``DEEPRNN_COMPILED=0``, ``compiled.disabled()``, or the
    build failed: warned once with :class:`~deeprnn.kernels.compiled.CompiledKernelWarning`)."""
    return compiled.load_once(
        _state, _lock, _build, "parallel-recurrence scans", "the torch parallel scan"
    )


def unsupported_reason(cell, x: Tensor) -> str | None:
    """Why the compiled scan cannot run ``cell`` on ``x``, or None."""
    if x.device.type != "cpu":
        return f"{x.device.type} tensors (the compiled scans are CPU only)"
    if x.dtype not in compiled.DTYPES or any(p.dtype != x.dtype for p in cell.parameters()):
        return f"dtype {x.dtype} (the compiled scans take float32 / float64 throughout)"
    if autocast_enabled("cpu"):
        return "under autocast (the compiled scans take float32 / float64 throughout)"
    if compiled.tracing():
        return "traced (torch.compile / export see the parallel scan)"
    if load() is None:
        return f"not built ({_state['error'] or 'DEEPRNN_COMPILED=0 or compiled.disabled()'})"
    return None


#: how many scans went through the compiled kernels (tests read it; the Triton kernels count
#: theirs in :data:`deeprnn.kernels.triton_scan.calls`)
calls = {"forward": 0, "backward": 0}


class _CompiledOps:
    """The compiled extension's four entry points, counted in :data:`calls`."""

    @staticmethod
    def min_scan_forward(*args):
        calls["forward"] += 1
        return load().min_scan_forward(*args)

    @staticmethod
    def min_scan_backward(*args):
        calls["backward"] += 1
        return load().min_scan_backward(*args)

    @staticmethod
    def lru_scan_forward(*args):
        calls["forward"] += 1
        return load().lru_scan_forward(*args)

    @staticmethod
    def lru_scan_backward(*args):
        calls["backward"] += 1
        return load().lru_scan_backward(*args)


def _ops(kernel: str):
    """The four scan entry points of ``kernel`` (``"compiled_scan"`` or ``"triton_scan"``),
    with the signatures of ``csrc/parallel_scan.cpp``."""
    if kernel == "triton_scan":
        from deeprnn.kernels import triton_scan

        return triton_scan
    return _CompiledOps


class _MinScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, h0, mask, kind, reverse, use_g, ops):
        hs = ops.min_scan_forward(kind, xp, h0, mask, reverse, use_g)
        ctx.save_for_backward(xp, hs, h0, mask)
        ctx.flags = (kind, reverse, use_g)
        ctx.ops = ops
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        xp, hs, h0, mask = ctx.saved_tensors
        kind, reverse, use_g = ctx.flags
        d_hs = d_hs.contiguous()
        d_xp, d_h0 = ctx.ops.min_scan_backward(kind, d_hs, xp, hs, h0, mask, reverse, use_g)
        return d_xp, d_h0, None, None, None, None, None


class _LRUScan(torch.autograd.Function):
    """The LRU's scan and its readout ``y = hs W_out^T + D x`` in one Function: ``(y, hs)``."""

    @staticmethod
    def forward(ctx, xp, h0, lam_re, lam_im, gamma, w_out, mask, reverse, ops):
        hs = ops.lru_scan_forward(xp, h0, mask, lam_re, lam_im, gamma, reverse)  # (N, T, 2H)
        y = torch.matmul(hs, w_out.t()).add_(xp[..., 2 * w_out.shape[0] :])  # (N, T, H)
        ctx.save_for_backward(xp, hs, h0, lam_re, lam_im, gamma, w_out, mask)
        ctx.reverse = reverse
        ctx.ops = ops
        return y, hs

    @staticmethod
    def backward(ctx, d_y, d_hs):
        xp, hs, h0, lr, li, gamma, w_out, mask = ctx.saved_tensors
        d_y = d_y.contiguous()
        d_s = torch.matmul(d_y, w_out).add_(d_hs)  # (N, T, 2H)
        d_w = d_y.flatten(0, 1).t().mm(hs.flatten(0, 1))  # (H, 2H)
        grads = ctx.ops.lru_scan_backward(d_s, d_y, xp, hs, h0, mask, lr, li, gamma, ctx.reverse)
        return (*grads, d_w, None, None, None)


def _fused_states(cell, xp: Tensor, mask: Tensor | None, h0: Tensor, reverse: bool, kernel: str):
    """``(hs, out)``: the states of the fused scan ``kernel`` (``"compiled_scan"`` on CPU,
    ``"triton_scan"`` on CUDA), and the LRU's outputs (None: the states)."""
    ops = _ops(kernel)
    xp, h0 = xp.contiguous(), h0.contiguous()
    mask = None if mask is None else mask.contiguous()
    if cell.scan_kind == "lru":
        lr, li = cell.lam()
        gamma = torch.exp(cell.gamma_log)
        y, hs = _LRUScan.apply(xp, h0, lr, li, gamma, cell.weight_out, mask, reverse, ops)
        return hs, y
    use_g = cell.candidate == "g"
    return _MinScan.apply(xp, h0, mask, cell.scan_kind, reverse, use_g, ops), None


# -- the layer's call --------------------------------------------------------------------------
def parallel_scan(layer, x: Tensor, mask: Tensor | None, state, kernel: str):
    """Run ``layer`` (a Recurrent of a linear-recurrence cell) over ``x`` (N, T, I) with
    ``mask`` (N, T) or None from ``state``: ``(out (N, T, H), final state)``, outputs 0 at
    masked steps, the final state that of each row's last real step."""
    cell = layer.cell
    xp = cell.project_input(x)  # (N, T, G*H): one GEMM for every step's gates
    lru = cell.scan_kind == "lru"
    h0 = torch.cat([state.re, state.im], dim=-1) if lru else state.h  # (N, S)
    if kernel in ("compiled_scan", "triton_scan"):
        hs, out = _fused_states(cell, xp, mask, h0, layer.go_backwards, kernel)  # (N, T, S)
    else:
        hs, out = _torch_states(cell, xp, mask, h0, layer.go_backwards), None
    if out is None:
        out = cell.readout(hs, xp)  # (N, T, H)
    if mask is not None:
        out = out * mask[..., None]
    last = hs[:, 0] if layer.go_backwards else hs[:, -1]  # masked steps carry the state
    if not lru:
        return out, type(state)(last)
    hidden = cell.hidden_size
    steps = x.shape[1]
    if mask is None:
        y = out[:, 0] if layer.go_backwards else out[:, -1]  # (N, H)
    else:  # the output at each row's last real step in scan order; h0 for an empty row
        pos = torch.arange(steps, device=x.device)
        if layer.go_backwards:
            index = torch.where(mask, pos, steps).amin(dim=1).clamp(max=steps - 1)  # (N,)
        else:
            index = torch.where(mask, pos, -1).amax(dim=1).clamp(min=0)  # (N,)
        y = out.gather(1, index[:, None, None].expand(-1, 1, hidden)).squeeze(1)  # (N, H)
        y = torch.where(mask.any(dim=1, keepdim=True), y, state.h)
    return out, type(state)(y, last[:, :hidden], last[:, hidden:])


__all__ = ["KINDS", "calls", "linear_scan", "load", "parallel_scan", "unsupported_reason"]
