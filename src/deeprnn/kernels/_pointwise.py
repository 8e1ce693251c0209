r"""Hand-written elementwise parts of one step, forward and backward, per cell kind.

The fused kernel (:mod:`deeprnn.kernels.fused`) does the GEMMs: per step it writes
``a = xp_t + W_hh h_{t-1}`` into ``act`` (kinds in :data:`SUMMED`; ``act`` is a contiguous
(N, A*H) row of its activation buffer) or passes ``hp = W_hh h_{t-1} + b_hh`` (GRU), and calls
``forward`` here, which leaves in ``act`` what the backward needs and writes the new state into
``new`` (the state buffers of the next step).

The backward is split in two so that little remains per step: ``prepare`` turns the saved
activations of a block of steps into factor tensors — everything that does not depend on the
incoming gradient — and ``step`` applies them: a handful of multiplies per step, writing the
gradient of ``xp`` into ``dxp`` and returning the gradient of ``hp`` (``None`` when equal to
``dxp``) and of the previous state through the direct path (not through ``hp``).

With :math:`\sigma' = \sigma(1-\sigma)` and :math:`\tanh' = 1 - \tanh^2`:

* LSTM (``act`` = i, f, g, o after their nonlinearities, and :math:`\tanh(c_t)`):
  :math:`\bar c \mathrel{+}= \bar h\, o \tanh'(c_t)`;
  :math:`\bar a = [\bar c\, g\, i',\ \bar c\, c_{t-1} f',\ \bar c\, i\, g',\ \bar h \tanh(c_t)\, o']`;
  :math:`\bar c_{t-1} = \bar c f`.
* GRU, reset-after (``act`` = r, z, n, hp_n): :math:`\bar n = \bar h (1-z) n'`,
  :math:`\bar z = \bar h (h_{t-1} - n) z'`, :math:`\bar r = \bar n\, hp_n r'`;
  :math:`\bar{xp} = [\bar r, \bar z, \bar n]`, :math:`\bar{hp} = [\bar r, \bar z, \bar n r]`,
  :math:`\bar h_{t-1} = \bar h z`.
* SimpleRNN (``act`` = h): :math:`\bar a = \bar h\, \phi'(a)`, written through ``h``.
* minimal GRU (``act`` = z, n): as the GRU without a reset gate.
* layer-norm LSTM / GRU: as above, plus the layer-norm backward
  :math:`\bar v = \mathrm{rstd}\,(\bar{\hat v} - \overline{\bar{\hat v}} - \hat v\,\overline{\bar{\hat v} \hat v})`
  per step (its row means depend on the incoming gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: activation columns per hidden unit
ACT_WIDTH = {"lstm": 5, "gru": 4, "rnn": 1, "minimal_gru": 2}
#: kinds whose pointwise part only needs xp + W_hh h (one addmm)
SUMMED = frozenset({"lstm", "rnn", "minimal_gru"})


def lstm_forward(xp, act, hp, prev, new, activation):
    H = prev[0].shape[1]
    gates = act[:, : 4 * H]  # act = [i, f, g, o, tanh(c)]; the sum a = xp + W_hh h on entry
    torch.sigmoid_(gates[:, : 2 * H])
    torch.tanh_(gates[:, 2 * H : 3 * H])
    torch.sigmoid_(gates[:, 3 * H :])
    i, f, g, o, tc = act.unflatten(1, (5, H)).unbind(1)
    c = torch.addcmul(torch.mul(f, prev[1], out=new[1]), i, g, out=new[1])
    torch.mul(o, torch.tanh(c, out=tc), out=new[0])


def _dsigmoid(s: Tensor) -> Tensor:
    return torch.addcmul(s, s, s, value=-1)  # s (1 - s)


def gru_forward(xp, act, hp, prev, new, activation):
    H = prev[0].shape[1]
    a = act.unflatten(1, (4, H))  # leaves r, z, n, hp_n
    a[:, 3].copy_(hp[:, 2 * H :])
    torch.sigmoid(xp[:, : 2 * H] + hp[:, : 2 * H], out=act[:, : 2 * H])
    r, z, n = a[:, 0], a[:, 1], a[:, 2]
    torch.tanh(torch.addcmul(xp[:, 2 * H :], r, a[:, 3]), out=n)
    torch.addcmul(n, z, prev[0] - n, out=new[0])


def gru_backward(d, prev, act, dxp, activation):
    (dh,) = d
    H = dh.shape[1]
    r, z, n, hn = act.unflatten(1, (4, H)).unbind(1)
    dr, dz, dn = dxp.unflatten(1, (3, H)).unbind(1)
    torch.mul(dh * (1 - z), 1 - n * n, out=dn)
    torch.mul(dh * (prev[0] - n), z * (1 - z), out=dz)
    torch.mul(dn * hn, r * (1 - r), out=dr)
    dhp = dxp.clone()
    dhp[:, 2 * H :].mul_(r)
    return dhp, [dh * z]


def rnn_forward(xp, act, hp, prev, new, activation):
    from deeprnn.cells._base import ACTIVATIONS

    if activation == "tanh":
        torch.tanh_(act)
    elif activation == "sigmoid":
        torch.sigmoid_(act)
    elif activation != "identity":
        act.copy_(ACTIVATIONS[activation](act))
    new[0].copy_(act)


def _rnn_derivative(h: Tensor, activation: str) -> Tensor:
    if activation == "tanh":
        return 1 - h * h
    if activation == "sigmoid":
        return h * (1 - h)
    if activation == "relu":
        return (h > 0).to(h.dtype)
    if activation == "leaky_relu":
        return torch.full_like(h, 0.01).masked_fill_(h > 0, 1.0)
    return torch.ones_like(h)


def minimal_gru_forward(xp, act, hp, prev, new, activation):
    H = prev[0].shape[1]
    torch.sigmoid_(act[:, :H])
    torch.tanh_(act[:, H:])
    z, n = act[:, :H], act[:, H:]
    torch.addcmul(n, z, prev[0] - n, out=new[0])


# -- backward: per-step factors precomputed for a block of steps at once -------------------------
# ``prepare(acts, prev, activation)`` maps (K, N, A*H) activations and the K previous states to
# factor tensors; ``step(d, factors, j, dxp)`` then needs only a few batched multiplies per step:
# everything that does not depend on the incoming gradient is done K steps at a time.


def lstm_prepare(acts, prev, activation):
    H = prev[0].shape[2]
    i, f, g, o, tc = acts.unflatten(2, (5, H)).unbind(2)
    dc_dh = o * (1 - tc * tc)  # dh -> dc
    ifg = torch.stack(
        [g * _dsigmoid(i), prev[1] * _dsigmoid(f), i * (1 - g * g)], dim=2
    )  # dc -> da
    do = tc * _dsigmoid(o)  # dh -> da_o
    return dc_dh, ifg, do, f


def lstm_step(d, factors, j, dxp):
    dh, dc = d
    dc_dh, ifg, do, f = factors
    H = dh.shape[1]
    dc = torch.addcmul(dc, dh, dc_dh[j])
    torch.mul(dc.unsqueeze(1), ifg[j], out=dxp[:, : 3 * H].unflatten(1, (3, H)))
    torch.mul(dh, do[j], out=dxp[:, 3 * H :])
    return None, [None, dc * f[j]]


def gru_prepare(acts, prev, activation):
    H = prev[0].shape[2]
    r, z, n, hn = acts.unflatten(2, (4, H)).unbind(2)
    dn = (1 - z) * (1 - n * n)  # dh -> d(n pre-activation)
    dz = (prev[0] - n) * _dsigmoid(z)
    dr = dn * hn * _dsigmoid(r)
    return torch.stack([dr, dz, dn], dim=2), torch.stack([dr, dz, dn * r], dim=2), z


def gru_step(d, factors, j, dxp):
    (dh,) = d
    to_xp, to_hp, z = factors
    torch.mul(dh.unsqueeze(1), to_xp[j], out=dxp.unflatten(1, (3, dh.shape[1])))
    return (dh.unsqueeze(1) * to_hp[j]).flatten(1), [dh * z[j]]


def rnn_prepare(acts, prev, activation):
    return (_rnn_derivative(acts, activation),)


def rnn_step(d, factors, j, dxp):
    torch.mul(d[0], factors[0][j], out=dxp)
    return None, [None]


def minimal_gru_prepare(acts, prev, activation):
    H = prev[0].shape[2]
    z, n = acts[..., :H], acts[..., H:]
    return torch.stack([(prev[0] - n) * _dsigmoid(z), (1 - z) * (1 - n * n)], dim=2), z


def minimal_gru_step(d, factors, j, dxp):
    (dh,) = d
    to_a, z = factors
    torch.mul(dh.unsqueeze(1), to_a[j], out=dxp.unflatten(1, (2, dh.shape[1])))
    return None, [dh * z[j]]


KERNELS = {
    "lstm": (lstm_forward, lstm_prepare, lstm_step),
    "gru": (gru_forward, gru_prepare, gru_step),
    "rnn": (rnn_forward, rnn_prepare, rnn_step),
    "minimal_gru": (minimal_gru_forward, minimal_gru_prepare, minimal_gru_step),
}


# -- layer-normalised cells ---------------------------------------------------------------------
# ``pw`` holds the gains and shifts used inside the step, ``pw_grads`` accumulates their
# gradients. LN(v) = xhat * gain + shift with xhat = (v - mean(v)) * rstd over the features.
EPS = 1e-5


def _normalise(v: Tensor, xhat_out: Tensor, rstd_out: Tensor) -> Tensor:
    var, mean = torch.var_mean(v, dim=1, keepdim=True, correction=0)
    torch.rsqrt(var + EPS, out=rstd_out)
    return torch.mul(v - mean, rstd_out, out=xhat_out)


def _normalise_backward(dy_hat: Tensor, xhat: Tensor, rstd: Tensor) -> Tensor:
    """Gradient through xhat = (v - mean) * rstd, given the gradient w.r.t. xhat."""
    mean_dy = dy_hat.mean(dim=1, keepdim=True)
    mean_dyx = (dy_hat * xhat).mean(dim=1, keepdim=True)
    return rstd * (dy_hat - mean_dy - xhat * mean_dyx)


def _ln_lstm_views(act: Tensor, H: int):
    gates, xhat_hh, c_hat = act[:, : 4 * H], act[:, 4 * H : 8 * H], act[:, 8 * H : 9 * H]
    return gates, xhat_hh, c_hat, act[:, 9 * H : 9 * H + 1], act[:, 9 * H + 1 : 9 * H + 2]


def ln_lstm_forward(xp, act, hp, prev, new, activation, pw):
    g_hh, b_hh, g_c, b_c = pw
    H = prev[0].shape[1]
    gates, xhat_hh, c_hat, rstd_hh, rstd_c = _ln_lstm_views(act, H)
    xhat = _normalise(hp, xhat_hh, rstd_hh)
    torch.addcmul(xp + b_hh, xhat, g_hh, out=gates)  # xp + LN_hh(W_hh h)
    torch.sigmoid_(gates[:, : 2 * H])
    torch.tanh_(gates[:, 2 * H : 3 * H])
    torch.sigmoid_(gates[:, 3 * H :])
    i, f, g, o = gates.unflatten(1, (4, H)).unbind(1)
    c = torch.addcmul(f * prev[1], i, g, out=new[1])
    chat = _normalise(c, c_hat, rstd_c)
    torch.mul(o, torch.tanh(torch.addcmul(b_c, chat, g_c)), out=new[0])


def ln_lstm_backward(d, prev, act, dxp, activation, pw, pw_grads):
    g_hh, _, g_c, b_c = pw
    dh, dc = d
    H = dh.shape[1]
    gates, xhat_hh, c_hat, rstd_hh, rstd_c = _ln_lstm_views(act, H)
    i, f, g, o = gates.unflatten(1, (4, H)).unbind(1)
    tn = torch.tanh(torch.addcmul(b_c, c_hat, g_c))
    dcn = dh * o * (1 - tn * tn)  # gradient at LN_c's output
    pw_grads[2] += (dcn * c_hat).sum(0)
    pw_grads[3] += dcn.sum(0)
    dc = dc + _normalise_backward(dcn * g_c, c_hat, rstd_c)
    di, df, dg, do = dxp.unflatten(1, (4, H)).unbind(1)
    torch.mul(dc * g, i * (1 - i), out=di)
    torch.mul(dc * prev[1], f * (1 - f), out=df)
    torch.mul(dc * i, 1 - g * g, out=dg)
    torch.mul(dh * tn, o * (1 - o), out=do)
    pw_grads[0] += (dxp * xhat_hh).sum(0)
    pw_grads[1] += dxp.sum(0)
    dhp = _normalise_backward(dxp * g_hh, xhat_hh, rstd_hh)
    return dhp, [None, dc * f]


def ln_gru_forward(xp, act, hp, prev, new, activation, pw):
    g_hh, b_hh = pw
    H = prev[0].shape[1]
    xhat = _normalise(hp, act[:, 4 * H : 7 * H], act[:, 7 * H : 7 * H + 1])
    gru_forward(xp, act[:, : 4 * H], torch.addcmul(b_hh, xhat, g_hh), prev, new, activation)


def ln_gru_backward(d, prev, act, dxp, activation, pw, pw_grads):
    g_hh = pw[0]
    H = d[0].shape[1]
    xhat, rstd = act[:, 4 * H : 7 * H], act[:, 7 * H : 7 * H + 1]
    dhn, d_prev = gru_backward(d, prev, act[:, : 4 * H], dxp, activation)  # w.r.t. LN_hh output
    pw_grads[0] += (dhn * xhat).sum(0)
    pw_grads[1] += dhn.sum(0)
    return _normalise_backward(dhn * g_hh, xhat, rstd), d_prev


LN_KERNELS = {
    "ln_lstm": (ln_lstm_forward, ln_lstm_backward),
    "ln_gru": (ln_gru_forward, ln_gru_backward),
}
#: how many gains and shifts each layer-norm kind's step reads: (g_hh, b_hh, g_c, b_c) for
#: ln_lstm, (g_hh, b_hh) for ln_gru. A scan's ``pw`` may end with two more, LN_ih's (g_ih, b_ih):
#: then its ``xp`` holds the raw projections :math:`W_{ih} x` and the scan normalises them.
LN_PARAMS = {"ln_lstm": 4, "ln_gru": 2}


def split_ln_input(kind: str | None, pw):
    """``(step_pw, ln_ih)``: a layer-norm scan's ``pw`` split into the step's gains and shifts
    and LN_ih's ``(g_ih, b_ih)`` (empty when ``xp`` is already normalised)."""
    n = LN_PARAMS.get(kind or "")
    if n is None or len(pw) == n:
        return pw, ()
    if len(pw) != n + 2:
        raise ValueError(f"a {kind} scan takes {n} or {n + 2} layer-norm parameters, got {len(pw)}")
    return pw[:n], tuple(pw[n:])


def ln_input_forward(xr: Tensor, g_ih: Tensor, b_ih: Tensor) -> Tensor:
    r""":math:`\mathrm{LN}_{ih}` of the raw projections ``xr`` (T, N, G) over the last dimension
    (the Python loop's half of a scan whose ``pw`` ends with LN_ih's parameters)."""
    return F.layer_norm(xr, (xr.shape[-1],), g_ih, b_ih, EPS)


def ln_input_backward(d_y: Tensor, xr: Tensor, g_ih: Tensor, b_ih: Tensor):
    """``(d_xr, d_g_ih, d_b_ih)`` from ``d_y`` (T, N, G), the gradient at
    :func:`ln_input_forward`'s output; the row statistics recomputed from ``xr``."""
    G = xr.shape[-1]
    _, mean, rstd = torch.native_layer_norm(xr, [G], None, None, EPS)
    return torch.ops.aten.native_layer_norm_backward(
        d_y, xr, [G], mean, rstd, g_ih, b_ih, [True, True, True]
    )


def act_width(kind: str, H: int) -> int:
    """Columns of the saved-activation buffer per row."""
    return {"ln_lstm": 9 * H + 2, "ln_gru": 7 * H + 1}.get(kind, ACT_WIDTH.get(kind, 0) * H)
