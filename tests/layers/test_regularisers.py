"""Recurrent dropout, zoneout, dropout between layers, masked batch norm."""

from __future__ import annotations

import pytest
import torch

import deeprnn
from deeprnn.layers import MaskedBatchNorm1d, Recurrent


def test_recurrent_dropout_uses_one_mask_for_every_step():
    """With W_hh = I and inputs zero, each step sees h_{t-1} * m with the same m."""
    cell = deeprnn.SimpleRNNCell(2, 64, activation="identity", bias=False)
    layer = Recurrent(cell, recurrent_dropout=0.5, return_state=False, impl="loop").train()
    seen = []
    original = cell.step

    def spy(xp, state, recurrent_mask=None):
        seen.append(recurrent_mask)
        return original(xp, state, recurrent_mask)

    cell.step = spy
    layer(torch.randn(3, 6, 2))
    assert len(seen) == 6 and seen[0] is not None
    assert all(torch.equal(m, seen[0]) for m in seen)
    values = set(seen[0].unique().tolist())
    assert values <= {0.0, 2.0} and len(values) == 2  # inverted dropout at p = 0.5
    seen.clear()
    layer(torch.randn(3, 6, 2))
    assert not torch.equal(seen[0], seen[0].new_full(seen[0].shape, 2.0))


def test_recurrent_dropout_is_identity_in_eval():
    a = deeprnn.LSTM(3, 8, 2, recurrent_dropout=0.4).eval()
    b = deeprnn.LSTM(3, 8, 2).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 7, 3)
    torch.testing.assert_close(a(x)[0], b(x)[0], rtol=0, atol=0)


def test_recurrent_dropout_changes_training_outputs():
    a = deeprnn.GRU(3, 8, recurrent_dropout=0.4).train()
    x = torch.randn(2, 7, 3)
    assert not torch.equal(a(x)[0], a.eval()(x)[0])


def test_zoneout_eval_is_the_expectation():
    """In eval, zoneout mixes old and new state with weights p and 1 - p."""
    p = 0.3
    z = deeprnn.GRU(2, 4, zoneout=p, return_state=False).eval()
    plain = deeprnn.GRU(2, 4, return_state=False).eval()
    plain.load_state_dict(z.state_dict())
    x = torch.randn(1, 1, 2)
    torch.testing.assert_close(z(x), (1 - p) * plain(x))  # one step from h0 = 0


def test_zoneout_train_keeps_some_units():
    torch.manual_seed(3)
    layer = deeprnn.LSTM(2, 256, zoneout=0.5, return_state=False).train()
    out = layer(torch.randn(1, 2, 2))
    # a zoned-out unit at step 2 keeps its step-1 value exactly
    kept = (out[0, 1] == out[0, 0]).float().mean()
    assert 0.3 < kept < 0.7


def test_dropout_between_layers_only():
    """torch semantics: no dropout after the last layer, so one layer ignores it (and warns)."""
    with pytest.warns(deeprnn.DeepRNNWarning, match="input_dropout"):
        one = deeprnn.LSTM(3, 5, dropout=0.9).train()
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(one(x)[0], one(x)[0], rtol=0, atol=0)
    two = deeprnn.LSTM(3, 5, 2, dropout=0.9).train()
    assert not torch.equal(two(x)[0], two(x)[0])


def test_masked_batch_norm_ignores_padding():
    bn = MaskedBatchNorm1d(3, momentum=1.0).train()
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    y = bn(x, mask)
    real = x[mask]  # (5, 3)
    torch.testing.assert_close(bn.running_mean, real.mean(0))
    torch.testing.assert_close(bn.running_var, real.var(0, unbiased=True))
    torch.testing.assert_close(
        y[mask], (real - real.mean(0)) / torch.sqrt(real.var(0, unbiased=False) + 1e-5)
    )
    assert torch.all(y[~mask] == 0)
    # padding values must not change anything
    x2 = x.clone()
    x2[~mask] = 1e6
    torch.testing.assert_close(
        MaskedBatchNorm1d(3).train()(x2, mask), MaskedBatchNorm1d(3).train()(x, mask)
    )


def test_masked_batch_norm_empty_batch_keeps_running_stats():
    bn = MaskedBatchNorm1d(2).train()
    bn(torch.randn(2, 3, 2), torch.zeros(2, 3, dtype=torch.bool))
    assert torch.equal(bn.running_mean, torch.zeros(2)) and torch.equal(
        bn.running_var, torch.ones(2)
    )


def test_highway_starts_near_the_carry_path_and_projects():
    net = deeprnn.DeepRNN(3, layers=[4, 6], cell="gru", highway=True)
    assert isinstance(net.skips[0], torch.nn.Linear) and net.skips[0].weight.shape == (6, 4)
    assert torch.all(net.gates[0].bias == -1)


def test_residual_identity_when_sizes_match():
    net = deeprnn.LSTM(3, 4, 3, residual=True)
    assert all(isinstance(s, torch.nn.Identity) for s in net.skips)
    assert len(net.skips) == 2


def test_masked_output_carry_repeats_the_previous_output():
    """Keras' behaviour: a masked step outputs the last real output (zeros before any)."""
    layer = deeprnn.GRU(2, 3, masked_output="carry", return_state=False).eval()
    zero = deeprnn.GRU(2, 3, return_state=False).eval()
    zero.load_state_dict(layer.state_dict())
    x = torch.randn(1, 5, 2)
    mask = torch.tensor([[False, True, False, False, True]])
    carry, plain = layer(x, mask=mask), zero(x, mask=mask)
    assert torch.all(carry[0, 0] == 0)
    torch.testing.assert_close(carry[0, 2], plain[0, 1])
    torch.testing.assert_close(carry[0, 3], plain[0, 1])
    torch.testing.assert_close(carry[0, 4], plain[0, 4])
