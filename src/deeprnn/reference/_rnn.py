r"""SimpleRNN (Elman) forward pass and backpropagation through time, in NumPy float64.

Forward, with :math:`m` the recurrent-dropout mask (all ones when ``rec_mask`` is None):

.. math::
    a_t = x_t W_{ih}^\top + b + (m \odot h_{t-1}) W_{hh}^\top, \qquad h_t = \phi(a_t)

Backward, given :math:`\bar h_t = \partial L / \partial h_t` (output plus later steps):

.. math::
    \begin{aligned}
    \bar a_t &= \bar h_t \odot \phi'(a_t) \\
    \bar W_{hh} &\mathrel{+}= \bar a_t^\top (m \odot h_{t-1}), \qquad
    \bar h_{t-1} = m \odot (\bar a_t W_{hh}) \\
    \bar x_t &= \bar a_t W_{ih}, \qquad \bar W_{ih} \mathrel{+}= \bar a_t^\top x_t, \qquad
    \bar b \mathrel{+}= \textstyle\sum_n \bar a_t
    \end{aligned}

Parameters (torch layout): ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias`` (H,).
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

# name -> (phi(a), phi'(a) written in terms of a and y = phi(a))
ACTIVATIONS = {
    "tanh": (np.tanh, lambda a, y: 1.0 - y**2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, y: (a > 0).astype(np.float64)),
    "leaky_relu": (lambda a: np.where(a > 0, a, 0.01 * a), lambda a, y: np.where(a > 0, 1.0, 0.01)),
    "sigmoid": (sigmoid, lambda a, y: y * (1.0 - y)),
    "identity": (lambda a: a, lambda a, y: np.ones_like(a)),
}


def rnn_forward(
    x, state0, params, mask=None, reverse=False, rec_mask=None, activation="tanh"
) -> tuple[np.ndarray, tuple[np.ndarray], Cache]:
    """SimpleRNN over a batch-first sequence.

    Args:
        x: (N, T, I) inputs.
        state0: ``(h0,)`` with h0 (N, H); a bare array or None (zeros) also works.
        params: ``weight_ih`` (H, I), ``weight_hh`` (H, H), optional ``bias`` (H,).
        mask: (N, T) bool, True at real steps; None means every step is real.
        reverse: process ``t = T-1 .. 0`` (outputs stay aligned with the input).
        rec_mask: (N, H) recurrent-dropout mask multiplied into ``h_{t-1}`` before ``W_hh``.
        activation: one of ``tanh``, ``relu``, ``leaky_relu`` (slope 0.01), ``sigmoid``,
            ``identity``.

    Returns:
        ``out`` (N, T, H) (0 at masked steps), ``(h_T,)``, and the cache for ``rnn_backward``.
    """
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    x, state0, p, mask, rec_mask, reverse = prepare(
        "rnn", x, state0, params, mask, rec_mask, reverse, gates=1, biases=("bias",)
    )
    phi, _ = ACTIVATIONS[activation]
    w_hh = p["weight_hh"]  # (H, H)
    xp = project_input(x, p["weight_ih"], p.get("bias"))  # (N, T, H)

    def step(xp_t, state):
        (h,) = state  # (N, H)
        hm = recurrent_input(h, rec_mask)  # (N, H)
        a = xp_t + hm @ w_hh.T  # (N, H), pre-activation
        h_new = phi(a)  # (N, H)
        return (h_new,), {"hm": hm, "a": a, "h_new": h_new}

    out, final, saved = scan_forward(step, xp, state0, mask, reverse)
    cache = Cache("rnn", x, p, state0, mask, rec_mask, reverse, activation, saved)
    return out, final, cache


def rnn_backward(cache: Cache, d_out=None, d_final=None) -> dict[str, np.ndarray]:
    """Gradients of a scalar loss given ``d_out`` (N, T, H) and ``d_final`` ``(dh_T,)``.

    Returns a dict with ``x``, ``h0`` and one entry per parameter, shaped like the inputs.
    """
    d_out, d_final = prepare_grads(cache, d_out, d_final)
    _, d_phi = ACTIVATIONS[cache.activation]
    w_hh = cache.params["weight_hh"]  # (H, H)
    grads = {"weight_hh": np.zeros_like(w_hh)}

    def step_backward(d_new, v):
        (d_h,) = d_new  # (N, H)
        d_a = d_h * d_phi(v["a"], v["h_new"])  # (N, H)
        grads["weight_hh"] += d_a.T @ v["hm"]  # (H, H)
        d_h_prev = recurrent_input_backward(d_a @ w_hh, cache.rec_mask)  # (N, H)
        return d_a, (d_h_prev,)

    d_xp, d_state0 = scan_backward(step_backward, cache, d_out, d_final)
    grads.update(project_input_backward(cache, d_xp, "bias"))
    return collect_grads(cache, grads, d_state0)
