"""The fused recurrence: one GEMM for the input projections of all steps (done by the caller),
then a loop with one GEMM and fused elementwise work per step, and a hand-written
backpropagation through time.

It covers what torch's fused RNN ops cannot: recurrent dropout, zoneout, layer-norm cells,
leaky-relu / sigmoid / identity SimpleRNNs, the minimal GRU, masks with holes or pre-padding and
backward scans — all without an autograd graph per step. The backward:

* walks the steps in reverse with one (N, G*H) x (G*H, H) GEMM per step for
  :math:`\\partial L/\\partial h_{t-1}`, plus the cell's hand-written pointwise derivative
  (:mod:`deeprnn.kernels._pointwise`), or autograd on the pointwise part alone for cells without
  one;
* computes :math:`\\partial L/\\partial W_{hh}` as one GEMM over all steps afterwards.

Saved for the backward: the states (T+1, N, H) each, the pointwise activations (T, N, A*H) and
the masks — nothing per-step from autograd.

The hand-written kinds are registered as the custom op ``deeprnn::fused_scan`` (with its
backward ``deeprnn::fused_scan_backward``), so ``torch.compile`` sees one opaque node instead of
unrolling the loop or breaking the graph. Cells without a hand-written derivative go through an
:class:`torch.autograd.Function` wrapping the same loops. Which loop a scan runs (compiled C++,
Python with Triton or hand-written pointwise kernels, autograd) is
:func:`deeprnn.kernels.dispatch.scan_kernel`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn.utils.stateless import _reparametrize_module

from deeprnn._validation import autocast_enabled
from deeprnn.kernels import compiled, triton_pointwise
from deeprnn.kernels._pointwise import (
    KERNELS,
    LN_KERNELS,
    SUMMED,
    act_width,
    ln_input_backward,
    ln_input_forward,
    split_ln_input,
)
from deeprnn.kernels.dispatch import fused_kernel, scan_kernel


@dataclass
class Plan:
    """Everything about one scan that is not a tensor."""

    kind: str | None  # hand-written pointwise kind, None for autograd on cell.pointwise
    activation: str
    zoneout: float
    training: bool
    backwards: bool
    cell: torch.nn.Module | None = None  # only for kind None
    pw_names: tuple[str, ...] = ()
    needs_grad: bool = True  # False: no backward will follow, the activations need not be kept


class ScanInputs(NamedTuple):
    """The tensors of one scan that its forward and its backward both read."""

    xp: Tensor  # (T, N, G*H) time-major input projections
    w_hh: Tensor  # (G*H, H)
    b_hh: Tensor | None  # (G*H,) the recurrent bias of two-bias cells (GRU), else None
    rec_mask: Tensor | None  # (N, H) recurrent-dropout mask, or None
    mask: Tensor | None  # (T, N) bool time mask, or None
    keep_h: Tensor | None  # (T, N, H) zoneout keep-masks (training), or None
    keep_c: Tensor | None
    # the step's layer-norm gains and shifts; + LN_ih's (g_ih, b_ih) when xp is W_ih x, raw
    pw: tuple[Tensor, ...] | list[Tensor] = ()


class ScanGrads(NamedTuple):
    """The gradients a scan's backward receives."""

    d_out: Tensor  # (T, N, H)
    d_hT: Tensor  # (N, H)
    d_cT: Tensor | None  # (N, H) for cells with a cell state, else None


BLOCK = 64  # steps whose backward factors are precomputed together (bounds the extra memory)


def _matmul_hh(hin: Tensor, w_t: Tensor, b_hh: Tensor | None, out: Tensor) -> Tensor:
    if b_hh is not None:
        return torch.addmm(b_hh, hin, w_t, out=out)
    return torch.mm(hin, w_t, out=out)


def scan_forward(plan: Plan, inputs: ScanInputs, h0: Tensor, c0: Tensor | None):
    """Forward loop from ``h0`` (and ``c0``), each (N, H). Returns ``out`` (T, N, H) (zeros at
    masked steps), the states (T+1, N, H) in processing order, and the saved activations.

    The loop is :func:`~deeprnn.kernels.dispatch.scan_kernel`'s: LSTM and GRU scans (and their
    layer-norm kinds) on CPU run the compiled loop of :mod:`deeprnn.kernels.compiled` when it is
    built (same results, same saved layout), LSTM / GRU on CUDA the Triton pointwise kernels."""
    xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, pw = inputs
    kernel = scan_kernel(plan.kind, xp)
    if kernel == "compiled":
        return compiled.forward(plan, inputs, h0, c0)
    pw, ln_ih = split_ln_input(plan.kind, pw)
    if ln_ih:  # raw projections: LN_ih here, as a whole (the compiled loop does it per row)
        xp = ln_input_forward(xp, *ln_ih)
    T, N, G = xp.shape
    H = h0.shape[1]
    init = (h0,) if c0 is None else (h0, c0)
    S = len(init)
    keeps = (keep_h, keep_c)[:S]
    states = [xp.new_empty(T + 1, N, H) for _ in range(S)]
    for s, v in zip(states, init):
        s[0] = v
    generic = plan.kind is None
    summed = plan.kind in SUMMED
    layer_norm = plan.kind in LN_KERNELS
    acts = xp.new_empty(T, N, G) if generic else xp.new_empty(T, N, act_width(plan.kind, H))
    hp = None if summed or generic else xp.new_empty(N, G)
    kinds = _pointwise_kernels(kernel)
    fwd = None if generic else {**kinds, **LN_KERNELS}[plan.kind][0]  # type: ignore[index]
    w_t = w_hh.t().contiguous()  # (H, G*H): a contiguous right operand is ~1.5x faster
    out = xp.new_empty(T, N, H)
    p = plan.zoneout
    order = range(T - 1, -1, -1) if plan.backwards else range(T)
    for k, t in enumerate(order):
        prev = tuple(s[k] for s in states)
        new = tuple(s[k + 1] for s in states)
        hin = prev[0] if rec_mask is None else prev[0] * rec_mask
        if generic:  # acts[k] keeps hp for the autograd backward
            _matmul_hh(hin, w_t, b_hh, out=acts[k])
            _, result = plan.cell.pointwise(xp[t], acts[k], plan.cell.state_type(*prev))
            for dst, src in zip(new, result):
                dst.copy_(src)
        elif summed:
            torch.addmm(xp[t], hin, w_t, out=acts[k, :, :G])  # a = xp + W_hh h
            fwd(xp[t], acts[k], None, prev, new, plan.activation)
        elif layer_norm:
            torch.mm(hin, w_t, out=hp)
            fwd(xp[t], acts[k], hp, prev, new, plan.activation, pw)
        else:
            _matmul_hh(hin, w_t, b_hh, out=hp)
            fwd(xp[t], acts[k], hp, prev, new, plan.activation)
        if p and plan.training:
            for kp, o, n in zip(keeps, prev, new):
                torch.where(kp[t], o, n, out=n)
        elif p:
            for o, n in zip(prev, new):
                n.lerp_(o, p)
        if mask is not None:
            m = mask[t, :, None]  # (N, 1)
            for o, n in zip(prev, new):
                torch.where(m, n, o, out=n)
            torch.mul(new[0], m, out=out[t])
        else:
            out[t] = new[0]
    return out, states, acts


def _pointwise_kernels(kernel: str) -> dict:
    """(forward, prepare, step) per kind for the Python loop: Triton's where it runs."""
    return {**KERNELS, **triton_pointwise.TRITON_KERNELS} if kernel == "triton" else KERNELS


def scan_backward(plan: Plan, inputs: ScanInputs, grads: ScanGrads, states, acts):
    """Backward loop over the forward's ``states`` and ``acts``: returns ``(dxp, d_w_hh, d_b_hh,
    d_h0, d_c0, d_pw)`` (the same loop as :func:`scan_forward`)."""
    xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, pw = inputs
    d_out, d_hT, d_cT = grads
    kernel = scan_kernel(plan.kind, xp)
    if kernel == "compiled":
        return compiled.backward(plan, inputs, grads, states, acts)
    pw, ln_ih = split_ln_input(plan.kind, pw)
    S = len(states)
    keeps = (keep_h, keep_c)[:S]
    T, _, G = xp.shape
    H = states[0].shape[2]
    generic = plan.kind is None
    layer_norm = plan.kind in LN_KERNELS
    if layer_norm:
        bwd = LN_KERNELS[plan.kind][1]
    elif not generic:
        _, prepare, step = _pointwise_kernels(kernel)[plan.kind]
        factors, block = None, -1
    d = [d_hT, d_cT][:S]
    d_out = d_out.contiguous()
    dxp = torch.empty_like(xp)
    dhp = None if plan.kind in SUMMED else torch.empty_like(xp)
    pw_grads = [torch.zeros_like(q) for q in pw]
    p = plan.zoneout
    order = list(range(T - 1, -1, -1) if plan.backwards else range(T))
    for k in range(T - 1, -1, -1):
        t = order[k]
        prev = tuple(s[k] for s in states)
        if mask is None:
            d[0] = d[0] + d_out[t]
            d_prev = [None] * S
        else:
            m = mask[t, :, None]
            d[0] = torch.addcmul(d[0], d_out[t], m)
            d_prev = [g * ~m for g in d]  # a masked step passes the gradient straight through
            d = [g * m for g in d]
        if p and plan.training:
            zone = [g * kp[t] for g, kp in zip(d, keeps)]
            d_prev = [z if a is None else a + z for a, z in zip(d_prev, zone)]
            d = [g * ~kp[t] for g, kp in zip(d, keeps)]
        elif p:
            d_prev = [g * p if a is None else a + g * p for a, g in zip(d_prev, d)]
            d = [g * (1 - p) for g in d]
        if generic:
            # bind the saved parameters: the cell's own attributes may have been swapped back
            # since the forward (torch.func.functional_call)
            with (
                torch.enable_grad(),
                _reparametrize_module(plan.cell, dict(zip(plan.pw_names, pw))),
            ):
                xp_t = xp[t].detach().requires_grad_(True)
                hp_t = acts[k].detach().requires_grad_(True)
                prev_l = [q.detach().requires_grad_(True) for q in prev]
                _, new = plan.cell.pointwise(xp_t, hp_t, plan.cell.state_type(*prev_l))
                grads = torch.autograd.grad(
                    tuple(new), [xp_t, hp_t, *prev_l, *pw], d, allow_unused=True
                )
            dxp[t] = grads[0]
            g_hp, g_prev = grads[1], list(grads[2 : 2 + S])
            for acc, g in zip(pw_grads, grads[2 + S :]):
                if g is not None:
                    acc += g
        elif layer_norm:
            g_hp, g_prev = bwd(d, prev, acts[k], dxp[t], plan.activation, pw, pw_grads)
        else:
            if k // BLOCK != block:  # precompute this block's factors, BLOCK steps at once
                block = k // BLOCK
                sl = slice(block * BLOCK, min(block * BLOCK + BLOCK, T))
                factors = prepare(acts[sl], [st[sl] for st in states], plan.activation)
            g_hp, g_prev = step(d, factors, k - block * BLOCK, dxp[t])
            if g_hp is None:
                g_hp = dxp[t]
        if dhp is not None:
            dhp[k] = g_hp
        d_prev = [a if b is None else (b if a is None else a + b) for a, b in zip(d_prev, g_prev)]
        dh_in = g_hp @ w_hh  # (N, H)
        if rec_mask is not None:
            dh_in = dh_in * rec_mask
        d_prev[0] = dh_in if d_prev[0] is None else d_prev[0] + dh_in
        d = [torch.zeros_like(d_hT) if g is None else g for g in d_prev]
    # weight gradients: one GEMM over all steps (processing order on both sides)
    hin = states[0][:-1] if rec_mask is None else states[0][:-1] * rec_mask  # (T, N, H)
    if dhp is None:  # dhp[k] == dxp[order[k]]
        dhp = dxp.flip(0) if plan.backwards else dxp
    d_w = dhp.reshape(-1, G).t() @ hin.reshape(-1, H)  # (G*H, H)
    d_b = dhp.sum(dim=(0, 1)) if b_hh is not None else None
    if ln_ih:  # dxp: at LN_ih's output -> at the raw projections
        dxp, d_g_ih, d_b_ih = ln_input_backward(dxp, xp, *ln_ih)
        pw_grads = [*pw_grads, d_g_ih, d_b_ih]
    return dxp, d_w, d_b, d[0], (d[1] if S == 2 else None), pw_grads


class FusedRecurrence(torch.autograd.Function):
    """The loops as an autograd Function (cells whose pointwise part autograd differentiates,
    and torch builds without ``torch.library.custom_op``)."""

    @staticmethod
    def forward(ctx, plan: Plan, xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, h0, c0, *pw):
        # flat tensor arguments: autograd tracks those, not the tensors inside a NamedTuple
        inputs = ScanInputs(xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, pw)
        out, states, acts = scan_forward(plan, inputs, h0, c0)
        ctx.plan = plan
        ctx.n_state = len(states)
        ctx.save_for_backward(xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, acts, *states, *pw)
        c_last = states[1][-1].clone() if len(states) == 2 else xp.new_empty(0)
        return out, states[0][-1].clone(), c_last

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):
        xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, acts, *rest = ctx.saved_tensors
        states, pw = rest[: ctx.n_state], rest[ctx.n_state :]
        inputs = ScanInputs(xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, pw)
        grads = ScanGrads(d_out, d_hT, d_cT if ctx.n_state == 2 else None)
        dxp, d_w, d_b, d_h0, d_c0, d_pw = scan_backward(ctx.plan, inputs, grads, states, acts)
        return (None, dxp, d_w, d_b, None, None, None, None, d_h0, d_c0, *d_pw)


def _register_custom_ops() -> bool:
    """``deeprnn::fused_scan`` and its backward as torch custom ops (torch >= 2.4)."""
    if not hasattr(torch.library, "custom_op"):
        return False

    @torch.library.custom_op("deeprnn::fused_scan", mutates_args=())
    def fused_scan_op(
        xp: Tensor,
        w_hh: Tensor,
        b_hh: Tensor | None,
        rec_mask: Tensor | None,
        mask: Tensor | None,
        keep_h: Tensor | None,
        keep_c: Tensor | None,
        h0: Tensor,
        c0: Tensor | None,
        pw: list[Tensor],
        kind: str,
        activation: str,
        zoneout: float,
        training: bool,
        backwards: bool,
        needs_grad: bool,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        plan = Plan(kind, activation, zoneout, training, backwards, needs_grad=needs_grad)
        inputs = ScanInputs(xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, pw)
        out, states, acts = scan_forward(plan, inputs, h0, c0)
        if not needs_grad and acts.numel():  # the fake's (0,): nothing kept for a backward
            acts = xp.new_empty(0)
        return out, states[0], (states[1] if len(states) == 2 else xp.new_empty(0)), acts

    @fused_scan_op.register_fake
    def _(xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, h0, c0, pw, kind, activation, zoneout,
          training, backwards, needs_grad):  # fmt: skip
        T, N, _ = xp.shape
        H = h0.shape[1]
        c = xp.new_empty(T + 1, N, H) if c0 is not None else xp.new_empty(0)
        acts = xp.new_empty(T, N, act_width(kind, H)) if needs_grad else xp.new_empty(0)
        return xp.new_empty(T, N, H), xp.new_empty(T + 1, N, H), c, acts

    @torch.library.custom_op("deeprnn::fused_scan_backward", mutates_args=())
    def fused_scan_backward_op(
        d_out: Tensor,
        d_hT: Tensor,
        d_cT: Tensor | None,
        xp: Tensor,
        w_hh: Tensor,
        b_hh: Tensor | None,
        rec_mask: Tensor | None,
        mask: Tensor | None,
        keep_h: Tensor | None,
        keep_c: Tensor | None,
        states_h: Tensor,
        states_c: Tensor | None,
        acts: Tensor,
        pw: list[Tensor],
        kind: str,
        activation: str,
        zoneout: float,
        training: bool,
        backwards: bool,
        needs_grad: bool,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        plan = Plan(kind, activation, zoneout, training, backwards)
        states = [states_h] if states_c is None else [states_h, states_c]
        inputs = ScanInputs(xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, pw)
        grads = ScanGrads(d_out, d_hT, d_cT)
        dxp, d_w, d_b, d_h0, d_c0, d_pw = scan_backward(plan, inputs, grads, states, acts)
        d_b = xp.new_empty(0) if d_b is None else d_b  # outputs may not alias: separate empties
        d_c0 = xp.new_empty(0) if d_c0 is None else d_c0
        flat_pw = torch.cat([g.reshape(-1) for g in d_pw]) if d_pw else xp.new_empty(0)
        return dxp, d_w, d_b, d_h0, d_c0, flat_pw

    @fused_scan_backward_op.register_fake
    def _(d_out, d_hT, d_cT, xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, states_h, states_c,
          acts, pw, *scalars):  # fmt: skip
        d_b = xp.new_empty(0) if b_hh is None else torch.empty_like(b_hh)
        d_c0 = xp.new_empty(0) if states_c is None else torch.empty_like(d_hT)
        flat_pw = xp.new_empty(sum(q.numel() for q in pw))
        return (
            torch.empty_like(xp),
            torch.empty_like(w_hh),
            d_b,
            torch.empty_like(d_hT),
            d_c0,
            flat_pw,
        )

    def setup_context(ctx, inputs, output):
        xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, _h0, c0, pw, *scalars = inputs
        _, states_h, states_c, acts = output
        ctx.set_materialize_grads(False)  # no zero-filled (T, N, A*H) grads for unused outputs
        ctx.scalars = scalars
        ctx.has_c = c0 is not None
        ctx.has_b = b_hh is not None
        ctx.n_pw = len(pw)
        ctx.save_for_backward(
            xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, states_h, states_c, acts, *pw
        )

    def backward(ctx, d_out, d_states_h, d_states_c, d_acts):
        xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, states_h, states_c, acts, *pw = (
            ctx.saved_tensors
        )
        zeros = states_h.new_zeros(states_h.shape[1:])
        d_hT = zeros if d_states_h is None else d_states_h[-1]
        d_cT = None
        if ctx.has_c:
            d_cT = zeros if d_states_c is None else d_states_c[-1]
        if d_out is None:
            d_out = xp.new_zeros(xp.shape[0], *zeros.shape)
        dxp, d_w, d_b, d_h0, d_c0, flat_pw = fused_scan_backward_op(
            d_out, d_hT, d_cT, xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, states_h,
            states_c if ctx.has_c else None, acts, pw, *ctx.scalars,
        )  # fmt: skip
        d_pw = list(flat_pw.split([q.numel() for q in pw])) if pw else []
        d_pw = [g.view_as(q) for g, q in zip(d_pw, pw)]
        return (dxp, d_w, d_b if ctx.has_b else None, None, None, None, None, d_h0, d_c0 if ctx.has_c else None,
                d_pw, *[None] * len(ctx.scalars))  # fmt: skip

    fused_scan_op.register_autograd(backward, setup_context=setup_context)
    return True


HAS_CUSTOM_OP = _register_custom_ops()


def pointwise_params(cell) -> dict[str, Tensor]:
    """Parameters used inside ``cell.pointwise`` (the layer-norm gains and shifts)."""
    return {
        n: p
        for n, p in cell.named_parameters()
        if n.startswith("ln_") and not n.startswith("ln_ih")
    }


def fused_scan(
    layer, x: Tensor, mask: Tensor | None, state, rec_mask, keeps, kernel: str | None = None
):
    """Run ``layer`` (a :class:`~deeprnn.layers.Recurrent`) with the fused kernel.

    ``x`` (N, T, I) batch-first; returns ``(out (N, T, H), final_state)``. ``kernel``: the
    :attr:`~deeprnn.kernels.dispatch.Choice.kernel` of the call (None: asks
    :func:`~deeprnn.kernels.dispatch.fused_kernel`); ``"compiled_infer"`` runs
    :func:`deeprnn.kernels.compiled.infer`, anything else the scan loop.

    Under ``torch.autocast`` the input projection follows autocast (it is a plain GEMM); the
    recurrence runs in the dtype of ``weight_hh`` with autocast off (its in-place and ``out=``
    kernels need one dtype), and returns that dtype.
    """
    cell = layer.cell
    if kernel is None:
        stochastic = rec_mask is not None or keeps is not None
        kernel, _ = fused_kernel(layer, x, state, stochastic)
    if kernel == "compiled_infer":  # CPU inference: projection inside
        c0 = state[1] if len(state) == 2 else None
        pw = list(pointwise_params(cell).values()) if cell.fused_kind in LN_KERNELS else []
        out, h, c = compiled.infer(
            cell, x, mask, state[0], c0, layer.zoneout, layer.go_backwards, pw
        )
        return out, (type(state)(h, c) if c0 is not None else type(state)(h))
    ln_ih = compiled.fused_input_norm(cell, x)
    if ln_ih:  # (T, N, G*H) raw W_ih x of every step in one GEMM; LN_ih inside the loop
        xp = torch.nn.functional.linear(x.transpose(0, 1), cell.weight_ih)
    else:
        xp = cell.project_input(x.transpose(0, 1))  # (T, N, G*H): every step in one GEMM
    device = xp.device.type
    if autocast_enabled(device):
        dtype = cell.weight_hh.dtype
        xp = xp.to(dtype)
        state = type(state)(*(t.to(dtype) for t in state))
        rec_mask = None if rec_mask is None else rec_mask.to(dtype)
        with torch.autocast(device, enabled=False):
            return _fused_scan(layer, xp, mask, state, rec_mask, keeps, ln_ih)
    return _fused_scan(layer, xp, mask, state, rec_mask, keeps, ln_ih)


def _fused_scan(layer, xp: Tensor, mask: Tensor | None, state, rec_mask, keeps, ln_ih=()):
    cell = layer.cell
    kind = cell.fused_kind
    activation = getattr(cell, "activation", "tanh")
    keep_h, keep_c = (*keeps, None, None)[:2] if keeps is not None else (None, None)
    mask_tm = None if mask is None else mask.t().contiguous()  # (T, N)
    h0 = state[0]
    c0 = state[1] if len(state) == 2 else None
    b_hh = getattr(cell, "bias_hh", None) if kind in KERNELS else None
    if kind is not None and HAS_CUSTOM_OP:
        pw = [*pointwise_params(cell).values(), *ln_ih] if kind in LN_KERNELS else []
        needs_grad = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (xp, cell.weight_hh, b_hh, h0, c0, *pw)
        )
        out, states_h, states_c, _ = torch.ops.deeprnn.fused_scan(
            xp, cell.weight_hh, b_hh, rec_mask, mask_tm, keep_h, keep_c, h0, c0, pw,
            kind, activation, float(layer.zoneout), layer.training, layer.go_backwards, needs_grad,
        )  # fmt: skip
        h, c = states_h[-1], (states_c[-1] if c0 is not None else None)
    else:
        pw = pointwise_params(cell) if kind is None or kind in LN_KERNELS else {}
        if ln_ih:
            pw.update(ln_ih_weight=ln_ih[0], ln_ih_bias=ln_ih[1])
        plan = Plan(
            kind, activation, layer.zoneout, layer.training, layer.go_backwards, cell, tuple(pw)
        )
        out, h, c = FusedRecurrence.apply(
            plan, xp, cell.weight_hh, b_hh, rec_mask, mask_tm, keep_h, keep_c, h0, c0, *pw.values()
        )
    final = type(state)(h, c) if len(state) == 2 else type(state)(h)
    return out.transpose(0, 1), final
