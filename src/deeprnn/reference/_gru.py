r"""GRU forward pass and backpropagation through time, in NumPy float64: both reset placements.

Gate order (r, z, n) as in torch; :math:`m` is the recurrent-dropout mask (all ones when
``rec_mask`` is None). It multiplies :math:`h_{t-1}` only where it enters :math:`W_{hh}`; the
interpolation :math:`z \odot h_{t-1}` uses the unmasked state.

``reset_after=True`` (kind ``"gru"``; torch, cuDNN, Keras 2): two biases, reset after the matmul.

.. math::
    \begin{aligned}
    {}[\hat x_r, \hat x_z, \hat x_n] &= x_t W_{ih}^\top + b_{ih}, \qquad
    [\hat h_r, \hat h_z, \hat h_n] = (m \odot h_{t-1}) W_{hh}^\top + b_{hh} \\
    r &= \sigma(\hat x_r + \hat h_r), \quad z = \sigma(\hat x_z + \hat h_z), \quad
    n = \tanh(\hat x_n + r \odot \hat h_n) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}
    \end{aligned}

``reset_after=False`` (kind ``"gru_v1"``; Cho et al. 2014, Keras 1): one bias, reset before the
candidate's matmul.

.. math::
    \begin{aligned}
    {}[\hat x_r, \hat x_z, \hat x_n] &= x_t W_{ih}^\top + b, \qquad
    [\hat h_r, \hat h_z] = (m \odot h_{t-1}) [W_{hr}; W_{hz}]^\top \\
    r &= \sigma(\hat x_r + \hat h_r), \quad z = \sigma(\hat x_z + \hat h_z), \quad
    n = \tanh(\hat x_n + (r \odot m \odot h_{t-1}) W_{hn}^\top) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}
    \end{aligned}

Backward, given :math:`\bar h_t` (both variants start the same way):

.. math::
    \bar z = \bar h_t \odot (h_{t-1} - n), \quad \bar n = \bar h_t \odot (1 - z), \quad
    \bar h_{t-1} \mathrel{+}= \bar h_t \odot z, \quad
    \bar a_n = \bar n \odot (1 - n^2), \quad \bar a_z = \bar z \odot z (1 - z)

Reset after: :math:`\bar r = \bar a_n \odot \hat h_n`, :math:`\bar a_r = \bar r \odot r(1-r)`,
the recurrent projection gets :math:`[\bar a_r, \bar a_z, r \odot \bar a_n]`, so
:math:`\bar W_{hh} \mathrel{+}= [\ldots]^\top (m \odot h_{t-1})`,
:math:`\bar b_{hh} \mathrel{+}= \sum_n [\ldots]` and
:math:`\bar h_{t-1} \mathrel{+}= m \odot ([\ldots] W_{hh})`.

Reset before: with :math:`u = r \odot m \odot h_{t-1}`, :math:`\bar u = \bar a_n W_{hn}`,
:math:`\bar W_{hn} \mathrel{+}= \bar a_n^\top u`, :math:`\bar r = \bar u \odot m \odot h_{t-1}`,
:math:`\bar a_r = \bar r \odot r(1-r)`, :math:`\bar W_{hr,hz} \mathrel{+}= [\bar a_r, \bar a_z]^\top
(m \odot h_{t-1})` and :math:`\bar h_{t-1} \mathrel{+}= m \odot ([\bar a_r, \bar a_z]
[W_{hr}; W_{hz}] + r \odot \bar u)`.

In both, :math:`[\bar a_r, \bar a_z, \bar a_n]` is the gradient of the input projection.

Parameters (torch layout): ``weight_ih`` (3H, I), ``weight_hh`` (3H, H); ``bias_ih`` and
``bias_hh`` (3H,) with ``reset_after=True``, else one ``bias`` (3H,).
"""

from __future__ import annotations

import numpy as np

from deeprnn.reference._common import (
    Cache,
    check_bool,
    collect_grads,
    prepare,
    prepare_grads,
    project_input,
    project_input_backward,
    recurrent_input,
    recurrent_input_backward,
    scan_backward,
    scan_forward,
    sigmoid,
)


def gru_forward(
    x, state0, params, mask=None, reverse=False, rec_mask=None, reset_after=True
) -> tuple[np.ndarray, tuple[np.ndarray], Cache]:
    """GRU over a batch-first sequence.

    Args:
        x: (N, T, I) inputs.
        state0: ``(h0,)`` with h0 (N, H); a bare array or None (zeros) also works.
        params: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H) and optional biases: ``bias_ih``,
            ``bias_hh`` (3H,) when ``reset_after`` else ``bias`` (3H,).
        mask: (N, T) bool, True at real steps; None means every step is real.
        reverse: process ``t = T-1 .. 0`` (outputs stay aligned with the input).
        rec_mask: (N, H) recurrent-dropout mask multiplied into ``h_{t-1}`` before ``W_hh``.
        reset_after: apply the reset gate after the recurrent matmul (torch) or before (Cho).

    Returns:
        ``out`` (N, T, H) (0 at masked steps), ``(h_T,)``, and the cache for ``gru_backward``.
    """
    reset_after = check_bool("reset_after", reset_after)
    kind = "gru" if reset_after else "gru_v1"
    biases = ("bias_ih", "bias_hh") if reset_after else ("bias",)
    x, state0, p, mask, rec_mask, reverse = prepare(
        kind, x, state0, params, mask, rec_mask, reverse, gates=3, biases=biases
    )
    w_hh = p["weight_hh"]  # (3H, H)
    b_hh = p.get("bias_hh")  # (3H,) or None
    hidden = w_hh.shape[1]
    xp = project_input(x, p["weight_ih"], p.get("bias_ih" if reset_after else "bias"))  # (N,T,3H)

    def step_reset_after(xp_t, state):
        (h,) = state  # (N, H)
        hm = recurrent_input(h, rec_mask)  # (N, H)
        hp = hm @ w_hh.T if b_hh is None else hm @ w_hh.T + b_hh  # (N, 3H)
        x_r, x_z, x_n = np.split(xp_t, 3, axis=1)  # (N, H) each
        h_r, h_z, h_n = np.split(hp, 3, axis=1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        h_new = (1.0 - z) * n + z * h  # (N, H)
        return (h_new,), {"h": h, "hm": hm, "h_n": h_n, "r": r, "z": z, "n": n}

    def step_reset_before(xp_t, state):
        (h,) = state  # (N, H)
        hm = recurrent_input(h, rec_mask)  # (N, H)
        x_r, x_z, x_n = np.split(xp_t, 3, axis=1)  # (N, H) each
        h_r, h_z = np.split(hm @ w_hh[: 2 * hidden].T, 2, axis=1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        u = r * hm  # (N, H), the reset state entering W_hn
        n = np.tanh(x_n + u @ w_hh[2 * hidden :].T)
        h_new = (1.0 - z) * n + z * h  # (N, H)
        return (h_new,), {"h": h, "hm": hm, "u": u, "r": r, "z": z, "n": n}

    step = step_reset_after if reset_after else step_reset_before
    out, final, saved = scan_forward(step, xp, state0, mask, reverse)
    cache = Cache(kind, x, p, state0, mask, rec_mask, reverse, "tanh", saved)
    return out, final, cache


def gru_backward(cache: Cache, d_out=None, d_final=None) -> dict[str, np.ndarray]:
    """Gradients of a scalar loss given ``d_out`` (N, T, H) and ``d_final`` ``(dh_T,)``.

    Handles both variants (``cache.kind`` is ``"gru"`` or ``"gru_v1"``). Returns a dict with
    ``x``, ``h0`` and one entry per parameter, shaped like the inputs.
    """
    d_out, d_final = prepare_grads(cache, d_out, d_final)
    p, rec_mask = cache.params, cache.rec_mask
    w_hh = p["weight_hh"]  # (3H, H)
    hidden = w_hh.shape[1]
    grads = {"weight_hh": np.zeros_like(w_hh)}
    if "bias_hh" in p:
        grads["bias_hh"] = np.zeros_like(p["bias_hh"])

    def common(d_h, v):
        """The interpolation and the two gates that do not depend on the reset placement."""
        z, n = v["z"], v["n"]
        d_z = d_h * (v["h"] - n)
        d_a_n = d_h * (1.0 - z) * (1.0 - n**2)  # (N, H), before the candidate's tanh
        d_a_z = d_z * z * (1.0 - z)  # (N, H), before the update gate's sigmoid
        return d_a_z, d_a_n, d_h * z  # the last: dL/dh_{t-1} through z * h_{t-1}

    def step_backward_reset_after(d_new, v):
        (d_h,) = d_new  # (N, H)
        d_a_z, d_a_n, d_h_prev = common(d_h, v)
        r = v["r"]
        d_a_r = d_a_n * v["h_n"] * r * (1.0 - r)  # (N, H)
        d_hp = np.concatenate([d_a_r, d_a_z, d_a_n * r], axis=1)  # (N, 3H)
        grads["weight_hh"] += d_hp.T @ v["hm"]  # (3H, H)
        if "bias_hh" in grads:
            grads["bias_hh"] += d_hp.sum(axis=0)  # (3H,)
        d_h_prev = d_h_prev + recurrent_input_backward(d_hp @ w_hh, rec_mask)
        return np.concatenate([d_a_r, d_a_z, d_a_n], axis=1), (d_h_prev,)

    def step_backward_reset_before(d_new, v):
        (d_h,) = d_new  # (N, H)
        d_a_z, d_a_n, d_h_prev = common(d_h, v)
        r, hm = v["r"], v["hm"]
        d_u = d_a_n @ w_hh[2 * hidden :]  # (N, H)
        grads["weight_hh"][2 * hidden :] += d_a_n.T @ v["u"]  # (H, H)
        d_a_r = d_u * hm * r * (1.0 - r)  # (N, H)
        d_rz = np.concatenate([d_a_r, d_a_z], axis=1)  # (N, 2H)
        grads["weight_hh"][: 2 * hidden] += d_rz.T @ hm  # (2H, H)
        d_hm = d_rz @ w_hh[: 2 * hidden] + d_u * r  # (N, H)
        d_h_prev = d_h_prev + recurrent_input_backward(d_hm, rec_mask)
        return np.concatenate([d_a_r, d_a_z, d_a_n], axis=1), (d_h_prev,)

    reset_after = cache.kind == "gru"
    step_backward = step_backward_reset_after if reset_after else step_backward_reset_before
    d_xp, d_state0 = scan_backward(step_backward, cache, d_out, d_final)
    grads.update(project_input_backward(cache, d_xp, "bias_ih" if reset_after else "bias"))
    return collect_grads(cache, grads, d_state0)
