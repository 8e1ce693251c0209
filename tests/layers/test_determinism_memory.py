"""The determinism switch, activation checkpointing and long sequences."""

from __future__ import annotations

import pytest
import torch

import deeprnn

CONFIGS = {
    "plain": dict(),
    "fused_variants": dict(recurrent_dropout=0.2, zoneout=0.1, layer_norm=True),
    "bidirectional_dropout": dict(bidirectional=True, dropout=0.3),
}


def _train(config: dict, seed: int) -> dict[str, torch.Tensor]:
    deeprnn.set_deterministic(seed)
    model = deeprnn.LSTM(4, 8, 2, **config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        x = torch.randn(5, 7, 4)
        lengths = torch.randint(0, 8, (5,))
        loss = model(x, lengths=lengths)[0].square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_two_runs_give_bitwise_identical_weights(name):
    try:
        a = _train(CONFIGS[name], seed=123)
        b = _train(CONFIGS[name], seed=123)
        c = _train(CONFIGS[name], seed=124)
    finally:
        deeprnn.set_deterministic(0, enabled=False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(recurrent_dropout=0.3),
        dict(zoneout=0.2, go_backwards=True),
        dict(bidirectional=True, num_layers=2),
    ],
)
def test_checkpointing_gives_the_same_gradients(kw):
    a = deeprnn.LSTM(3, 4, **kw).double()
    b = deeprnn.LSTM(3, 4, checkpoint_steps=3, **kw).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 10, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([10, 4])
    results = []
    for m in (a, b):
        torch.manual_seed(1)
        out, states = m(x, lengths=lengths)
        grads = torch.autograd.grad(out.sum() + states[0].c.sum(), [x, *m.parameters()])
        results.append((out, *grads))
    for u, v in zip(*results):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


def test_checkpointing_saves_fewer_tensors():
    """Count what autograd keeps alive for the backward pass, with and without checkpointing."""
    from torch.autograd.graph import saved_tensors_hooks

    def saved_bytes(model):
        total = 0

        def pack(t):
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with saved_tensors_hooks(pack, lambda t: t):
            model(torch.randn(4, 400, 8))[0].sum()
        return total

    for kw in (dict(zoneout=0.1), dict(bidirectional=True)):
        plain = deeprnn.LSTM(8, 32, **kw)
        chunked = deeprnn.LSTM(8, 32, checkpoint_steps=20, **kw)
        assert saved_bytes(chunked) < 0.3 * saved_bytes(plain), kw


def test_checkpoint_steps_must_be_positive():
    with pytest.raises(ValueError, match="checkpoint_steps must be a positive int, got 0"):
        deeprnn.GRU(3, 4, checkpoint_steps=0)


def test_long_sequences_run_on_every_kernel():
    x = torch.randn(2, 3000, 2)
    for impl in ("torch", "fused"):
        out, _ = deeprnn.GRU(2, 3, impl=impl)(x, lengths=torch.tensor([3000, 1234]))
        assert out.shape == (2, 3000, 3) and torch.all(out[1, 1234:] == 0)


def test_stream_equals_whole_sequence_and_rejects_backward_scans():
    lstm = deeprnn.LSTM(3, 5, 2, residual=True).double().eval()
    x = torch.randn(2, 50, 3, dtype=torch.float64)
    whole, _ = lstm(x)
    streamed = torch.cat(list(lstm.stream(x.split([7, 20, 1, 22], dim=1))), dim=1)
    torch.testing.assert_close(streamed, whole)
    assert lstm.return_state and not lstm.stateful  # settings restored
    with pytest.raises(ValueError, match="stream needs a forward-only layer"):
        next(deeprnn.GRU(3, 4, bidirectional=True).stream([x.float()]))


def test_ten_thousand_steps_train_with_checkpointing():
    """T = 10,000 trains through the fused kernel with checkpointing (memory: see README)."""
    layer = deeprnn.LSTM(2, 16, zoneout=0.1, checkpoint_steps=500)
    x = torch.randn(2, 10_000, 2)
    out, _ = layer(x)
    out[:, -1].sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
