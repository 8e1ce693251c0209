r"""LSTM forward pass and backpropagation through time, in NumPy float64.

Forward, with :math:`m` the recurrent-dropout mask (all ones when ``rec_mask`` is None) and the
gate pre-activations in torch order (i, f, g, o):

.. math::
    \begin{aligned}
    {}[a_i, a_f, a_g, a_o] &= x_t W_{ih}^\top + b + (m \odot h_{t-1}) W_{hh}^\top \\
    i = \sigma(a_i), \quad f &= \sigma(a_f), \quad g = \tanh(a_g), \quad o = \sigma(a_o) \\
    c_t &= f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t)
    \end{aligned}

Backward, given :math:`\bar h_t` and :math:`\bar c_t` (gradients from the output and from later
steps):

.. math::
    \begin{aligned}
    \bar o &= \bar h_t \odot \tanh(c_t), \qquad
    \bar c = \bar c_t + \bar h_t \odot o \odot (1 - \tanh^2(c_t)) \\
    \bar i &= \bar c \odot g, \quad \bar f = \bar c \odot c_{t-1}, \quad
    \bar g = \bar c \odot i, \quad \bar c_{t-1} = \bar c \odot f \\
    \bar a &= [\bar i \odot i (1 - i),\ \bar f \odot f (1 - f),\ \bar g \odot (1 - g^2),\
              \bar o \odot o (1 - o)] \\
    \bar W_{hh} &\mathrel{+}= \bar a^\top (m \odot h_{t-1}), \qquad
    \bar h_{t-1} = m \odot (\bar a W_{hh})
    \end{aligned}

and :math:`\bar a` is also the gradient of the input projection :math:`x_t W_{ih}^\top + b`.

Parameters (torch layout, one bias as in Keras): ``weight_ih`` (4H, I), ``weight_hh`` (4H, H),
``bias`` (4H,). To compare with ``torch.nn.LSTM``, put ``bias`` in ``bias_ih_l0`` and zeros in
``bias_hh_l0``.
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


def lstm_forward(
    x, state0, params, mask=None, reverse=False, rec_mask=None
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], Cache]:
    """LSTM over a batch-first sequence.

    Args:
        x: (N, T, I) inputs.
        state0: ``(h0, c0)``, each (N, H); None means zeros.
        params: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), optional ``bias`` (4H,).
        mask: (N, T) bool, True at real steps; None means every step is real.
        reverse: process ``t = T-1 .. 0`` (outputs stay aligned with the input).
        rec_mask: (N, H) recurrent-dropout mask multiplied into ``h_{t-1}`` before ``W_hh``.

    Returns:
        ``out`` (N, T, H) (0 at masked steps), ``(h_T, c_T)``, and the cache for
        ``lstm_backward``.
    """
    x, state0, p, mask, rec_mask, reverse = prepare(
        "lstm", x, state0, params, mask, rec_mask, reverse, gates=4, biases=("bias",)
    )
    w_hh = p["weight_hh"]  # (4H, H)
    xp = project_input(x, p["weight_ih"], p.get("bias"))  # (N, T, 4H)

    def step(xp_t, state):
        h, c = state  # (N, H) each
        hm = recurrent_input(h, rec_mask)  # (N, H)
        a = xp_t + hm @ w_hh.T  # (N, 4H)
        a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # (N, H) each
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c_new = f * c + i * g  # (N, H)
        tanh_c = np.tanh(c_new)  # (N, H)
        h_new = o * tanh_c  # (N, H)
        saved = {"hm": hm, "c": c, "i": i, "f": f, "g": g, "o": o, "tanh_c": tanh_c}
        return (h_new, c_new), saved

    out, final, saved = scan_forward(step, xp, state0, mask, reverse)
    cache = Cache("lstm", x, p, state0, mask, rec_mask, reverse, "tanh", saved)
    return out, final, cache


def lstm_backward(cache: Cache, d_out=None, d_final=None) -> dict[str, np.ndarray]:
    """Gradients of a scalar loss given ``d_out`` (N, T, H) and ``d_final`` ``(dh_T, dc_T)``.

    Returns a dict with ``x``, ``h0``, ``c0`` and one entry per parameter, shaped like the
    inputs.
    """
    d_out, d_final = prepare_grads(cache, d_out, d_final)
    w_hh = cache.params["weight_hh"]  # (4H, H)
    grads = {"weight_hh": np.zeros_like(w_hh)}

    def step_backward(d_new, v):
        d_h, d_c_next = d_new  # (N, H) each
        i, f, g, o, tanh_c = v["i"], v["f"], v["g"], v["o"], v["tanh_c"]
        d_o = d_h * tanh_c
        d_c = d_c_next + d_h * o * (1.0 - tanh_c**2)  # total gradient reaching c_t
        d_i, d_f, d_g = d_c * g, d_c * v["c"], d_c * i
        d_c_prev = d_c * f  # (N, H)
        d_a = np.concatenate(  # (N, 4H), through the gate nonlinearities
            [d_i * i * (1.0 - i), d_f * f * (1.0 - f), d_g * (1.0 - g**2), d_o * o * (1.0 - o)],
            axis=1,
        )
        grads["weight_hh"] += d_a.T @ v["hm"]  # (4H, H)
        d_h_prev = recurrent_input_backward(d_a @ w_hh, cache.rec_mask)  # (N, H)
        return d_a, (d_h_prev, d_c_prev)

    d_xp, d_state0 = scan_backward(step_backward, cache, d_out, d_final)
    grads.update(project_input_backward(cache, d_xp, "bias"))
    return collect_grads(cache, grads, d_state0)
