"""Generic suites over every layer configuration in the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

import deeprnn
from _refstack import run_against_reference
from _registry import LAYER_IDS, LAYERS

N, T = 3, 5


def _lengths():
    return torch.tensor([5, 2, 0])  # a full row, a short row and an empty row


def _mask(lengths, steps, side):
    pos = torch.arange(steps)[None]
    if side == "post":
        return pos < lengths[:, None]
    return pos >= (steps - lengths)[:, None]


@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_gradcheck_float64_with_mask(case):
    layer = case.make().double()
    x = torch.randn(N, T, layer.input_size, dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in layer.named_parameters()}
    names = list(params)
    lengths = _lengths()

    def fn(x, *flat):
        torch.manual_seed(1)  # stochastic regularisers draw the same masks every call
        out, states = functional_call(layer, dict(zip(names, flat)), (x,), {"lengths": lengths})
        return out, *[t for s in states for t in s]

    # many parameters (the deep / bidirectional stacks): gradcheck's fast mode, which compares
    # J v with the analytical v^T J for random v (a wrong gradient still fails); full otherwise
    fast = sum(p.numel() for p in params.values()) > 400
    assert torch.autograd.gradcheck(fn, (x, *params.values()), eps=1e-6, atol=1e-6, fast_mode=fast)


@pytest.mark.parametrize("side", ["post", "pre"])
@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_masking_equals_unpadded_rows(case, side):
    """A padded batch gives each row exactly what that row gives alone, unpadded."""
    layer = case.make().double().eval()
    lengths = _lengths()
    x = torch.randn(N, T, layer.input_size, dtype=torch.float64)
    out, states = layer(x, mask=_mask(lengths, T, side))
    init = layer.initial_state(1, dtype=torch.float64)
    for n, length in enumerate(lengths.tolist()):
        real = _mask(lengths, T, side)[n]
        assert torch.all(out[n][~real] == 0), "outputs at padded steps must be exactly zero"
        if length == 0:
            for s, s0 in zip(states, init):
                for a, b in zip(s, s0):
                    torch.testing.assert_close(a[n], b[0], rtol=0, atol=0)
            continue
        alone, alone_states = layer(x[n : n + 1][:, real])
        torch.testing.assert_close(out[n][real], alone[0], rtol=1e-10, atol=1e-12)
        for s, s1 in zip(states, alone_states):
            for a, b in zip(s, s1):
                torch.testing.assert_close(a[n], b[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_lengths_equal_post_padded_mask(case):
    layer = case.make().double().eval()
    lengths = _lengths()
    x = torch.randn(N, T, layer.input_size, dtype=torch.float64)
    a, _ = layer(x, lengths=lengths)
    b, _ = layer(x, mask=_mask(lengths, T, "post"))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_last_step_output(case):
    """return_sequences=False gives the output at each row's last real step, zeros if empty."""
    layer = case.make(return_sequences=False).double().eval()
    full = case.make().double().eval()
    full.load_state_dict(layer.state_dict())
    lengths = torch.tensor([5, 3, 0])
    x = torch.randn(N, T, layer.input_size, dtype=torch.float64)
    last, _ = layer(x, lengths=lengths)
    seq, _ = full(x, lengths=lengths)
    assert torch.all(last[2] == 0)
    for n, steps in enumerate(lengths.tolist()):  # every case, bidirectional ones included
        if steps:
            alone, _ = layer(x[n : n + 1, :steps])  # the row alone, unpadded
            torch.testing.assert_close(last[n], alone[0], rtol=1e-10, atol=1e-12)
    if getattr(full, "go_backwards", False):
        torch.testing.assert_close(last[:2], seq[:2, 0])
    elif not any(s.bidirectional for s in full.specs):
        torch.testing.assert_close(last[0], seq[0, 4])
        torch.testing.assert_close(last[1], seq[1, 2])


@pytest.mark.parametrize(
    "case", [c for c in LAYERS if c.reference], ids=[c.id for c in LAYERS if c.reference]
)
@pytest.mark.parametrize("masked", [False, True])
def test_agrees_with_numpy_reference(case, masked):
    """Forward and every gradient agree with deeprnn.reference (float64 BPTT) to 1e-8."""
    layer = case.make().double().eval()
    x = torch.randn(N, T, layer.input_size, dtype=torch.float64, requires_grad=True)
    mask = _mask(_lengths(), T, "post") if masked else None
    states0, out, finals, r_out, r_fin, r_grads = run_against_reference(
        layer, x, mask, torch.float64
    )
    np.testing.assert_allclose(out.detach().numpy(), r_out, rtol=1e-8, atol=1e-10)
    for s, rs in zip(finals, r_fin):
        for a, b in zip(s, rs):
            np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), r_grads["x"], rtol=1e-8, atol=1e-10)
    for k, cell in enumerate(layer._cells()):
        for name, p in cell.named_parameters():
            np.testing.assert_allclose(
                p.grad.numpy(), r_grads[f"cell{k}.{name}"], rtol=1e-8, atol=1e-10, err_msg=name
            )
        for field, t in zip(states0[k]._fields, states0[k]):
            # None: the outputs do not read it (the LRU's h0 without a mask): a zero gradient
            grad = torch.zeros_like(t) if t.grad is None else t.grad
            np.testing.assert_allclose(
                grad.numpy(), r_grads[f"state{k}.{field}"], rtol=1e-8, atol=1e-10
            )


@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_config_and_safetensors_round_trip(case, tmp_path):
    layer = case.make().eval()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    layer.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = deeprnn.load_pretrained(tmp_path / "m")
    assert type(loaded) is type(layer)
    x = torch.randn(2, 4, layer.input_size)
    torch.testing.assert_close(loaded(x)[0], layer(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_batch_first_false_matches(case):
    layer = case.make().eval()
    tf = case.make(batch_first=False).eval()
    tf.load_state_dict(layer.state_dict())
    x = torch.randn(N, T, layer.input_size)
    lengths = _lengths()
    a, sa = layer(x, lengths=lengths)
    b, sb = tf(x.transpose(0, 1), lengths=lengths)
    torch.testing.assert_close(a, b.transpose(0, 1))
    for s1, s2 in zip(sa, sb):  # states stay batch-first either way
        for u, v in zip(s1, s2):
            torch.testing.assert_close(u, v)


@pytest.mark.parametrize(
    "case", [c for c in LAYERS if c.deterministic], ids=[c.id for c in LAYERS if c.deterministic]
)
def test_stateful_chunks_equal_whole_sequence(case):
    """Feeding a long sequence in chunks to a stateful layer equals feeding it whole."""
    layer = case.make(stateful=True).double().eval()
    if any(d == 2 for d in layer.layout) or getattr(layer, "go_backwards", False):
        pytest.skip("a backward scan over chunks is not a backward scan over the whole")
    x = torch.randn(2, 12, layer.input_size, dtype=torch.float64)
    whole, s_whole = layer(x)
    layer.reset_states()
    parts = [layer(chunk)[0] for chunk in x.split([5, 4, 3], dim=1)]
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)
    for a, b in zip(layer.states, s_whole):
        for u, v in zip(a, b):
            torch.testing.assert_close(u, v)


@pytest.mark.parametrize("case", LAYERS, ids=LAYER_IDS)
def test_eval_is_deterministic_and_train_differs_only_when_stochastic(case):
    layer = case.make()
    x = torch.randn(N, T, layer.input_size)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0], rtol=0, atol=0)
    layer.train()
    same = torch.equal(layer(x)[0], layer(x)[0])
    if case.id == "batchnorm":
        return  # deterministic in train mode too, but running stats move
    assert same == case.deterministic
