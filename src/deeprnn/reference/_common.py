r"""What every cell family shares: input checks, the input projection, the masked time loop.

Every family splits a step the same way the torch cells do. The input half of every gate,

.. math::
    \hat x_t = x_t W_{ih}^\top + b \qquad (N, G H)

is one matrix product over all time steps before the loop. The loop then calls the family's
``step(xp_t, state) -> (new_state, saved)`` once per processed step and applies the mask:

.. math::
    s_t = \begin{cases} \mathrm{step}(\hat x_t, s_{t-1}) & \text{mask}_t \\
                        s_{t-1} & \text{otherwise} \end{cases}
    \qquad
    y_t = \begin{cases} h_t & \text{mask}_t \\ 0 & \text{otherwise} \end{cases}

Backpropagation through time walks the saved steps in the opposite order. At a masked step the
incoming state gradient passes straight through to :math:`s_{t-1}` and the output gradient is
dropped (the output was the constant 0). At a real step the family's
``step_backward(d_new_state, saved) -> (d_xp_t, d_old_state)`` does the work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

KINDS = ("rnn", "lstm", "gru", "gru_v1", "minimal_gru", "mingru", "minlstm", "lru")

Array = np.ndarray
State = tuple[Array, ...]


def sigmoid(a: Array) -> Array:
    r""":math:`\sigma(a) = 1 / (1 + e^{-a})`, without overflow for large :math:`|a|`."""
    e = np.exp(-np.abs(a))  # in (0, 1]
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def recurrent_input(h: Array, rec_mask: Array | None) -> Array:
    """``h_{t-1}`` as it enters a recurrent matmul: multiplied by the recurrent-dropout mask."""
    return h if rec_mask is None else h * rec_mask


def recurrent_input_backward(d_hm: Array, rec_mask: Array | None) -> Array:
    """Gradient of ``recurrent_input`` with respect to ``h_{t-1}``."""
    return d_hm if rec_mask is None else d_hm * rec_mask


@dataclass
class Cache:
    """Everything ``backward`` needs, saved by ``forward``. Treat it as opaque."""

    kind: str
    x: Array  # (N, T, I)
    params: dict[str, Array]
    state0: State  # each (N, H)
    mask: Array | None  # (N, T) bool
    rec_mask: Array | None  # (N, H)
    reverse: bool
    activation: str = "tanh"
    steps: list[tuple[int, dict[str, Array]]] = field(default_factory=list)  # processing order

    @property
    def hidden_size(self) -> int:
        return self.state0[0].shape[1]


# -- input checks -----------------------------------------------------------------------------
def as_float64(name: str, value) -> Array:
    """A float64 copy of ``value`` (a copy, so later edits by the caller cannot reach the cache)."""
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array, got {type(value).__name__}") from e


def check_shape(name: str, a: Array, shape: tuple[int, ...]) -> Array:
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


def check_kind(kind) -> str:
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    return kind


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def prepare(kind, x, state0, params, mask, rec_mask, reverse, *, gates, biases):
    """Check and cast the arguments of a ``*_forward`` function.

    ``gates`` is G, the number of (N, H) blocks in ``weight_ih`` / ``weight_hh``; ``biases``
    names the optional bias vectors, each (G*H,). A bias left out of ``params`` is zero and gets
    no gradient. Returns ``x, state0, params, mask, rec_mask, reverse`` in float64 (mask bool).
    """
    x = as_float64("x", x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, T, I), got {x.shape}")
    n, steps, inputs = x.shape

    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    known = ("weight_ih", "weight_hh", *biases)
    for name in params:
        if name not in known:
            raise ValueError(
                f"params has unexpected key {name!r} for kind {kind!r}; expected {list(known)}"
            )
    for name in ("weight_ih", "weight_hh"):
        if name not in params:
            raise ValueError(
                f"params is missing {name!r} for kind {kind!r}; expected {list(known)}"
            )
    p = {name: as_float64(name, params[name]) for name in known if name in params}
    if p["weight_hh"].ndim != 2:
        raise ValueError(f"weight_hh must have shape ({gates}*H, H), got {p['weight_hh'].shape}")
    hidden = p["weight_hh"].shape[1]
    check_shape("weight_hh", p["weight_hh"], (gates * hidden, hidden))
    check_shape("weight_ih", p["weight_ih"], (gates * hidden, inputs))
    for name in biases:
        if name in p:
            check_shape(name, p[name], (gates * hidden,))

    names = ("h0", "c0") if kind == "lstm" else ("h0",)
    if state0 is None:
        state0 = tuple(np.zeros((n, hidden)) for _ in names)
    elif isinstance(state0, np.ndarray) and len(names) == 1:
        state0 = (state0,)
    if not isinstance(state0, (tuple, list)) or len(state0) != len(names):
        got = len(state0) if isinstance(state0, (tuple, list)) else type(state0).__name__
        raise ValueError(
            f"state0 must be a tuple ({', '.join(names)}) of {len(names)} "
            f"array(s) for kind {kind!r}, got {got}"
        )
    state0 = tuple(
        check_shape(name, as_float64(name, s), (n, hidden)) for name, s in zip(names, state0)
    )

    if mask is not None:
        raw = np.asarray(mask)
        check_shape("mask", raw, (n, steps))
        if raw.dtype != bool and not (
            np.issubdtype(raw.dtype, np.number) and np.isin(raw, (0, 1)).all()
        ):
            raise ValueError(f"mask must be boolean (or 0/1), got dtype {raw.dtype}")
        mask = np.array(raw, dtype=bool)
    if rec_mask is not None:
        rec_mask = check_shape("rec_mask", as_float64("rec_mask", rec_mask), (n, hidden))
    return x, state0, p, mask, rec_mask, check_bool("reverse", reverse)


def prepare_grads(cache, d_out, d_final) -> tuple[Array, State]:
    """Check the upstream gradients given to ``*_backward``; ``None`` means zeros."""
    if not isinstance(cache, Cache):
        raise ValueError(
            f"cache must be the third value returned by forward(), got {type(cache).__name__}"
        )
    n, steps, _ = cache.x.shape
    hidden = cache.hidden_size
    if d_out is None:
        d_out = np.zeros((n, steps, hidden))
    d_out = check_shape("d_out", as_float64("d_out", d_out), (n, steps, hidden))
    k = len(cache.state0)
    if d_final is None:
        d_final = (None,) * k
    elif isinstance(d_final, np.ndarray) and k == 1:
        d_final = (d_final,)
    if not isinstance(d_final, (tuple, list)) or len(d_final) != k:
        got = len(d_final) if isinstance(d_final, (tuple, list)) else type(d_final).__name__
        raise ValueError(f"d_final must be a tuple of {k} array(s) like final, got {got}")
    d_final = tuple(
        np.zeros((n, hidden))
        if d is None
        else check_shape(f"d_final[{i}]", as_float64(f"d_final[{i}]", d), (n, hidden))
        for i, d in enumerate(d_final)
    )
    return d_out, d_final


# -- the input projection ---------------------------------------------------------------------
def project_input(x: Array, weight_ih: Array, bias: Array | None) -> Array:
    r""":math:`\hat x = x W_{ih}^\top + b` for every step at once: (N, T, I) -> (N, T, G*H)."""
    xp = x @ weight_ih.T  # (N, T, G*H)
    return xp if bias is None else xp + bias


def project_input_backward(cache: Cache, d_xp: Array, bias_name: str) -> dict[str, Array]:
    r"""Gradients of :math:`\hat x = x W_{ih}^\top + b` given :math:`\bar{\hat x}` (N, T, G*H)."""
    grads = {
        "x": d_xp @ cache.params["weight_ih"],  # (N, T, I)
        "weight_ih": np.einsum("ntg,nti->gi", d_xp, cache.x),  # (G*H, I)
    }
    if bias_name in cache.params:
        grads[bias_name] = d_xp.sum(axis=(0, 1))  # (G*H,)
    return grads


# -- the masked time loop and its reverse ------------------------------------------------------
def time_order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def scan_forward(step: Callable, xp: Array, state0: State, mask: Array | None, reverse: bool):
    """Run ``step`` over time with masking. Returns ``out`` (N, T, H), ``final``, saved steps."""
    n, steps, _ = xp.shape
    out = np.zeros((n, steps, state0[0].shape[1]))  # (N, T, H); masked steps stay 0
    state, saved = state0, []
    for t in time_order(steps, reverse):
        new, values = step(xp[:, t], state)
        if mask is None:
            state = new
            out[:, t] = new[0]
        else:
            m = mask[:, t, None]  # (N, 1): carry the old state where the step is padding
            state = tuple(np.where(m, a, b) for a, b in zip(new, state))
            out[:, t] = np.where(m, new[0], 0.0)
        saved.append((t, values))
    return out, state, saved


def scan_backward(step_backward: Callable, cache: Cache, d_out: Array, d_final: State):
    """BPTT through ``scan_forward``. Returns ``d_xp`` (N, T, G*H) and ``d_state0``."""
    n, steps, _ = cache.x.shape
    gh = cache.params["weight_ih"].shape[0]
    d_xp = np.zeros((n, steps, gh))  # (N, T, G*H); zero at masked steps
    d_state = d_final  # dL/ds_t, starting after the last processed step
    for t, values in reversed(cache.steps):
        d_new = (d_state[0] + d_out[:, t], *d_state[1:])  # h_t is both output and state
        if cache.mask is None:
            d_xp[:, t], d_state = step_backward(d_new, values)
        else:
            m = cache.mask[:, t, None].astype(np.float64)  # (N, 1)
            d_xp[:, t], d_old = step_backward(tuple(m * d for d in d_new), values)
            # padding rows: s_t = s_{t-1}, so their gradient skips the step untouched
            d_state = tuple(a + (1.0 - m) * d for a, d in zip(d_old, d_state))
    return d_xp, d_state


def collect_grads(cache: Cache, grads: dict[str, Array], d_state0: State) -> dict[str, Array]:
    """Order the gradients as ``x``, ``h0`` (``c0``), then the parameters as given."""
    names = ("h0", "c0")[: len(d_state0)]
    return {"x": grads["x"], **dict(zip(names, d_state0)), **{k: grads[k] for k in cache.params}}
