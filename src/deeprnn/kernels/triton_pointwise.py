r"""Triton kernels for the elementwise part of one LSTM / GRU step (the GPU counterpart of
:mod:`deeprnn.kernels._pointwise`).

Each function below does in ONE kernel launch what its namesake in ``_pointwise`` does in
several torch ops, with the same arguments, buffers and results (the per-step GEMM stays with
the fused loop of :mod:`deeprnn.kernels.fused`). All row buffers are (N, k*H) with unit column
stride; ``act`` and the states are written in place exactly as the Python kernels write them.

Forward (:math:`\sigma` the logistic function):

* LSTM, ``act`` (N, 5H) holding :math:`a = xp_t + W_{hh} h_{t-1}` in its first 4H columns:
  :math:`i, f, o = \sigma(a_{i,f,o})`, :math:`g = \tanh(a_g)`, :math:`c_t = f c_{t-1} + i g`,
  :math:`h_t = o \tanh(c_t)`; ``act`` keeps i, f, g, o, tanh(c_t); ``new`` = (h_t, c_t).
* GRU (reset-after), ``xp`` (N, 3H), ``hp = W_{hh} h_{t-1} + b_{hh}`` (N, 3H), ``act`` (N, 4H):
  :math:`r, z = \sigma(xp_{r,z} + hp_{r,z})`, :math:`n = \tanh(xp_n + r\, hp_n)`,
  :math:`h_t = n + z (h_{t-1} - n)`; ``act`` keeps r, z, n, hp_n; ``new`` = (h_t,).

Backward (``dxp`` (N, G*H) written in place; :math:`\sigma' = \sigma(1-\sigma)`,
:math:`\tanh' = 1-\tanh^2`):

* LSTM: :math:`\bar c \mathrel{+}= \bar h\, o \tanh'(c_t)`,
  :math:`\bar a = [\bar c g \sigma'(i), \bar c c_{t-1} \sigma'(f), \bar c i \tanh'(g),
  \bar h \tanh(c_t) \sigma'(o)]`, carried :math:`\bar c_{t-1} = \bar c f`.
* GRU: :math:`\bar n = \bar h (1-z) \tanh'(n)`, :math:`\bar z = \bar h (h_{t-1}-n) \sigma'(z)`,
  :math:`\bar r = \bar n\, hp_n \sigma'(r)`; ``dxp`` = [r̄, z̄, n̄], ``dhp`` = [r̄, z̄, n̄ r],
  carried :math:`\bar h_{t-1} = \bar h z` (the direct path, not through ``hp``).

The ``*_fused`` variants also do, in the same launch, what the fused loop does around the cell:
the zoneout mix (training ``new = where(keep, old, new)``, eval ``new.lerp_(old, p)``), the
time-mask carry (``new = where(m, new, old)``, ``out_t = new_h m``) and, backward, their
transposes and the ``d_out`` accumulation. The step kernels recompute the derivative factors
from ``act``, so ``prepare`` only hands the saved buffers on.

Without triton the module still imports (:data:`HAS_TRITON` False). :func:`available`: CUDA
tensors, or CPU tensors when the kernels were built under ``TRITON_INTERPRET=1`` (tests). The
interpreter has no ``libdevice.tanh``, so tanh is Lambert's continued fraction to depth 7 for
:math:`|x| < 0.625` and :math:`(1-e^{-2|x|})/(1+e^{-2|x|})` above (within 3 ulp in float32 and
float64), the same code on both paths; float16 / bfloat16 are computed in float32.
"""

from __future__ import annotations

import contextlib
import os

import torch
from torch import Tensor

from deeprnn.kernels._pointwise import KERNELS

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised where triton is absent
    triton = tl = None
HAS_TRITON = triton is not None
#: whether the kernels below were built for the interpreter (then they run on CPU tensors)
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
#: widest column block; tests lower it to cover several blocks per row
BLOCK_H_MAX = 128
BLOCK_ELEMS = 1024  # elements per program


_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def available(device: Tensor | torch.device | str) -> bool:
    """True when the kernels can run on ``device`` (a tensor: also of a floating dtype they
    take; the interpreter has no bfloat16)."""
    if not HAS_TRITON:
        return False
    if isinstance(device, Tensor):
        if device.dtype not in _DTYPES or (INTERPRET and device.dtype == torch.bfloat16):
            return False
        device = device.device
    kind = torch.device(device).type
    return kind == "cpu" if INTERPRET else kind == "cuda"


if HAS_TRITON:

    @triton.jit
    def _ld(ptr, mask, UPCAST: tl.constexpr):
        x = tl.load(ptr, mask=mask, other=0)
        if UPCAST:  # float16 / bfloat16: compute in float32
            x = x.to(tl.float32)
        return x

    @triton.jit
    def _tanh(x):
        # integer coefficients: exact in every float type (a float literal would be float32)
        s = x * x
        p = ((36 * s + 6930) * s + 270270) * s + 2027025
        q = (((s + 630) * s + 51975) * s + 945945) * s + 2027025
        e = tl.exp(-2 * tl.abs(x))
        big = (1 - e) / (1 + e)
        return tl.where(tl.abs(x) < 0.625, x * p / q, tl.where(x < 0, -big, big))

    @triton.jit
    def _sigmoid(x):  # tl.sigmoid's formula; tl.sigmoid itself is built when triton is imported
        return 1 / (1 + tl.exp(-x))

    @triton.jit
    def _dsig(s):
        return s - s * s

    @triton.jit
    def _tile(N, H, mask, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, HAS_MASK: tl.constexpr):
        """Row offsets (int64), columns, validity and the time mask (1 without one) of a tile."""
        rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
        cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
        valid = (rows[:, None] < N) & (cols[None, :] < H)
        m = 1
        if HAS_MASK:
            m = tl.load(mask + rows, mask=rows < N, other=0)[:, None]
        return rows.to(tl.int64)[:, None], cols[None, :], valid, m

    @triton.jit
    def _keep(ptr, offs, v, ZONEOUT: tl.constexpr):
        k = 0
        if ZONEOUT == 1:
            k = tl.load(ptr + offs, mask=v, other=0)
        return k

    @triton.jit
    def _carry(x, old, keep, m, zp, ZONEOUT: tl.constexpr, HAS_MASK: tl.constexpr):
        """Zoneout mix then time-mask carry of one state, forward."""
        if ZONEOUT == 1:
            x = tl.where(keep != 0, old, x)
        elif ZONEOUT == 2:  # torch.lerp(x, old, p), both of its branches
            p = tl.load(zp).to(x.dtype)
            x = tl.where(p < 0.5, x + p * (old - x), old - (old - x) * tl.load(zp + 1).to(x.dtype))
        if HAS_MASK:
            x = tl.where(m != 0, x, old)
        return x

    @triton.jit
    def _store_out(out, offs, h, m, v, HAS_MASK: tl.constexpr, HAS_OUT: tl.constexpr):
        if HAS_OUT:
            if HAS_MASK:
                h = h * (m != 0).to(h.dtype)
            tl.store(out + offs, h, mask=v)

    @triton.jit
    def _grad_in(ptr, dout, offs, m, v, HAS_MASK: tl.constexpr, HAS_DOUT: tl.constexpr, UPCAST: tl.constexpr):  # fmt: skip
        """The carried gradient plus the gradient of ``out_t`` (times the mask)."""
        d = _ld(ptr, v, UPCAST)
        if HAS_DOUT:
            g = _ld(dout + offs, v, UPCAST)
            if HAS_MASK:
                g = g * (m != 0).to(g.dtype)
            d = d + g
        return d

    @triton.jit
    def _uncarry(d, keep, m, zp, ZONEOUT: tl.constexpr, HAS_MASK: tl.constexpr):
        """Transpose of :func:`_carry`: (gradient into the cell, gradient straight to old)."""
        direct = d * 0
        if HAS_MASK:
            mf = (m != 0).to(d.dtype)
            direct = d * (1 - mf)
            d = d * mf
        if ZONEOUT == 1:
            kf = (keep != 0).to(d.dtype)
            direct = direct + d * kf
            d = d * (1 - kf)
        elif ZONEOUT == 2:
            direct = direct + d * tl.load(zp).to(d.dtype)
            d = d * tl.load(zp + 1).to(d.dtype)
        return d, direct

    @triton.jit
    def _lstm_fwd_kernel(
        act, ph, pc, nh, nc, kh, kc, mask, out, zp,
        N, H, s_act, s_ph, s_pc, s_nh, s_nc, s_kh, s_kc, s_out,
        ZONEOUT: tl.constexpr, HAS_MASK: tl.constexpr, HAS_OUT: tl.constexpr,
        UPCAST: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        r, c, v, m = _tile(N, H, mask, BLOCK_N, BLOCK_H, HAS_MASK)
        a = act + r * s_act + c
        i = _sigmoid(_ld(a, v, UPCAST))
        f = _sigmoid(_ld(a + H, v, UPCAST))
        g = _tanh(_ld(a + 2 * H, v, UPCAST))
        o = _sigmoid(_ld(a + 3 * H, v, UPCAST))
        c_old = _ld(pc + r * s_pc + c, v, UPCAST)
        cell = f * c_old + i * g
        tc = _tanh(cell)
        h = o * tc
        tl.store(a, i, mask=v)
        tl.store(a + H, f, mask=v)
        tl.store(a + 2 * H, g, mask=v)
        tl.store(a + 3 * H, o, mask=v)
        tl.store(a + 4 * H, tc, mask=v)
        if ZONEOUT != 0 or HAS_MASK:
            h_old = _ld(ph + r * s_ph + c, v, UPCAST)
            h = _carry(h, h_old, _keep(kh, r * s_kh + c, v, ZONEOUT), m, zp, ZONEOUT, HAS_MASK)
            k_c = _keep(kc, r * s_kc + c, v, ZONEOUT)
            cell = _carry(cell, c_old, k_c, m, zp, ZONEOUT, HAS_MASK)
        tl.store(nh + r * s_nh + c, h, mask=v)
        tl.store(nc + r * s_nc + c, cell, mask=v)
        _store_out(out, r * s_out + c, h, m, v, HAS_MASK, HAS_OUT)

    @triton.jit
    def _gru_fwd_kernel(
        xp, hp, act, ph, nh, kh, mask, out, zp,
        N, H, s_xp, s_hp, s_act, s_ph, s_nh, s_kh, s_out,
        ZONEOUT: tl.constexpr, HAS_MASK: tl.constexpr, HAS_OUT: tl.constexpr,
        UPCAST: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        r, c, v, m = _tile(N, H, mask, BLOCK_N, BLOCK_H, HAS_MASK)
        x = xp + r * s_xp + c
        y = hp + r * s_hp + c
        a = act + r * s_act + c
        reset = _sigmoid(_ld(x, v, UPCAST) + _ld(y, v, UPCAST))
        z = _sigmoid(_ld(x + H, v, UPCAST) + _ld(y + H, v, UPCAST))
        hn = _ld(y + 2 * H, v, UPCAST)
        n = _tanh(_ld(x + 2 * H, v, UPCAST) + reset * hn)
        h_old = _ld(ph + r * s_ph + c, v, UPCAST)
        h = n + z * (h_old - n)
        tl.store(a, reset, mask=v)
        tl.store(a + H, z, mask=v)
        tl.store(a + 2 * H, n, mask=v)
        tl.store(a + 3 * H, hn, mask=v)
        h = _carry(h, h_old, _keep(kh, r * s_kh + c, v, ZONEOUT), m, zp, ZONEOUT, HAS_MASK)
        tl.store(nh + r * s_nh + c, h, mask=v)
        _store_out(out, r * s_out + c, h, m, v, HAS_MASK, HAS_OUT)

    @triton.jit
    def _lstm_bwd_kernel(
        dh_in, dc_in, dout, mask, kh, kc, act, pc, dxp, dh_prev, dc_prev, zp,
        N, H, s_dh, s_dc, s_dout, s_kh, s_kc, s_act, s_pc, s_dxp, s_dhp, s_dcp,
        ZONEOUT: tl.constexpr, HAS_MASK: tl.constexpr, HAS_DOUT: tl.constexpr,
        UPCAST: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        r, c, v, m = _tile(N, H, mask, BLOCK_N, BLOCK_H, HAS_MASK)
        dh = _grad_in(dh_in + r * s_dh + c, dout, r * s_dout + c, m, v, HAS_MASK, HAS_DOUT, UPCAST)
        k_h = _keep(kh, r * s_kh + c, v, ZONEOUT)
        dh, direct_h = _uncarry(dh, k_h, m, zp, ZONEOUT, HAS_MASK)
        dc = _ld(dc_in + r * s_dc + c, v, UPCAST)
        dc, direct_c = _uncarry(dc, _keep(kc, r * s_kc + c, v, ZONEOUT), m, zp, ZONEOUT, HAS_MASK)
        a = act + r * s_act + c
        i = _ld(a, v, UPCAST)
        f = _ld(a + H, v, UPCAST)
        g = _ld(a + 2 * H, v, UPCAST)
        o = _ld(a + 3 * H, v, UPCAST)
        tc = _ld(a + 4 * H, v, UPCAST)
        dc = dc + dh * (o * (1 - tc * tc))
        d = dxp + r * s_dxp + c
        tl.store(d, dc * (g * _dsig(i)), mask=v)
        tl.store(d + H, dc * (_ld(pc + r * s_pc + c, v, UPCAST) * _dsig(f)), mask=v)
        tl.store(d + 2 * H, dc * (i * (1 - g * g)), mask=v)
        tl.store(d + 3 * H, dh * (tc * _dsig(o)), mask=v)
        tl.store(dc_prev + r * s_dcp + c, direct_c + dc * f, mask=v)
        if ZONEOUT != 0 or HAS_MASK:
            tl.store(dh_prev + r * s_dhp + c, direct_h, mask=v)

    @triton.jit
    def _gru_bwd_kernel(
        dh_in, dout, mask, kh, act, ph, dxp, dhp, dh_prev, zp,
        N, H, s_dh, s_dout, s_kh, s_act, s_ph, s_dxp, s_dhp, s_dhprev,
        ZONEOUT: tl.constexpr, HAS_MASK: tl.constexpr, HAS_DOUT: tl.constexpr,
        UPCAST: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr,
    ):  # fmt: skip
        r, c, v, m = _tile(N, H, mask, BLOCK_N, BLOCK_H, HAS_MASK)
        dh = _grad_in(dh_in + r * s_dh + c, dout, r * s_dout + c, m, v, HAS_MASK, HAS_DOUT, UPCAST)
        k_h = _keep(kh, r * s_kh + c, v, ZONEOUT)
        dh, direct = _uncarry(dh, k_h, m, zp, ZONEOUT, HAS_MASK)
        a = act + r * s_act + c
        reset = _ld(a, v, UPCAST)
        z = _ld(a + H, v, UPCAST)
        n = _ld(a + 2 * H, v, UPCAST)
        dn = dh * ((1 - z) * (1 - n * n))
        dz = dh * ((_ld(ph + r * s_ph + c, v, UPCAST) - n) * _dsig(z))
        dr = dh * ((1 - z) * (1 - n * n) * _ld(a + 3 * H, v, UPCAST) * _dsig(reset))
        d = dxp + r * s_dxp + c
        e = dhp + r * s_dhp + c
        tl.store(d, dr, mask=v)
        tl.store(d + H, dz, mask=v)
        tl.store(d + 2 * H, dn, mask=v)
        tl.store(e, dr, mask=v)
        tl.store(e + H, dz, mask=v)
        tl.store(e + 2 * H, dn * reset, mask=v)
        tl.store(dh_prev + r * s_dhprev + c, direct + dh * z, mask=v)


# -- wrappers -----------------------------------------------------------------------------------
_ZP: dict = {}  # (p, dtype, device) -> tensor [p, 1 - p], made once per layer configuration


def _row_stride(t: Tensor) -> int:
    if t.dim() != 2 or (t.shape[1] > 1 and t.stride(1) != 1):
        raise ValueError("triton_pointwise: row buffers must be 2-d with unit column stride")
    return t.stride(0)


def _as_ptr(t: Tensor) -> Tensor:
    if t.dim() == 1:  # the time mask: read at row offsets, no stride
        t = t.contiguous()
    return t.view(torch.uint8) if t.dtype == torch.bool else t


def _launch(kernel, ptrs, strided, zoneout, training, dtype, N, H, **flags):
    """Launch ``kernel`` over an (N, H) grid. ``ptrs``: its pointer arguments in order (``None``
    for unused ones; the zoneout scalars follow), ``strided``: the (N, k*H) ones whose row
    strides come after N and H."""
    if N == 0 or H == 0:
        return
    dummy = next(t for t in ptrs if t is not None)
    mode = 0 if not zoneout else (1 if training else 2)
    upcast = dtype in (torch.float16, torch.bfloat16)
    zp = dummy
    if mode == 2:  # p and 1 - p in the compute dtype (a float argument would be float32)
        key = (float(zoneout), torch.float32 if upcast else dtype, dummy.device)
        if key not in _ZP:
            _ZP[key] = torch.tensor([zoneout, 1 - zoneout], dtype=key[1], device=key[2])
        zp = _ZP[key]
    ptrs = [dummy if t is None else _as_ptr(t) for t in ptrs]
    strides = [0 if t is None else _row_stride(t) for t in strided]
    block_h = min(triton.next_power_of_2(H), BLOCK_H_MAX)
    block_n = min(triton.next_power_of_2(N), max(1, BLOCK_ELEMS // block_h))
    grid = (triton.cdiv(N, block_n), triton.cdiv(H, block_h))
    other_gpu = dummy.is_cuda and dummy.device.index != torch.cuda.current_device()
    with torch.cuda.device(dummy.device) if other_gpu else contextlib.nullcontext():
        kernel[grid](*ptrs, zp, N, H, *strides, ZONEOUT=mode, UPCAST=upcast, BLOCK_N=block_n,
                     BLOCK_H=block_h, **flags)  # fmt: skip


def _keeps(keep, zoneout, training, S):
    if not (zoneout and training):
        return (None,) * S
    keep = tuple(keep or ())[:S]
    if len(keep) < S or any(k is None for k in keep):
        raise ValueError(
            f"zoneout in training needs {S} keep-mask(s), got {sum(k is not None for k in keep)}"
        )
    return keep


def lstm_forward_fused(xp, act, hp, prev, new, activation, *, zoneout=0.0, training=False,
                       keep=None, mask=None, out=None):  # fmt: skip
    """:func:`lstm_forward` followed by what the fused loop does after the cell, in the same
    launch: the zoneout mix (``keep`` = (keep_h, keep_c) (N, H) bool when ``training``, else
    the lerp with ``zoneout`` = p), the time-mask carry (``mask`` (N,) bool) and ``out``
    (N, H) = new h (times the mask). ``xp`` and ``hp`` are unused (``act`` holds the sum)."""
    N, H = prev[0].shape
    kh, kc = _keeps(keep, zoneout, training, 2)
    strided = [act, prev[0], prev[1], new[0], new[1], kh, kc, out]
    ptrs = [*strided[:7], mask, out]
    _launch(_lstm_fwd_kernel, ptrs, strided, zoneout, training, act.dtype, N, H,
            HAS_MASK=mask is not None, HAS_OUT=out is not None)  # fmt: skip


def gru_forward_fused(xp, act, hp, prev, new, activation, *, zoneout=0.0, training=False,
                      keep=None, mask=None, out=None):  # fmt: skip
    """:func:`gru_forward` followed by the zoneout mix (``keep`` = (keep_h,)), the time-mask
    carry and ``out``, as :func:`lstm_forward_fused`."""
    N, H = prev[0].shape
    (kh,) = _keeps(keep, zoneout, training, 1)
    strided = [xp, hp, act, prev[0], new[0], kh, out]
    ptrs = [*strided[:6], mask, out]
    _launch(_gru_fwd_kernel, ptrs, strided, zoneout, training, act.dtype, N, H,
            HAS_MASK=mask is not None, HAS_OUT=out is not None)  # fmt: skip


def lstm_forward(xp, act, hp, prev, new, activation):
    """One launch for :func:`deeprnn.kernels._pointwise.lstm_forward`: ``act`` (N, 5H) with the
    gate sums in its first 4H columns, ``prev`` / ``new`` = (h, c) (N, H) each."""
    lstm_forward_fused(xp, act, hp, prev, new, activation)


def gru_forward(xp, act, hp, prev, new, activation):
    """One launch for :func:`deeprnn.kernels._pointwise.gru_forward`: ``xp``, ``hp`` (N, 3H),
    ``act`` (N, 4H), ``prev`` / ``new`` = (h,)."""
    gru_forward_fused(xp, act, hp, prev, new, activation)


def lstm_backward_fused(d, d_out, prev, act, dxp, activation, *, zoneout=0.0, training=False,
                        keep=None, mask=None):  # fmt: skip
    """One backward step of the fused loop, without the GEMM: ``d`` = (dh, dc) (N, H) carried
    from step t+1, ``d_out`` (N, H) or None the gradient of ``out_t``; the transposes of the
    mask carry and the zoneout mix, then the cell. Writes ``dxp`` (N, 4H) (which is also the
    gradient of ``hp``) and returns ``(None, [dh_direct, dc_prev])`` like ``lstm_step``:
    ``dh_direct`` (None when zero) is the gradient of h_{t-1} not through ``hp``; the caller
    adds ``dxp @ W_hh``."""
    N, H = d[0].shape
    kh, kc = _keeps(keep, zoneout, training, 2)
    direct = d[0].new_empty(N, H) if zoneout or mask is not None else None
    dc_prev = d[1].new_empty(N, H)
    strided = [d[0], d[1], d_out, kh, kc, act, prev[1], dxp, direct, dc_prev]
    ptrs = [d[0], d[1], d_out, mask, kh, kc, act, prev[1], dxp, direct, dc_prev]
    _launch(_lstm_bwd_kernel, ptrs, strided, zoneout, training, act.dtype, N, H,
            HAS_MASK=mask is not None, HAS_DOUT=d_out is not None)  # fmt: skip
    return None, [direct, dc_prev]


def gru_backward_fused(d, d_out, prev, act, dxp, activation, *, zoneout=0.0, training=False,
                       keep=None, mask=None, dhp=None):  # fmt: skip
    """As :func:`lstm_backward_fused` for the GRU: ``d`` = (dh,); writes ``dxp`` (N, 3H) and
    ``dhp`` (N, 3H, allocated when None) and returns ``(dhp, [dh_prev])`` with ``dh_prev`` the
    whole gradient of h_{t-1} but the ``dhp @ W_hh`` term."""
    N, H = d[0].shape
    (kh,) = _keeps(keep, zoneout, training, 1)
    dhp = dxp.new_empty(N, 3 * H) if dhp is None else dhp
    dh_prev = d[0].new_empty(N, H)
    strided = [d[0], d_out, kh, act, prev[0], dxp, dhp, dh_prev]
    ptrs = [d[0], d_out, mask, kh, act, prev[0], dxp, dhp, dh_prev]
    _launch(_gru_bwd_kernel, ptrs, strided, zoneout, training, act.dtype, N, H,
            HAS_MASK=mask is not None, HAS_DOUT=d_out is not None)  # fmt: skip
    return dhp, [dh_prev]


def lstm_backward(d, prev, act, dxp, activation):
    """The LSTM cell's backward from ``act`` (N, 5H) and ``prev`` = (h, c): writes ``dxp``
    (N, 4H), returns ``(None, [None, dc_prev])`` (as :func:`lstm_step`)."""
    return lstm_backward_fused(d, None, prev, act, dxp, activation)


def gru_backward(d, prev, act, dxp, activation):
    """One launch for :func:`deeprnn.kernels._pointwise.gru_backward`: writes ``dxp`` (N, 3H),
    returns ``(dhp (N, 3H), [dh z])``."""
    return gru_backward_fused(d, None, prev, act, dxp, activation)


# ``prepare`` / ``step`` with the signatures of ``_pointwise``: the step kernel recomputes its
# factors from the saved activations, so ``prepare`` only passes the block's buffers on.
def lstm_prepare(acts, prev, activation):
    """``acts`` (K, N, 5H), ``prev`` = (h, c) (K, N, H) each -> the factors ``step`` reads."""
    return acts, prev[1]


def lstm_step(d, factors, j, dxp):
    """Step ``j`` of the block: as :func:`deeprnn.kernels._pointwise.lstm_step`."""
    acts, c_prev = factors
    return lstm_backward(d, (None, c_prev[j]), acts[j], dxp, "tanh")


def gru_prepare(acts, prev, activation):
    """``acts`` (K, N, 4H), ``prev`` = (h,) (K, N, H) -> the factors ``step`` reads."""
    return acts, prev[0]


def gru_step(d, factors, j, dxp):
    """Step ``j`` of the block: as :func:`deeprnn.kernels._pointwise.gru_step`."""
    acts, h_prev = factors
    return gru_backward(d, (h_prev[j],), acts[j], dxp, "tanh")


#: drop-in for ``_pointwise.KERNELS``: (forward, prepare, step) per kind
TRITON_KERNELS = {
    "lstm": (lstm_forward, lstm_prepare, lstm_step),
    "gru": (gru_forward, gru_prepare, gru_step),
}
#: the variants with the zoneout mix and the mask carry inside: (forward, backward) per kind
TRITON_FUSED = {
    "lstm": (lstm_forward_fused, lstm_backward_fused),
    "gru": (gru_forward_fused, gru_backward_fused),
}


def kernels_for(t: Tensor) -> dict:
    """``_pointwise.KERNELS`` with the Triton kernels swapped in where they can run on ``t`` (the
    fused loop itself takes them where :func:`deeprnn.kernels.dispatch.scan_kernel` says)."""
    return {**KERNELS, **TRITON_KERNELS} if available(t) else KERNELS
