r"""Minimal GRU (update gate only, no reset gate) forward pass and BPTT, in NumPy float64.

Forward, with :math:`m` the recurrent-dropout mask (all ones when ``rec_mask`` is None) and gate
order (z, n):

.. math::
    \begin{aligned}
    {}[a_z, a_n] &= x_t W_{ih}^\top + b + (m \odot h_{t-1}) W_{hh}^\top \\
    z &= \sigma(a_z), \qquad n = \tanh(a_n), \qquad h_t = (1 - z) \odot n + z \odot h_{t-1}
    \end{aligned}

Backward, given :math:`\bar h_t`:

.. math::
    \begin{aligned}
    \bar a &= [\bar h_t \odot (h_{t-1} - n) \odot z (1 - z),\
              \bar h_t \odot (1 - z) \odot (1 - n^2)] \\
    \bar W_{hh} &\mathrel{+}= \bar a^\top (m \odot h_{t-1}), \qquad
    \bar h_{t-1} = \bar h_t \odot z + m \odot (\bar a W_{hh})
    \end{aligned}

Parameters (torch layout): ``weight_ih`` (2H, I), ``weight_hh`` (2H, H), ``bias`` (2H,).
"""

from __future__ import annotations

import numpy as np

from deeprnn.reference._common import (
    Cache,
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


def minimal_gru_forward(
    x, state0, params, mask=None, reverse=False, rec_mask=None
) -> tuple[np.ndarray, tuple[np.ndarray], Cache]:
    """Minimal GRU over a batch-first sequence.

    Args:
        x: (N, T, I) inputs.
        state0: ``(h0,)`` with h0 (N, H); a bare array or None (zeros) also works.
        params: ``weight_ih`` (2H, I), ``weight_hh`` (2H, H), optional ``bias`` (2H,).
        mask: (N, T) bool, True at real steps; None means every step is real.
        reverse: process ``t = T-1 .. 0`` (outputs stay aligned with the input).
        rec_mask: (N, H) recurrent-dropout mask multiplied into ``h_{t-1}`` before ``W_hh``.

    Returns:
        ``out`` (N, T, H) (0 at masked steps), ``(h_T,)``, and the cache for
        ``minimal_gru_backward``.
    """
    x, state0, p, mask, rec_mask, reverse = prepare(
        "minimal_gru", x, state0, params, mask, rec_mask, reverse, gates=2, biases=("bias",)
    )
    w_hh = p["weight_hh"]  # (2H, H)
    xp = project_input(x, p["weight_ih"], p.get("bias"))  # (N, T, 2H)

    def step(xp_t, state):
        (h,) = state  # (N, H)
        hm = recurrent_input(h, rec_mask)  # (N, H)
        a_z, a_n = np.split(xp_t + hm @ w_hh.T, 2, axis=1)  # (N, H) each
        z, n = sigmoid(a_z), np.tanh(a_n)
        h_new = (1.0 - z) * n + z * h  # (N, H)
        return (h_new,), {"h": h, "hm": hm, "z": z, "n": n}

    out, final, saved = scan_forward(step, xp, state0, mask, reverse)
    cache = Cache("minimal_gru", x, p, state0, mask, rec_mask, reverse, "tanh", saved)
    return out, final, cache


def minimal_gru_backward(cache: Cache, d_out=None, d_final=None) -> dict[str, np.ndarray]:
    """Gradients of a scalar loss given ``d_out`` (N, T, H) and ``d_final`` ``(dh_T,)``.

    Returns a dict with ``x``, ``h0`` and one entry per parameter, shaped like the inputs.
    """
    d_out, d_final = prepare_grads(cache, d_out, d_final)
    w_hh = cache.params["weight_hh"]  # (2H, H)
    grads = {"weight_hh": np.zeros_like(w_hh)}

    def step_backward(d_new, v):
        (d_h,) = d_new  # (N, H)
        z, n = v["z"], v["n"]
        d_a = np.concatenate(  # (N, 2H)
            [d_h * (v["h"] - n) * z * (1.0 - z), d_h * (1.0 - z) * (1.0 - n**2)], axis=1
        )
        grads["weight_hh"] += d_a.T @ v["hm"]  # (2H, H)
        d_h_prev = d_h * z + recurrent_input_backward(d_a @ w_hh, cache.rec_mask)
        return d_a, (d_h_prev,)

    d_xp, d_state0 = scan_backward(step_backward, cache, d_out, d_final)
    grads.update(project_input_backward(cache, d_xp, "bias"))
    return collect_grads(cache, grads, d_state0)
