r"""Triton kernels for the scans of minGRU, minLSTM and the LRU on CUDA, forward and backward
(the GPU counterpart of ``csrc/parallel_scan.cpp``, with the same four entry points, arguments
and results, so that the autograd Functions of :mod:`deeprnn.kernels.parallel` run either).

Every step is :math:`h_t = a_t \odot h_{t-1} + b_t` with the gates fused in, read from the
input projections ``xp`` (N, T, G·H):

* minGRU (``xp`` = [k | c]): :math:`z = \sigma(k)`, :math:`h_t = (1-z) h_{t-1} + z\,g(c)`;
* minLSTM (``xp`` = [k_f | k_i | c]): :math:`f, i = \sigma(k_f), \sigma(k_i)`, :math:`s = f+i`,
  :math:`h_t = (f/s) h_{t-1} + (i/s) g(c)`;
* LRU (``xp`` = [u_re | u_im | D x], state [re | im] (N, T, 2H), :math:`\lambda` = (lam_re,
  lam_im), :math:`\gamma` (H,)): :math:`s_t = \lambda s_{t-1} + \gamma u_t` in real arithmetic,
  :math:`re' = \lambda_r re - \lambda_i im + \gamma u_{re}`, :math:`im' = \lambda_r im +
  \lambda_i re + \gamma u_{im}`;

with :math:`g(c) = c + \tfrac12` (:math:`c \ge 0`), :math:`\sigma(c)` (:math:`c < 0`) when
``use_g``, else :math:`g(c) = c`. A masked step (``mask`` (N, T) False) keeps the state;
``reverse`` scans :math:`t = T-1, \dots, 0`. The backward passes are the hand-written ones of
the module docstring of :mod:`deeprnn.kernels.parallel`, run from the last step in scan order
to the first with the carried gradient :math:`\bar h` in registers; the LRU's per-row sums of
:math:`\bar\lambda, \bar\gamma` are written (N, 3H) and summed over rows by torch (no atomics,
so the result is deterministic).

Scheme: one program per (row block, unit block) tile, a sequential loop over the T steps
inside it, vector loads over the units (one element per thread). The recurrence is diagonal,
so each (n, h) is an independent chain over time: the loop does one multiply-add per element
and step and reads every input once, whereas the associative scan
(:func:`deeprnn.kernels.parallel.linear_scan`) moves the whole (N, T, H) tensor
:math:`\log_2 T` times. The loop's parallelism is N·H threads. When that fills the GPU (tens
of thousands of threads and more) the loop runs at memory bandwidth; below that, as at N = 16,
H = 256 (4,096 threads, a warp or so per SM on an H100), each step costs about one memory
round trip (of the order of a microsecond), still far below a cuDNN LSTM step, but not the
bandwidth bound. A chunked scan (chunks of T scanned in parallel with ``tl.associative_scan``,
their carries joined) would add parallelism there — not built; ``impl="parallel"`` runs the
associative scan in torch. The tile sizes (:data:`BLOCK_H_MAX`, :data:`BLOCK_ELEMS`) are first
guesses: nothing here has been run or timed on a GPU.

float32 and float64, like the compiled CPU kernels (float16 / bfloat16 and autocast take the
torch scan: :func:`unsupported_reason`). Without triton the module still imports
(:data:`HAS_TRITON` False). :func:`available`: CUDA tensors, or CPU tensors when the kernels
were built under ``TRITON_INTERPRET=1`` (the tests).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from deeprnn._validation import autocast_enabled
from deeprnn.kernels import compiled
from deeprnn.kernels.triton_pointwise import HAS_TRITON, INTERPRET

if HAS_TRITON:
    import triton
    import triton.language as tl

#: widest unit block of a tile; tests lower it to cover several blocks and a partial one
BLOCK_H_MAX = 32
#: elements per tile (rows fill it when H is narrow); tests lower it to cover several row blocks
BLOCK_ELEMS = 64
DTYPES = (torch.float32, torch.float64)
_GATES = {"mingru": 2, "minlstm": 3}
#: how many scans went through the Triton kernels (tests read it)
calls = {"forward": 0, "backward": 0}


def available(t: Tensor) -> bool:
    """True when the kernels can run on ``t`` (its device and dtype)."""
    if not HAS_TRITON or t.dtype not in DTYPES:
        return False
    return t.device.type == ("cpu" if INTERPRET else "cuda")


def unsupported_reason(cell, x: Tensor) -> str | None:
    """Why the Triton scan cannot run ``cell`` (a linear-recurrence cell) on ``x``, or None."""
    if not HAS_TRITON:
        return "triton is not installed"
    if x.device.type != ("cpu" if INTERPRET else "cuda"):
        return f"{x.device.type} tensors (the Triton scans run on CUDA)"
    if x.dtype not in DTYPES or any(p.dtype != x.dtype for p in cell.parameters()):
        return f"dtype {x.dtype} (the Triton scans take float32 / float64 throughout)"
    if autocast_enabled(x.device.type):
        return "under autocast (the Triton scans take float32 / float64 throughout)"
    if compiled.tracing():
        return "traced (torch.compile / export see the parallel scan)"
    return None


if HAS_TRITON:

    @triton.jit
    def _sigmoid(x):  # the formula of triton_pointwise (tl.sigmoid is built at import time)
        return 1 / (1 + tl.exp(-x))

    @triton.jit
    def _cand(c, USE_G: tl.constexpr):
        """``(g(c), g'(c))``: the paper's g with ``USE_G``, else the identity."""
        if USE_G:
            s = _sigmoid(c)
            pos = c >= 0
            return tl.where(pos, c + 0.5, s), tl.where(pos, c * 0 + 1, s - s * s)
        return c, c * 0 + 1

    @triton.jit
    def _tile(N, H, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):
        """Rows (N, 1) as int64 (the offsets of long sequences pass 2**31), units (1, H) and
        which of the tile's elements exist."""
        rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
        cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
        valid = (rows[:, None] < N) & (cols[None, :] < H)
        return rows.to(tl.int64)[:, None], cols[None, :], valid

    @triton.jit
    def _step(k, T, REVERSE: tl.constexpr):
        """The time index of scan step ``k`` and of the step before it in scan order (clamped
        into the sequence, so that its load stays in bounds; the value counts for k > 0 only)."""
        if REVERSE:
            t = T - 1 - k
            return t, tl.minimum(t + 1, T - 1)
        return k, tl.maximum(k - 1, 0)

    @triton.jit
    def _kept(mask, rows, T, t, N, HAS_MASK: tl.constexpr):
        """(N, 1): whether step t is real (True without a mask)."""
        if HAS_MASK:
            return tl.load(mask + rows * T + t, mask=rows < N, other=0) != 0
        return rows >= 0

    @triton.jit
    def _min_fwd_kernel(
        xp, h0, mask, hs, N, T, H,
        KIND: tl.constexpr, GATES: tl.constexpr, USE_G: tl.constexpr, REVERSE: tl.constexpr,
        HAS_MASK: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        rows, cols, v = _tile(N, H, BLOCK_N, BLOCK_H)
        prev = tl.load(h0 + rows * H + cols, mask=v, other=0)
        for k in range(0, T):
            t, _ = _step(k, T, REVERSE)
            x = xp + (rows * T + t) * (GATES * H) + cols
            if KIND == 0:  # minGRU
                z = _sigmoid(tl.load(x, mask=v, other=0))
                c, _ = _cand(tl.load(x + H, mask=v, other=0), USE_G)
                h = (1 - z) * prev + z * c
            else:  # minLSTM
                f = _sigmoid(tl.load(x, mask=v, other=0))
                i = _sigmoid(tl.load(x + H, mask=v, other=0))
                s = f + i
                c, _ = _cand(tl.load(x + 2 * H, mask=v, other=0), USE_G)
                h = f / s * prev + i / s * c
            h = tl.where(_kept(mask, rows, T, t, N, HAS_MASK), h, prev)
            tl.store(hs + (rows * T + t) * H + cols, h, mask=v)
            prev = h

    @triton.jit
    def _min_bwd_kernel(
        d_hs, xp, hs, h0, mask, d_xp, d_h0, N, T, H,
        KIND: tl.constexpr, GATES: tl.constexpr, USE_G: tl.constexpr, REVERSE: tl.constexpr,
        HAS_MASK: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        rows, cols, v = _tile(N, H, BLOCK_N, BLOCK_H)
        first = tl.load(h0 + rows * H + cols, mask=v, other=0)
        carry = first * 0  # the gradient flowing back from the next step in scan order
        for j in range(0, T):
            k = T - 1 - j
            t, tp = _step(k, T, REVERSE)
            prev = tl.load(hs + (rows * T + tp) * H + cols, mask=v, other=0)
            prev = tl.where(k > 0, prev, first)
            g = tl.load(d_hs + (rows * T + t) * H + cols, mask=v, other=0) + carry
            x = xp + (rows * T + t) * (GATES * H) + cols
            dx = d_xp + (rows * T + t) * (GATES * H) + cols
            m = _kept(mask, rows, T, t, N, HAS_MASK)
            if KIND == 0:  # minGRU
                z = _sigmoid(tl.load(x, mask=v, other=0))
                c, cg = _cand(tl.load(x + H, mask=v, other=0), USE_G)
                tl.store(dx, tl.where(m, g * (c - prev) * z * (1 - z), 0), mask=v)
                tl.store(dx + H, tl.where(m, g * z * cg, 0), mask=v)
                carry = tl.where(m, g * (1 - z), g)
            else:  # minLSTM
                f = _sigmoid(tl.load(x, mask=v, other=0))
                i = _sigmoid(tl.load(x + H, mask=v, other=0))
                s = f + i
                c, cg = _cand(tl.load(x + 2 * H, mask=v, other=0), USE_G)
                r = (g * prev - g * c) / (s * s)  # d/d(f'), d/d(i') and the normalisation
                tl.store(dx, tl.where(m, i * r * f * (1 - f), 0), mask=v)
                tl.store(dx + H, tl.where(m, -f * r * i * (1 - i), 0), mask=v)
                tl.store(dx + 2 * H, tl.where(m, g * i / s * cg, 0), mask=v)
                carry = tl.where(m, g * f / s, g)
        tl.store(d_h0 + rows * H + cols, carry, mask=v)

    @triton.jit
    def _lru_start(lam_re, lam_im, gamma, h0, rows, cols, v, H):
        """The LRU's per-unit lambda (re, im) and gamma, and h0 (re, im) of a tile."""
        lr = tl.load(lam_re + cols, mask=cols < H, other=0)
        li = tl.load(lam_im + cols, mask=cols < H, other=0)
        ga = tl.load(gamma + cols, mask=cols < H, other=0)
        re = tl.load(h0 + rows * (2 * H) + cols, mask=v, other=0)
        im = tl.load(h0 + rows * (2 * H) + H + cols, mask=v, other=0)
        return lr, li, ga, re, im

    @triton.jit
    def _lru_fwd_kernel(
        xp, h0, mask, lam_re, lam_im, gamma, hs, N, T, H,
        REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
        BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        rows, cols, v = _tile(N, H, BLOCK_N, BLOCK_H)
        lr, li, ga, re, im = _lru_start(lam_re, lam_im, gamma, h0, rows, cols, v, H)
        for k in range(0, T):
            t, _ = _step(k, T, REVERSE)
            u = xp + (rows * T + t) * (3 * H) + cols
            new_re = lr * re - li * im + ga * tl.load(u, mask=v, other=0)
            new_im = lr * im + li * re + ga * tl.load(u + H, mask=v, other=0)
            m = _kept(mask, rows, T, t, N, HAS_MASK)
            re = tl.where(m, new_re, re)
            im = tl.where(m, new_im, im)
            s = hs + (rows * T + t) * (2 * H) + cols
            tl.store(s, re, mask=v)
            tl.store(s + H, im, mask=v)

    @triton.jit
    def _lru_bwd_kernel(
        d_hs, xp, hs, h0, mask, lam_re, lam_im, gamma, d_xp, d_h0, d_par, N, T, H,
        REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
        BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        rows, cols, v = _tile(N, H, BLOCK_N, BLOCK_H)
        lr, li, ga, first_re, first_im = _lru_start(lam_re, lam_im, gamma, h0, rows, cols, v, H)
        zero = first_re * 0
        c_re, c_im, d_lr, d_li, d_ga = zero, zero, zero, zero, zero
        for j in range(0, T):
            k = T - 1 - j
            t, tp = _step(k, T, REVERSE)
            p = hs + (rows * T + tp) * (2 * H) + cols
            re = tl.where(k > 0, tl.load(p, mask=v, other=0), first_re)
            im = tl.where(k > 0, tl.load(p + H, mask=v, other=0), first_im)
            ds = d_hs + (rows * T + t) * (2 * H) + cols
            g_re = tl.load(ds, mask=v, other=0) + c_re
            g_im = tl.load(ds + H, mask=v, other=0) + c_im
            u = xp + (rows * T + t) * (3 * H) + cols
            u_re = tl.load(u, mask=v, other=0)
            u_im = tl.load(u + H, mask=v, other=0)
            m = _kept(mask, rows, T, t, N, HAS_MASK)
            dx = d_xp + (rows * T + t) * (3 * H) + cols
            tl.store(dx, tl.where(m, ga * g_re, 0), mask=v)
            tl.store(dx + H, tl.where(m, ga * g_im, 0), mask=v)
            d_ga += tl.where(m, g_re * u_re + g_im * u_im, 0)
            d_lr += tl.where(m, g_re * re + g_im * im, 0)
            d_li += tl.where(m, g_im * re - g_re * im, 0)
            c_re = tl.where(m, lr * g_re + li * g_im, g_re)
            c_im = tl.where(m, lr * g_im - li * g_re, g_im)
        tl.store(d_h0 + rows * (2 * H) + cols, c_re, mask=v)
        tl.store(d_h0 + rows * (2 * H) + H + cols, c_im, mask=v)
        par = d_par + rows * (3 * H) + cols
        tl.store(par, d_lr, mask=v)
        tl.store(par + H, d_li, mask=v)
        tl.store(par + 2 * H, d_ga, mask=v)


# -- wrappers: the signatures of the compiled extension ------------------------------------------
def _check(xp: Tensor, h0: Tensor, mask: Tensor | None, gates: int, width: int) -> int:
    """Validate the kernels' inputs (contiguous, one dtype and device); returns H."""
    if xp.dim() != 3 or xp.shape[2] % gates or not available(xp):
        raise ValueError(
            f"xp must be an (N, T, {gates}*H) float32 / float64 tensor where the Triton scans "
            f"run, got {tuple(xp.shape)} {xp.dtype} on {xp.device}"
        )
    hidden = xp.shape[2] // gates
    if h0.shape != (xp.shape[0], width * hidden) or h0.dtype != xp.dtype:
        raise ValueError(
            f"h0 must be ({xp.shape[0]}, {width * hidden}) of xp's dtype {xp.dtype}, got "
            f"{tuple(h0.shape)} {h0.dtype}"
        )
    if mask is not None and (mask.dtype != torch.bool or mask.shape != xp.shape[:2]):
        raise ValueError(
            f"mask must be a ({xp.shape[0]}, {xp.shape[1]}) bool tensor, got "
            f"{tuple(mask.shape)} {mask.dtype}"
        )
    return hidden


def _launch(kernel, args, N: int, T: int, H: int, **flags) -> None:
    """Launch ``kernel`` over the (row block, unit block) grid: ``args`` its tensor arguments
    in order (contiguous; the mask as uint8 or None), then N, T, H."""
    if N == 0 or T == 0 or H == 0:
        return
    like = args[0]
    args = [like if a is None else a.contiguous() for a in args]
    args = [a.view(torch.uint8) if a.dtype == torch.bool else a for a in args]
    block_h = min(triton.next_power_of_2(H), BLOCK_H_MAX)
    block_n = min(triton.next_power_of_2(N), max(1, BLOCK_ELEMS // block_h))
    grid = (triton.cdiv(N, block_n), triton.cdiv(H, block_h))
    warps = max(1, min(4, block_n * block_h // 32))  # one element per thread
    other_gpu = like.is_cuda and like.device.index != torch.cuda.current_device()
    with torch.cuda.device(like.device) if other_gpu else contextlib.nullcontext():
        kernel[grid](*args, N, T, H, BLOCK_N=block_n, BLOCK_H=block_h, num_warps=warps, **flags)


def min_scan_forward(kind: str, xp: Tensor, h0: Tensor, mask: Tensor | None, reverse: bool,
                     use_g: bool) -> Tensor:  # fmt: skip
    """minGRU / minLSTM (``kind``) forward: ``hs`` (N, T, H), the state after every step, from
    ``xp`` (N, T, G·H), ``h0`` (N, H) and ``mask`` (N, T) bool or None."""
    gates = _GATES[kind]
    hidden = _check(xp, h0, mask, gates, 1)
    N, T = xp.shape[:2]
    hs = xp.new_empty(N, T, hidden)  # (N, T, H)
    flags = dict(KIND=gates - 2, GATES=gates, USE_G=use_g, REVERSE=reverse)
    _launch(_min_fwd_kernel, [xp, h0, mask, hs], N, T, hidden, HAS_MASK=mask is not None, **flags)
    calls["forward"] += 1
    return hs


def min_scan_backward(kind: str, d_hs: Tensor, xp: Tensor, hs: Tensor, h0: Tensor,
                      mask: Tensor | None, reverse: bool, use_g: bool) -> list[Tensor]:  # fmt: skip
    """``[d_xp (N, T, G·H), d_h0 (N, H)]`` given ``d_hs`` (N, T, H), the gradient of every
    state (the outputs' and the final state's together)."""
    gates = _GATES[kind]
    hidden = _check(xp, h0, mask, gates, 1)
    N, T = xp.shape[:2]
    d_xp = torch.empty_like(xp)
    d_h0 = torch.zeros_like(h0)  # stays 0 without steps
    flags = dict(KIND=gates - 2, GATES=gates, USE_G=use_g, REVERSE=reverse)
    args = [d_hs, xp, hs, h0, mask, d_xp, d_h0]
    _launch(_min_bwd_kernel, args, N, T, hidden, HAS_MASK=mask is not None, **flags)
    calls["backward"] += 1
    return [d_xp, d_h0]


def lru_scan_forward(xp: Tensor, h0: Tensor, mask: Tensor | None, lam_re: Tensor,
                     lam_im: Tensor, gamma: Tensor, reverse: bool) -> Tensor:  # fmt: skip
    """LRU forward: ``hs`` (N, T, 2H) = [re | im] of the state after every step, from ``xp``
    (N, T, 3H) (its first 2H columns are :math:`u`), ``h0`` (N, 2H), :math:`\\lambda` and
    :math:`\\gamma` (H,) each."""
    hidden = _check(xp, h0, mask, 3, 2)
    N, T = xp.shape[:2]
    hs = xp.new_empty(N, T, 2 * hidden)  # (N, T, 2H)
    args = [xp, h0, mask, lam_re, lam_im, gamma, hs]
    _launch(_lru_fwd_kernel, args, N, T, hidden, REVERSE=reverse, HAS_MASK=mask is not None)
    calls["forward"] += 1
    return hs


def lru_scan_backward(d_hs: Tensor, d_y: Tensor | None, xp: Tensor, hs: Tensor, h0: Tensor,
                      mask: Tensor | None, lam_re: Tensor, lam_im: Tensor, gamma: Tensor,
                      reverse: bool) -> list[Tensor]:  # fmt: skip
    """``[d_xp (N, T, 3H), d_h0 (N, 2H), d_lam_re, d_lam_im, d_gamma (H,)]`` given ``d_hs``
    (N, T, 2H) and ``d_y`` (N, T, H) or None, the outputs' gradient, which is that of the D
    columns of ``xp`` (:math:`y = \\dots + D x`)."""
    hidden = _check(xp, h0, mask, 3, 2)
    N, T = xp.shape[:2]
    d_xp = torch.empty_like(xp)  # (N, T, 3H)
    d_h0 = torch.zeros_like(h0)
    d_par = xp.new_zeros(N, 3 * hidden)  # per-row sums of d lam_re, d lam_im, d gamma
    args = [d_hs, xp, hs, h0, mask, lam_re, lam_im, gamma, d_xp, d_h0, d_par]
    _launch(_lru_bwd_kernel, args, N, T, hidden, REVERSE=reverse, HAS_MASK=mask is not None)
    if d_y is None:
        d_xp[..., 2 * hidden :] = 0
    else:
        d_xp[..., 2 * hidden :] = d_y
    calls["backward"] += 1
    return [d_xp, d_h0, *d_par.sum(0).split(hidden)]


__all__ = [
    "BLOCK_ELEMS",
    "BLOCK_H_MAX",
    "HAS_TRITON",
    "available",
    "calls",
    "lru_scan_backward",
    "lru_scan_forward",
    "min_scan_backward",
    "min_scan_forward",
    "unsupported_reason",
]
