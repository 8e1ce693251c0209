r"""minGRU, minLSTM and LRU forward passes and BPTT, in NumPy float64.

All three are linear in the state, :math:`h_t = a_t \odot h_{t-1} + b_t`, with :math:`a_t, b_t`
from :math:`x_t` alone; here they run one step at a time through the shared masked loop of
``_common.py`` (a masked step keeps the state: :math:`a = 1, b = 0`), the oracle for the
parallel and compiled scans. :math:`\hat x_t = x_t W_{ih}^\top + b` as for every family;
:math:`g(c) = c + \tfrac12` for :math:`c \ge 0`, else :math:`\sigma(c)` (``candidate="g"``), or
:math:`g(c) = c` (``"identity"``).

minGRU, gate order (z, h):

.. math::
    z = \sigma(\hat x_z), \quad h_t = (1 - z) h_{t-1} + z\, g(\hat x_h); \qquad
    \bar{\hat x}_z = \bar h_t (g - h_{t-1}) z (1 - z), \quad \bar{\hat x}_h = \bar h_t z g',
    \quad \bar h_{t-1} = \bar h_t (1 - z)

minLSTM, gate order (f, i, h), :math:`s = f + i`:

.. math::
    h_t = \tfrac{f}{s} h_{t-1} + \tfrac{i}{s} g(\hat x_h); \qquad
    r = \bar h_t (h_{t-1} - g) / s^2, \quad \bar{\hat x}_f = i r f(1-f), \quad
    \bar{\hat x}_i = -f r i(1-i), \quad \bar h_{t-1} = \bar h_t f / s

LRU, :math:`\hat x = [u_{re}, u_{im}, d]`, :math:`\lambda = e^{-e^{\nu}} (\cos e^{\theta} + i
\sin e^{\theta})`, :math:`\gamma = e^{\gamma_{\log}}`, state ``(h, re, im)`` with ``h`` the
output:

.. math::
    s_t = \lambda s_{t-1} + \gamma u_t, \qquad y_t = [\mathrm{re}_t, \mathrm{im}_t]
    W_{out}^\top + d_t; \qquad \bar s_t \mathrel{+}= \bar y_t W_{out}, \quad
    \bar s_{t-1} = \bar\lambda \bar s_t, \quad \bar\lambda \mathrel{+}= \bar s_t
    \overline{s_{t-1}}, \quad \bar u_t = \gamma \bar s_t

(complex products written out in real arithmetic below), then the chain rule through
:math:`\lambda(\nu, \theta)` and :math:`\gamma(\gamma_{\log})`.
"""

from __future__ import annotations

import numpy as np

from deeprnn.reference._common import (
    Cache,
    as_float64,
    check_bool,
    check_shape,
    prepare_grads,
    project_input,
    project_input_backward,
    scan_backward,
    scan_forward,
    sigmoid,
)

_GATES = {"mingru": 2, "minlstm": 3, "lru": 3}
_LRU_PARAMS = ("weight_out", "nu_log", "theta_log", "gamma_log")
CANDIDATES = ("g", "identity")


def _candidate(c, kind: str):
    """``(g(c), g'(c))``."""
    if kind == "identity":
        return c, np.ones_like(c)
    s = sigmoid(c)
    return np.where(c >= 0, c + 0.5, s), np.where(c >= 0, 1.0, s * (1.0 - s))


def _prepare(kind, x, state0, params, mask, reverse):
    x = as_float64("x", x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, T, I), got {x.shape}")
    n, steps, inputs = x.shape
    known = ("weight_ih", "bias", *(_LRU_PARAMS if kind == "lru" else ()))
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    for name in params:
        if name not in known:
            raise ValueError(
                f"params has unexpected key {name!r} for kind {kind!r}; expected {list(known)}"
            )
    for name in known:
        if name != "bias" and name not in params:
            raise ValueError(f"params is missing {name!r} for kind {kind!r}")
    p = {name: as_float64(name, params[name]) for name in known if name in params}
    gates = _GATES[kind]
    if p["weight_ih"].ndim != 2 or p["weight_ih"].shape[0] % gates:
        raise ValueError(f"weight_ih must have shape ({gates}*H, I), got {p['weight_ih'].shape}")
    hidden = p["weight_ih"].shape[0] // gates
    check_shape("weight_ih", p["weight_ih"], (gates * hidden, inputs))
    if "bias" in p:
        check_shape("bias", p["bias"], (gates * hidden,))
    if kind == "lru":
        check_shape("weight_out", p["weight_out"], (hidden, 2 * hidden))
        for name in _LRU_PARAMS[1:]:
            check_shape(name, p[name], (hidden,))
    names = ("h0", "re0", "im0") if kind == "lru" else ("h0",)
    if state0 is None:
        state0 = tuple(np.zeros((n, hidden)) for _ in names)
    elif isinstance(state0, np.ndarray) and len(names) == 1:
        state0 = (state0,)
    if not isinstance(state0, (tuple, list)) or len(state0) != len(names):
        raise ValueError(f"state0 must be a tuple ({', '.join(names)}) for kind {kind!r}")
    state0 = tuple(
        check_shape(name, as_float64(name, s), (n, hidden)) for name, s in zip(names, state0)
    )
    if mask is not None:
        mask = check_shape("mask", np.array(mask, dtype=bool), (n, steps))
    return x, state0, p, mask, check_bool("reverse", reverse)


def linear_forward(kind, x, state0, params, mask=None, reverse=False, candidate="g"):
    """``kind`` ``"mingru"``, ``"minlstm"`` or ``"lru"`` over a batch-first sequence.

    Args:
        x: (N, T, I) inputs.
        state0: ``(h0,)``, or ``(h0, re0, im0)`` for the LRU; each (N, H). None means zeros.
        params: ``weight_ih`` (G*H, I), optional ``bias`` (G*H,); the LRU's ``weight_out``
            (H, 2H), ``nu_log``, ``theta_log``, ``gamma_log`` (H,).
        mask, reverse: as for every family.
        candidate: ``"g"`` or ``"identity"`` (minGRU / minLSTM).

    Returns ``out`` (N, T, H), the final state and the cache for :func:`linear_backward`.
    """
    if candidate not in CANDIDATES:
        raise ValueError(f"candidate must be one of {list(CANDIDATES)}, got {candidate!r}")
    x, state0, p, mask, reverse = _prepare(kind, x, state0, params, mask, reverse)
    xp = project_input(x, p["weight_ih"], p.get("bias"))  # (N, T, G*H)
    if kind == "lru":
        lam = _lambda(p)

    def step(xp_t, state):
        if kind == "lru":
            _, re, im = state
            u_re, u_im, d = np.split(xp_t, 3, axis=1)  # (N, H) each
            lr, li, gam = lam["lr"], lam["li"], lam["gamma"]
            re_new = lr * re - li * im + gam * u_re
            im_new = lr * im + li * re + gam * u_im
            s = np.concatenate([re_new, im_new], axis=1)  # (N, 2H)
            y = s @ p["weight_out"].T + d  # (N, H)
            return (y, re_new, im_new), {"re": re, "im": im, "u_re": u_re, "u_im": u_im, "s": s}
        (h,) = state
        if kind == "mingru":
            k, c = np.split(xp_t, 2, axis=1)
            z = sigmoid(k)
            gc, _ = _candidate(c, candidate)
            return ((1.0 - z) * h + z * gc,), {"h": h, "z": z, "c": c}
        kf, ki, c = np.split(xp_t, 3, axis=1)
        f, i = sigmoid(kf), sigmoid(ki)
        gc, _ = _candidate(c, candidate)
        return (f / (f + i) * h + i / (f + i) * gc,), {"h": h, "f": f, "i": i, "c": c}

    out, final, saved = scan_forward(step, xp, state0, mask, reverse)
    cache = Cache(kind, x, p, state0, mask, None, reverse, candidate, saved)
    return out, final, cache


def _lambda(p) -> dict:
    modulus = np.exp(-np.exp(p["nu_log"]))
    phase = np.exp(p["theta_log"])
    return {
        "m": modulus,
        "phase": phase,
        "lr": modulus * np.cos(phase),
        "li": modulus * np.sin(phase),
        "gamma": np.exp(p["gamma_log"]),
    }


def linear_backward(cache: Cache, d_out=None, d_final=None) -> dict[str, np.ndarray]:
    """Gradients given ``d_out`` (N, T, H) and ``d_final`` (like the final state): a dict with
    ``x``, the initial state's entries (``h0``, and ``re0``, ``im0`` for the LRU) and one
    entry per parameter."""
    d_out, d_final = prepare_grads(cache, d_out, d_final)
    kind, p, candidate = cache.kind, cache.params, cache.activation
    hidden = cache.hidden_size
    acc = {"lr": 0.0, "li": 0.0, "gamma": 0.0, "weight_out": 0.0}
    lam = _lambda(p) if kind == "lru" else None

    def step_backward(d_new, v):
        if kind == "lru":
            d_y, d_re, d_im = d_new
            acc["weight_out"] = acc["weight_out"] + d_y.T @ v["s"]  # (H, 2H)
            d_s = d_y @ p["weight_out"]  # (N, 2H)
            gr, gi = d_re + d_s[:, :hidden], d_im + d_s[:, hidden:]
            lr, li, gam = lam["lr"], lam["li"], lam["gamma"]
            acc["gamma"] = acc["gamma"] + (gr * v["u_re"] + gi * v["u_im"]).sum(0)
            acc["lr"] = acc["lr"] + (gr * v["re"] + gi * v["im"]).sum(0)
            acc["li"] = acc["li"] + (gi * v["re"] - gr * v["im"]).sum(0)
            d_xp = np.concatenate([gam * gr, gam * gi, d_y], axis=1)  # (N, 3H)
            return d_xp, (np.zeros_like(d_y), lr * gr + li * gi, lr * gi - li * gr)
        (d_h,) = d_new
        gc, dg = _candidate(v["c"], candidate)
        if kind == "mingru":
            z = v["z"]
            d_xp = np.concatenate([d_h * (gc - v["h"]) * z * (1 - z), d_h * z * dg], axis=1)
            return d_xp, (d_h * (1.0 - z),)
        f, i = v["f"], v["i"]
        s = f + i
        r = d_h * (v["h"] - gc) / s**2
        d_xp = np.concatenate([i * r * f * (1 - f), -f * r * i * (1 - i), d_h * i / s * dg], 1)
        return d_xp, (d_h * f / s,)

    d_xp, d_state0 = scan_backward(step_backward, cache, d_out, d_final)
    grads = project_input_backward(cache, d_xp, "bias")
    if kind == "lru":
        m, phase = lam["m"], lam["phase"]
        d_m = acc["lr"] * np.cos(phase) + acc["li"] * np.sin(phase)
        d_phase = m * (acc["li"] * np.cos(phase) - acc["lr"] * np.sin(phase))
        grads["weight_out"] = acc["weight_out"] + np.zeros_like(p["weight_out"])
        grads["nu_log"] = d_m * (-m * np.exp(p["nu_log"])) + np.zeros(hidden)
        grads["theta_log"] = d_phase * phase + np.zeros(hidden)
        grads["gamma_log"] = acc["gamma"] * lam["gamma"] + np.zeros(hidden)
    names = ("h0", "re0", "im0")[: len(d_state0)]
    return {"x": grads["x"], **dict(zip(names, d_state0)), **{k: grads[k] for k in p}}
