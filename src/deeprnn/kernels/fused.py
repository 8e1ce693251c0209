"""The fused recurrence: one GEMM for the input projections of all steps (done by the caller),
then a loop with one GEMM and fused elementwise work per step, and a hand-written
backpropagation through time in an :class:`torch.autograd.Function`.

It covers what torch's fused RNN ops cannot: recurrent dropout, zoneout, layer-norm cells,
leaky-relu / sigmoid / identity SimpleRNNs, the minimal GRU, masks with holes or pre-padding and
backward scans — all without an autograd graph per step. The backward:

* walks the steps in reverse with one (N, G*H) x (G*H, H) GEMM per step for
  :math:`\\partial L/\\partial h_{t-1}`, plus the cell's hand-written pointwise derivative
  (:mod:`deeprnn.kernels._pointwise`), or autograd on the pointwise part alone for cells without
  one (layer-norm cells);
* computes :math:`\\partial L/\\partial W_{hh}` as one GEMM over all steps afterwards.

Saved for the backward: the states (T+1, N, H) each, the pointwise activations (T, N, A*H) and
the masks — nothing per-step from autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.stateless import _reparametrize_module

from deeprnn.kernels._pointwise import ACT_WIDTH, KERNELS, SUMMED


@dataclass
class Plan:
    """Everything about one scan that is not a tensor."""

    cell: torch.nn.Module
    kind: str | None  # hand-written pointwise kind, None for autograd on cell.pointwise
    activation: str
    zoneout: float
    training: bool
    backwards: bool
    n_state: int
    state_type: type
    pw_names: tuple[str, ...] = ()


class FusedRecurrence(torch.autograd.Function):
    """``apply(plan, xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, h0, c0, *pw_params)``.

    ``xp`` (T, N, G*H) time-major input projections; ``mask`` (T, N) bool or None; ``keep_*``
    (T, N, H) zoneout keep-masks (training) or None; returns ``out`` (T, N, H) (zeros at masked
    steps), ``h_T`` and ``c_T`` (an empty tensor for one-state cells).
    """

    @staticmethod
    def forward(
        ctx, plan: Plan, xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, h0, c0, *pw_params
    ):
        T, N, G = xp.shape
        H = h0.shape[1]
        S = plan.n_state
        keeps = (keep_h, keep_c)[:S]
        states = [xp.new_empty(T + 1, N, H) for _ in range(S)]  # in processing order
        for s, v in zip(states, (h0, c0)):
            s[0] = v
        generic = plan.kind is None
        summed = plan.kind in SUMMED
        acts = xp.new_empty(T, N, G) if generic else xp.new_empty(T, N, ACT_WIDTH[plan.kind] * H)
        hp = None if summed or generic else xp.new_empty(N, G)
        fwd = None if generic else KERNELS[plan.kind][0]
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
                _, result = plan.cell.pointwise(xp[t], acts[k], plan.state_type(*prev))
                for dst, src in zip(new, result):
                    dst.copy_(src)
            elif summed:
                torch.addmm(xp[t], hin, w_t, out=acts[k])  # a = xp + W_hh h
                fwd(xp[t], acts[k], None, prev, new, plan.activation)
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
        ctx.plan = plan
        ctx.save_for_backward(
            xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, acts, *states, *pw_params
        )
        c_last = states[1][T].clone() if S == 2 else xp.new_empty(0)
        return out, states[0][T].clone(), c_last

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):
        plan: Plan = ctx.plan
        xp, w_hh, b_hh, rec_mask, mask, keep_h, keep_c, acts, *rest = ctx.saved_tensors
        S = plan.n_state
        states, pw_params = rest[:S], rest[S:]
        keeps = (keep_h, keep_c)[:S]
        T, _, G = xp.shape
        H = states[0].shape[2]
        generic = plan.kind is None
        bwd = None if generic else KERNELS[plan.kind][1]
        d = [d_hT, d_cT][:S]
        d_out = d_out.contiguous()
        dxp = torch.empty_like(xp)
        dhp = torch.empty_like(xp) if (generic or plan.kind == "gru") else None
        pw_grads = [torch.zeros_like(q) for q in pw_params]
        p = plan.zoneout
        order = list(range(T - 1, -1, -1) if plan.backwards else range(T))
        for k in range(T - 1, -1, -1):
            t = order[k]
            prev = tuple(s[k] for s in states)
            d = [
                d[0] + d_out[t]
                if mask is None
                else torch.addcmul(d[0], d_out[t], mask[t, :, None]),
                *d[1:],
            ]
            d_prev = [None] * S
            if mask is not None:
                m = mask[t, :, None]
                d_prev = [g * ~m for g in d]
                d = [g * m for g in d]
            if p and plan.training:
                zone = [g * kp[t] for g, kp in zip(d, keeps)]
                d_prev = [z if a is None else a + z for a, z in zip(d_prev, zone)]
                d = [g * ~kp[t] for g, kp in zip(d, keeps)]
            elif p:
                d_prev = [g * p if a is None else a + g * p for a, g in zip(d_prev, d)]
                d = [g * (1 - p) for g in d]
            if generic:
                # the cell's own attributes may have been swapped back (torch.func.functional_call)
                # since the forward: bind the saved parameters explicitly for the recompute
                with (
                    torch.enable_grad(),
                    _reparametrize_module(plan.cell, dict(zip(plan.pw_names, pw_params))),
                ):
                    xp_t = xp[t].detach().requires_grad_(True)
                    hp_t = acts[k].detach().requires_grad_(True)
                    prev_l = [q.detach().requires_grad_(True) for q in prev]
                    _, new = plan.cell.pointwise(xp_t, hp_t, plan.state_type(*prev_l))
                    grads = torch.autograd.grad(
                        tuple(new), [xp_t, hp_t, *prev_l, *pw_params], d, allow_unused=True
                    )
                dxp[t] = grads[0]
                g_hp, g_prev = grads[1], list(grads[2 : 2 + S])
                for acc, g in zip(pw_grads, grads[2 + S :]):
                    if g is not None:
                        acc += g
            else:
                g_hp, g_prev = bwd(d, prev, acts[k], dxp[t], plan.activation)
                if g_hp is None:
                    g_hp = dxp[t]
            if dhp is not None:
                dhp[k] = g_hp
            d_prev = [
                a if b is None else (b if a is None else a + b) for a, b in zip(d_prev, g_prev)
            ]
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
        d_c0 = d[1] if S == 2 else None
        return (None, dxp, d_w, d_b, None, None, None, None, d[0], d_c0, *pw_grads)


def _matmul_hh(hin: Tensor, w_t: Tensor, b_hh: Tensor | None, out: Tensor) -> Tensor:
    if b_hh is not None:
        return torch.addmm(b_hh, hin, w_t, out=out)
    return torch.mm(hin, w_t, out=out)


def pointwise_params(cell) -> dict[str, Tensor]:
    """Parameters used inside ``cell.pointwise`` (the layer-norm gains and shifts)."""
    return {
        n: p
        for n, p in cell.named_parameters()
        if n.startswith("ln_") and not n.startswith("ln_ih")
    }


def fused_scan(layer, x: Tensor, mask: Tensor | None, state, rec_mask, keeps):
    """Run ``layer`` (a :class:`~deeprnn.layers.Recurrent`) with the fused kernel.

    ``x`` (N, T, I) batch-first; returns ``(out (N, T, H), final_state)``.
    """
    cell = layer.cell
    xp = cell.project_input(x.transpose(0, 1))  # (T, N, G*H): every step in one GEMM
    plan = Plan(
        cell=cell,
        kind=cell.fused_kind,
        activation=getattr(cell, "activation", "tanh"),
        zoneout=layer.zoneout,
        training=layer.training,
        backwards=layer.go_backwards,
        n_state=len(state),
        state_type=type(state),
    )
    pw = pointwise_params(cell) if cell.fused_kind is None else {}
    plan.pw_names = tuple(pw)
    keep_h, keep_c = (*keeps, None, None)[:2] if keeps is not None else (None, None)
    mask_tm = None if mask is None else mask.t()  # (T, N)
    h0 = state[0]
    c0 = state[1] if len(state) == 2 else None
    out, h, c = FusedRecurrence.apply(
        plan,
        xp,
        cell.weight_hh,
        getattr(cell, "bias_hh", None) if cell.fused_kind is not None else None,
        rec_mask,
        mask_tm,
        keep_h,
        keep_c,
        h0,
        c0,
        *pw.values(),
    )
    final = type(state)(h, c) if len(state) == 2 else type(state)(h)
    return out.transpose(0, 1), final
