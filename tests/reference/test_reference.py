"""deeprnn.reference against central finite differences, against torch.nn, and its masking rules.

Every suite runs over one registry of cell kinds (``CASES``) and one of mask patterns
(``MASKS``), at the small sizes below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from deeprnn import reference as ref

N, T, I, H = 3, 5, 4, 3


@dataclass(frozen=True)
class KindCase:
    id: str
    kind: str
    gates: int
    biases: tuple[str, ...]
    activation: str = "tanh"
    torch_module: str | None = None  # the torch.nn equivalent, when there is one

    @property
    def n_states(self) -> int:
        return 2 if self.kind == "lstm" else 1

    def params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        p = {
            "weight_ih": rng.normal(scale=0.6, size=(self.gates * H, I)),
            "weight_hh": rng.normal(scale=0.6, size=(self.gates * H, H)),
        }
        return p | {b: rng.normal(scale=0.3, size=self.gates * H) for b in self.biases}

    def state0(self, rng: np.random.Generator, n: int = N) -> tuple[np.ndarray, ...]:
        return tuple(rng.normal(scale=0.5, size=(n, H)) for _ in range(self.n_states))

    def forward(self, x, state0, params, **kw):
        return ref.forward(self.kind, x, state0, params, activation=self.activation, **kw)


CASES = [
    *[
        KindCase(f"rnn_{a}", "rnn", 1, ("bias",), a, "RNN" if a in ("tanh", "relu") else None)
        for a in ref.ACTIVATIONS
    ],
    KindCase("lstm", "lstm", 4, ("bias",), torch_module="LSTM"),
    KindCase("gru", "gru", 3, ("bias_ih", "bias_hh"), torch_module="GRU"),
    KindCase("gru_v1", "gru_v1", 3, ("bias",)),
    KindCase("minimal_gru", "minimal_gru", 2, ("bias",)),
]
TORCH_CASES = [c for c in CASES if c.torch_module]
BY_ID = {c.id: c for c in CASES}


def _post(lengths, steps=T):
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


MASKS = {
    "none": None,
    "post": _post([5, 2, 0]),  # row 2 has no real step
    "pre": _post([5, 2, 0])[:, ::-1].copy(),
    "holes": np.array(
        [[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 0, 1]], dtype=bool
    ),  # row 1 all masked
}
MASKED = [k for k in MASKS if k != "none"]


def _inputs(case: KindCase, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, T, I)), case.state0(rng), case.params(rng), rng


def _loss_weights(case: KindCase, rng):
    """R1 (N, T, H) and R2 (a tuple like final) of the loss sum(out*R1) + sum(final*R2)."""
    return rng.normal(size=(N, T, H)), tuple(rng.normal(size=(N, H)) for _ in range(case.n_states))


# -- gradients against central finite differences ---------------------------------------------
def _numeric_grads(loss, inputs: dict[str, np.ndarray], eps: float = 1e-6):
    grads = {}
    for name, arr in inputs.items():
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("mask_id", list(MASKS))
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("dropout", [False, True], ids=["norec", "recmask"])
def test_backward_matches_finite_differences(case, mask_id, reverse, dropout):
    x, state0, params, rng = _inputs(case)
    rec_mask = (rng.random((N, H)) > 0.4) / 0.6 if dropout else None
    r1, r2 = _loss_weights(case, rng)
    kw = {"mask": MASKS[mask_id], "reverse": reverse, "rec_mask": rec_mask}
    names = ("h0", "c0")[: case.n_states]
    inputs = {"x": x, **dict(zip(names, state0)), **params}

    def loss():
        s0 = tuple(inputs[n] for n in names)
        out, final, _ = case.forward(inputs["x"], s0, {k: inputs[k] for k in params}, **kw)
        return np.sum(out * r1) + sum(np.sum(f * r) for f, r in zip(final, r2))

    _, _, cache = case.forward(x, state0, params, **kw)
    grads = ref.backward(cache, r1, r2)
    assert list(grads) == list(inputs)
    numeric = _numeric_grads(loss, inputs)
    for name in inputs:
        assert grads[name].shape == inputs[name].shape
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-6, atol=1e-8, err_msg=name)


# -- agreement with torch.nn in float64 ------------------------------------------------------
def _torch_module(case: KindCase, bidirectional: bool) -> nn.Module:
    kw = {"nonlinearity": case.activation} if case.kind == "rnn" else {}
    cls = getattr(nn, case.torch_module)
    return cls(I, H, batch_first=True, bidirectional=bidirectional, dtype=torch.float64, **kw)


def _load_direction(module: nn.Module, params: dict, suffix: str) -> None:
    """Copy one direction's reference params in; a single ``bias`` goes to ``bias_ih``."""
    with torch.no_grad():
        for name, value in params.items():
            target = "bias_ih" if name == "bias" else name
            getattr(module, f"{target}_l0{suffix}").copy_(torch.from_numpy(value))
        if "bias" in params:
            getattr(module, f"bias_hh_l0{suffix}").zero_()


def _close(actual, expected, err_msg=""):
    np.testing.assert_allclose(
        actual, np.asarray(expected), rtol=1e-10, atol=1e-10, err_msg=err_msg
    )


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("padded", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_matches_torch(case, padded, bidirectional):
    """Outputs, final states and every gradient equal torch.nn's (packed = post-padded mask).

    torch's reverse direction on a packed batch starts each row at its last real step, exactly
    what ``reverse=True`` with a post-padded mask does.
    """
    rng = np.random.default_rng(1)
    lengths = [5, 3, 1] if padded else [T] * N
    mask = _post(lengths) if padded else None
    dirs = 2 if bidirectional else 1
    x = rng.normal(size=(N, T, I))
    params = [case.params(rng) for _ in range(dirs)]
    states = [case.state0(rng) for _ in range(dirs)]
    r1 = rng.normal(size=(N, T, dirs * H))
    r2 = [rng.normal(size=(dirs, N, H)) for _ in range(case.n_states)]

    module = _torch_module(case, bidirectional)
    for d in range(dirs):
        _load_direction(module, params[d], "_reverse" if d else "")
    xt = torch.tensor(x, requires_grad=True)
    s0 = [
        torch.tensor(np.stack([s[k] for s in states]), requires_grad=True) for k in range(len(r2))
    ]
    hx = tuple(s0) if case.kind == "lstm" else s0[0]
    if padded:
        packed = nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out_p, fin = module(packed, hx)
        out_t, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)
    else:
        out_t, fin = module(xt, hx)
    fin = fin if isinstance(fin, tuple) else (fin,)
    loss = (out_t * torch.from_numpy(r1)).sum()
    loss = loss + sum((f * torch.from_numpy(r)).sum() for f, r in zip(fin, r2))
    loss.backward()

    grad_x = np.zeros_like(x)
    for d in range(dirs):
        kw = {"mask": mask, "reverse": bool(d)}
        out, final, cache = case.forward(x, states[d], params[d], **kw)
        _close(out, out_t[..., d * H : (d + 1) * H].detach())
        for k, f in enumerate(final):
            _close(f, fin[k][d].detach())
        grads = ref.backward(cache, r1[..., d * H : (d + 1) * H], tuple(r[d] for r in r2))
        grad_x += grads["x"]
        for k, name in enumerate(("h0", "c0")[: case.n_states]):
            _close(grads[name], s0[k].grad[d], err_msg=name)
        suffix = "_reverse" if d else ""
        for name in params[d]:
            target = "bias_ih" if name == "bias" else name
            torch_grad = getattr(module, f"{target}_l0{suffix}").grad
            _close(grads[name], torch_grad, err_msg=name)
    _close(grad_x, xt.grad)


# -- the masking contract -----------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("mask_id", MASKED)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_masked_row_equals_row_alone(case, mask_id, reverse):
    """A row's real steps, run alone without a mask, give the same outputs and final state."""
    x, state0, params, _ = _inputs(case, seed=2)
    mask = MASKS[mask_id]
    out, final, _ = case.forward(x, state0, params, mask=mask, reverse=reverse)
    assert np.all(out[~mask] == 0.0)  # exactly zero at masked steps
    for row in range(N):
        real = mask[row]
        s_row = tuple(s[row : row + 1] for s in state0)
        if not real.any():  # no real step: the initial state comes back untouched
            for f, s in zip(final, s_row):
                np.testing.assert_array_equal(f[row : row + 1], s)
            continue
        out_r, final_r, _ = case.forward(x[row : row + 1, real], s_row, params, reverse=reverse)
        np.testing.assert_allclose(out[row, real], out_r[0], rtol=1e-12, atol=1e-14)
        for f, fr in zip(final, final_r):
            np.testing.assert_allclose(f[row], fr[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("mask_id", MASKED)
def test_masked_steps_get_no_gradient(case, mask_id):
    """Masked inputs get exactly zero gradient; an all-masked row passes d_final to state0."""
    x, state0, params, rng = _inputs(case, seed=3)
    mask = MASKS[mask_id]
    r1, r2 = _loss_weights(case, rng)
    _, _, cache = case.forward(x, state0, params, mask=mask)
    grads = ref.backward(cache, r1, r2)
    assert np.all(grads["x"][~mask] == 0.0)
    empty = ~mask.any(axis=1)
    for name, r in zip(("h0", "c0"), r2):
        np.testing.assert_array_equal(grads[name][empty], r[empty])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("mask_id", list(MASKS))
def test_reverse_equals_forward_on_flipped_time(case, mask_id):
    x, state0, params, rng = _inputs(case, seed=4)
    mask = MASKS[mask_id]
    flip_mask = None if mask is None else mask[:, ::-1]
    r1, r2 = _loss_weights(case, rng)
    out, final, cache = case.forward(x, state0, params, mask=mask, reverse=True)
    out_f, final_f, cache_f = case.forward(x[:, ::-1], state0, params, mask=flip_mask)
    np.testing.assert_allclose(out, out_f[:, ::-1], rtol=1e-12, atol=1e-14)
    for a, b in zip(final, final_f):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    grads = ref.backward(cache, r1, r2)
    grads_f = ref.backward(cache_f, r1[:, ::-1], r2)
    grads_f["x"] = grads_f["x"][:, ::-1]
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_f[name], rtol=1e-10, atol=1e-12)


# -- conveniences -----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_defaults_and_missing_biases(case):
    """None state0 is zeros, None upstream gradients are zeros, absent biases are zero."""
    x, _, params, rng = _inputs(case, seed=5)
    zeros = tuple(np.zeros((N, H)) for _ in range(case.n_states))
    no_bias = {k: v for k, v in params.items() if k.startswith("weight")}
    zero_bias = params | {b: np.zeros_like(params[b]) for b in case.biases}
    out_a, fin_a, cache_a = case.forward(x, None, no_bias)
    out_b, fin_b, cache_b = case.forward(x, zeros, zero_bias)
    np.testing.assert_array_equal(out_a, out_b)
    for a, b in zip(fin_a, fin_b):
        np.testing.assert_array_equal(a, b)
    r1 = rng.normal(size=(N, T, H))
    g_a = ref.backward(cache_a, r1)
    g_b = ref.backward(cache_b, r1, (None,) * case.n_states)
    assert set(g_b) - set(g_a) == set(case.biases)
    for name in g_a:
        np.testing.assert_array_equal(g_a[name], g_b[name])
    assert all(np.all(g == 0) for g in ref.backward(cache_a).values())


def test_inputs_are_copied():
    case = BY_ID["rnn_tanh"]
    x, state0, params, _ = _inputs(case)
    out, _, cache = case.forward(x, state0, params)
    g = ref.backward(cache, np.ones_like(out))
    x += 1.0
    params["weight_hh"] *= 2.0
    for name, val in ref.backward(cache, np.ones_like(out)).items():
        np.testing.assert_array_equal(val, g[name])


def test_integer_mask_and_float32_inputs_are_accepted():
    case = BY_ID["lstm"]
    x, state0, params, _ = _inputs(case)
    mask = MASKS["holes"]
    out, _, _ = case.forward(x, state0, params, mask=mask)
    out32, _, _ = case.forward(x.astype(np.float32), state0, params, mask=mask.astype(int))
    assert out32.dtype == np.float64
    np.testing.assert_allclose(out, out32, atol=1e-6)


# -- bad input ----------------------------------------------------------------------------------
def _lstm_call(**changes):
    """Keyword arguments of a valid lstm forward call, with ``changes`` applied."""
    x, state0, params, _ = _inputs(BY_ID["lstm"])
    return {"kind": "lstm", "x": x, "state0": state0, "params": params} | changes


def _lstm_params(**changes):
    return _lstm_call()["params"] | changes


BAD_FORWARD = {
    "kind": ({"kind": "lstn"}, r"kind must be one of \['rnn', 'lstm'.*got 'lstn'"),
    "x_2d": ({"x": np.zeros((3, 4))}, r"x must have shape \(N, T, I\), got \(3, 4\)"),
    "x_text": ({"x": "abc"}, r"x must be a numeric array, got str"),
    "params_type": ({"params": [1, 2]}, r"params must be a dict of arrays, got list"),
    "params_missing": (
        {"params": {"weight_ih": np.zeros((12, 4))}},
        r"params is missing 'weight_hh' for kind 'lstm'",
    ),
    "params_extra": (
        {"params": _lstm_params(bias_ih=np.zeros(12))},
        r"params has unexpected key 'bias_ih' for kind 'lstm'",
    ),
    "weight_hh": (
        {"params": _lstm_params(weight_hh=np.zeros((9, 3)))},
        r"weight_hh must have shape \(12, 3\), got \(9, 3\)",
    ),
    "weight_hh_1d": (
        {"params": _lstm_params(weight_hh=np.zeros(12))},
        r"weight_hh must have shape \(4\*H, H\), got \(12,\)",
    ),
    "weight_ih": (
        {"params": _lstm_params(weight_ih=np.zeros((12, 5)))},
        r"weight_ih must have shape \(12, 4\), got \(12, 5\)",
    ),
    "bias": (
        {"params": _lstm_params(bias=np.zeros(9))},
        r"bias must have shape \(12,\), got \(9,\)",
    ),
    "state0_len": ({"state0": (np.zeros((3, 3)),)}, r"state0 must be a tuple \(h0, c0\).*got 1"),
    "c0_shape": (
        {"state0": (np.zeros((3, 3)), np.zeros((2, 3)))},
        r"c0 must have shape \(3, 3\), got \(2, 3\)",
    ),
    "mask_shape": ({"mask": np.ones((3, 4), bool)}, r"mask must have shape \(3, 5\), got \(3, 4\)"),
    "mask_values": ({"mask": np.full((3, 5), 0.5)}, r"mask must be boolean \(or 0/1\)"),
    "rec_mask": ({"rec_mask": np.ones((3, 4))}, r"rec_mask must have shape \(3, 3\), got \(3, 4\)"),
    "reverse": ({"reverse": "yes"}, r"reverse must be a bool, got 'yes'"),
    "activation_lstm": ({"activation": "relu"}, r"activation applies to kind 'rnn' only"),
    "activation_rnn": (
        {"kind": "rnn", "activation": "gelu", "params": {}},
        r"activation must be one of \['tanh'.*got 'gelu'",
    ),
}


@pytest.mark.parametrize("changes,match", BAD_FORWARD.values(), ids=list(BAD_FORWARD))
def test_bad_forward_input(changes, match):
    with pytest.raises(ValueError, match=match):
        ref.forward(**_lstm_call(**changes))


BAD_BACKWARD = {
    "cache": ({"cache": {}}, r"cache must be the third value returned by forward\(\), got dict"),
    "d_out": (
        {"d_out": np.zeros((3, 5, 4))},
        r"d_out must have shape \(3, 5, 3\), got \(3, 5, 4\)",
    ),
    "d_final_len": ({"d_final": (None,)}, r"d_final must be a tuple of 2 array\(s\).*got 1"),
    "d_final_shape": (
        {"d_final": (None, np.zeros((3, 2)))},
        r"d_final\[1\] must have shape \(3, 3\), got \(3, 2\)",
    ),
}


@pytest.mark.parametrize("changes,match", BAD_BACKWARD.values(), ids=list(BAD_BACKWARD))
def test_bad_backward_input(changes, match):
    _, _, cache = ref.forward(**_lstm_call())
    with pytest.raises(ValueError, match=match):
        ref.backward(**({"cache": cache} | changes))
