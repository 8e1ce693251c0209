"""deeprnn.reference for the linear recurrences (minGRU, minLSTM, LRU): the hand-written backward
against central finite differences, and the masking rules, over every mask pattern."""

from __future__ import annotations

import numpy as np
import pytest

from deeprnn import reference as ref

N, T, I, H = 3, 5, 4, 3
GATES = {"mingru": 2, "minlstm": 3, "lru": 3}
CASES = [
    ("mingru", "g"),
    ("mingru", "identity"),
    ("minlstm", "g"),
    ("minlstm", "identity"),
    ("lru", "g"),
]
IDS = [f"{k}_{c}" for k, c in CASES]
MASKS = {
    "none": None,
    "post": np.arange(T)[None, :] < np.array([5, 2, 0])[:, None],
    "holes": np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 0, 1]], dtype=bool),
}


def _names(kind):
    return ("h0", "re0", "im0") if kind == "lru" else ("h0",)


def _inputs(kind, seed=0):
    rng = np.random.default_rng(seed)
    g = GATES[kind]
    params = {
        "weight_ih": rng.normal(scale=0.6, size=(g * H, I)),
        "bias": rng.normal(scale=0.3, size=g * H),
    }
    if kind == "lru":
        params |= {
            "weight_out": rng.normal(scale=0.5, size=(H, 2 * H)),
            "nu_log": rng.normal(scale=0.5, size=H) - 1.0,
            "theta_log": rng.normal(scale=0.5, size=H),
            "gamma_log": rng.normal(scale=0.2, size=H) - 0.5,
        }
    state0 = tuple(rng.normal(scale=0.5, size=(N, H)) for _ in _names(kind))
    return rng.normal(size=(N, T, I)), state0, params, rng


@pytest.mark.parametrize("kind,candidate", CASES, ids=IDS)
@pytest.mark.parametrize("mask_id", list(MASKS))
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_backward_matches_finite_differences(kind, candidate, mask_id, reverse):
    x, state0, params, rng = _inputs(kind)
    names = _names(kind)
    r1 = rng.normal(size=(N, T, H))
    r2 = tuple(rng.normal(size=(N, H)) for _ in names)
    kw = {"mask": MASKS[mask_id], "reverse": reverse, "candidate": candidate}
    inputs = {"x": x, **dict(zip(names, state0)), **params}

    def loss():
        s0 = tuple(inputs[n] for n in names)
        out, final, _ = ref.forward(kind, inputs["x"], s0, {k: inputs[k] for k in params}, **kw)
        return np.sum(out * r1) + sum(np.sum(f * r) for f, r in zip(final, r2))

    _, _, cache = ref.forward(kind, x, state0, params, **kw)
    grads = ref.backward(cache, r1, r2)
    assert list(grads) == list(inputs)
    eps = 1e-6
    for name, arr in inputs.items():
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            numeric[idx] = (up - loss()) / (2 * eps)
            arr[idx] = old
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("kind,candidate", CASES, ids=IDS)
def test_masked_row_equals_row_alone_and_masked_steps_get_no_gradient(kind, candidate):
    x, state0, params, rng = _inputs(kind, seed=2)
    mask = MASKS["holes"]
    out, final, cache = ref.forward(kind, x, state0, params, mask=mask, candidate=candidate)
    assert np.all(out[~mask] == 0.0)
    for row in range(N):
        s_row = tuple(s[row : row + 1] for s in state0)
        if not mask[row].any():  # the initial state comes back untouched
            for f, s in zip(final, s_row):
                np.testing.assert_array_equal(f[row : row + 1], s)
            continue
        alone, fin, _ = ref.forward(kind, x[row : row + 1, mask[row]], s_row, params,
                                    candidate=candidate)  # fmt: skip
        np.testing.assert_allclose(out[row, mask[row]], alone[0], rtol=1e-12, atol=1e-14)
        for f, fr in zip(final, fin):
            np.testing.assert_allclose(f[row], fr[0], rtol=1e-12, atol=1e-14)
    grads = ref.backward(cache, rng.normal(size=(N, T, H)))
    assert np.all(grads["x"][~mask] == 0.0)


def test_linear_kinds_reject_a_recurrent_mask_and_bad_options():
    x, state0, params, _ = _inputs("mingru")
    with pytest.raises(ValueError, match="rec_mask must be None for kind 'mingru'"):
        ref.forward("mingru", x, state0, params, rec_mask=np.ones((N, H)))
    with pytest.raises(ValueError, match="candidate must be one of"):
        ref.forward("mingru", x, state0, params, candidate="tanh")
    with pytest.raises(ValueError, match="params is missing 'weight_out'"):
        ref.forward("lru", x, None, {"weight_ih": np.zeros((3 * H, I))})
