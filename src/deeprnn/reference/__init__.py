"""NumPy float64 forward pass and hand-written backpropagation through time.

The test oracle for the torch cells and layers, and teaching code: one file per cell family,
each with its equations, a ``*_forward`` that returns ``(out, final, cache)`` and a
``*_backward`` that turns upstream gradients into gradients of every input. The masked time
loop they share is in ``_common.py``.

Conventions: ``x`` is (N, T, I), batch first; states are (N, H); ``mask`` (N, T) bool is True at
real steps; a masked step carries the state through unchanged and outputs exactly 0.
``reverse=True`` processes ``t = T-1 .. 0`` and keeps outputs aligned with the input.
Parameters use torch's layout and gate order (see each family's module docstring).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> params = {"weight_ih": rng.normal(size=(12, 2)), "weight_hh": rng.normal(size=(12, 3)),
...           "bias": np.zeros(12)}
>>> h0 = c0 = np.zeros((4, 3))
>>> out, (h, c), cache = forward("lstm", rng.normal(size=(4, 5, 2)), (h0, c0), params)
>>> grads = backward(cache, np.ones_like(out), (None, None))
>>> sorted(grads)
['bias', 'c0', 'h0', 'weight_hh', 'weight_ih', 'x']
"""

from __future__ import annotations

from deeprnn.reference._common import KINDS, Cache, check_kind
from deeprnn.reference._gru import gru_backward, gru_forward
from deeprnn.reference._lstm import lstm_backward, lstm_forward
from deeprnn.reference._minimal_gru import minimal_gru_backward, minimal_gru_forward
from deeprnn.reference._parallel import linear_backward, linear_forward
from deeprnn.reference._rnn import ACTIVATIONS, rnn_backward, rnn_forward

_BACKWARD = {
    "rnn": rnn_backward,
    "lstm": lstm_backward,
    "gru": gru_backward,
    "gru_v1": gru_backward,
    "minimal_gru": minimal_gru_backward,
    "mingru": linear_backward,
    "minlstm": linear_backward,
    "lru": linear_backward,
}
LINEAR = ("mingru", "minlstm", "lru")


def forward(
    kind,
    x,
    state0,
    params,
    mask=None,
    reverse=False,
    rec_mask=None,
    activation="tanh",
    candidate="g",
):
    """Run one recurrent layer of ``kind`` over ``x``; returns ``(out, final, cache)``.

    Args:
        kind: ``"rnn"``, ``"lstm"``, ``"gru"`` (reset after, torch), ``"gru_v1"`` (reset
            before, Cho 2014) or ``"minimal_gru"``.
        x: (N, T, I) inputs.
        state0: ``(h0,)``, or ``(h0, c0)`` for ``"lstm"``; each (N, H). None means zeros.
        params: dict of the kind's parameters in torch layout (see the family modules).
        mask: (N, T) bool, True at real steps, or None.
        reverse: process ``t = T-1 .. 0``.
        rec_mask: (N, H) recurrent-dropout mask on ``h_{t-1}`` where it enters ``W_hh``.
        activation: SimpleRNN nonlinearity; must stay ``"tanh"`` for the other kinds.
        candidate: minGRU / minLSTM candidate activation, ``"g"`` or ``"identity"``.

    Returns:
        ``out`` (N, T, H), ``final`` (a tuple like ``state0``) and a cache for ``backward``.
    """
    check_kind(kind)
    if kind in LINEAR:
        if rec_mask is not None:
            raise ValueError(f"rec_mask must be None for kind {kind!r}: it has no recurrent matrix")
        return linear_forward(kind, x, state0, params, mask, reverse, candidate)
    if kind == "rnn":
        return rnn_forward(x, state0, params, mask, reverse, rec_mask, activation)
    if activation != "tanh":
        raise ValueError(f"activation applies to kind 'rnn' only, got {activation!r} for {kind!r}")
    if kind == "lstm":
        return lstm_forward(x, state0, params, mask, reverse, rec_mask)
    if kind in ("gru", "gru_v1"):
        return gru_forward(x, state0, params, mask, reverse, rec_mask, reset_after=kind == "gru")
    return minimal_gru_forward(x, state0, params, mask, reverse, rec_mask)


def backward(cache, d_out=None, d_final=None):
    """Backpropagation through time for the run that produced ``cache``.

    Args:
        cache: the third value returned by :func:`forward`.
        d_out: (N, T, H) gradient of the loss with respect to ``out``; None means zeros.
        d_final: tuple like ``final`` of (N, H) gradients (entries may be None); None means
            zeros.

    Returns:
        dict with ``"x"``, ``"h0"`` (and ``"c0"`` for LSTM) and one entry per parameter name,
        each shaped like the corresponding input.
    """
    if not isinstance(cache, Cache):
        raise ValueError(
            f"cache must be the third value returned by forward(), got {type(cache).__name__}"
        )
    return _BACKWARD[cache.kind](cache, d_out, d_final)


__all__ = [
    "ACTIVATIONS",
    "KINDS",
    "Cache",
    "backward",
    "forward",
    "gru_backward",
    "gru_forward",
    "linear_backward",
    "linear_forward",
    "lstm_backward",
    "lstm_forward",
    "minimal_gru_backward",
    "minimal_gru_forward",
    "rnn_backward",
    "rnn_forward",
]
