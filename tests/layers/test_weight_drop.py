"""``weight_dropout``: DropConnect on the recurrent matrices (AWD-LSTM's weight drop). A training
call equals the same network run with ``W_hh * m / (1 - p)`` put in place of every ``W_hh``
(one mask per call: the same at every step and row), on every kernel; its gradient reaches
``W_hh`` through the mask; evaluation and ``p = 0`` are the plain network."""

from __future__ import annotations

import copy

import pytest
import torch

import deeprnn
from deeprnn.layers.regularizers import drop_recurrent_weights

P = 0.4


def _net(cell: str, impl: str, bidirectional: bool = False, p: float = P):
    torch.manual_seed(0)
    kinds = {"lstm": deeprnn.LSTM, "gru": deeprnn.GRU, "rnn": deeprnn.SimpleRNN}
    return kinds[cell](3, 5, 2, bidirectional=bidirectional, impl=impl, weight_dropout=p,
                       return_state=False).double()  # fmt: skip


def _with_masks(net, seed: int):
    """A copy of ``net`` without weight drop whose W_hh are the dropped ones of a call seeded
    ``seed``, and the masks (scaled by 1 / (1 - p))."""
    torch.manual_seed(seed)
    masks = {n: torch.nn.functional.dropout(torch.ones_like(w), P) for n, w in
             net.named_parameters() if n.endswith("weight_hh")}  # fmt: skip
    ref = copy.deepcopy(net)
    ref.weight_dropout = 0.0
    with torch.no_grad():
        for name, m in masks.items():
            ref.get_parameter(name).mul_(m)
    return ref, masks


@pytest.mark.parametrize("impl", ["torch", "fused", "loop"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_a_training_call_is_the_network_with_dropped_recurrent_matrices(cell, impl, bidirectional):
    net = _net(cell, impl, bidirectional).train()
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    lengths = torch.tensor([9, 3, 6, 1])
    ref, masks = _with_masks(net, seed=7)
    assert len(masks) == 2 * (2 if bidirectional else 1)
    torch.manual_seed(7)
    out = net(x, lengths=lengths)
    expected = ref.train()(x, lengths=lengths)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    for name, m in masks.items():  # d/dW of f(W * m) = m * f'(W * m)
        torch.testing.assert_close(net.get_parameter(name).grad, ref.get_parameter(name).grad * m)
    for name, p in net.named_parameters():
        if name not in masks:
            torch.testing.assert_close(p.grad, ref.get_parameter(name).grad, msg=name)


def test_each_call_draws_a_new_mask_and_evaluation_drops_nothing():
    net = _net("lstm", "auto").train()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    assert not torch.allclose(net(x), net(x))
    plain = copy.deepcopy(net)
    plain.weight_dropout = 0.0
    net.eval()
    torch.testing.assert_close(net(x), plain.eval()(x))
    zero = _net("lstm", "auto", p=0.0).train()
    torch.manual_seed(3)
    a = zero(x)
    torch.manual_seed(3)
    torch.testing.assert_close(a, zero(x))  # p = 0 consumes no randomness, drops nothing


def test_the_function_draws_one_mask_per_recurrent_matrix():
    net = _net("gru", "auto", bidirectional=True)
    dropped = drop_recurrent_weights(net, 0.5)
    assert sorted(dropped) == sorted(n for n, _ in net.named_parameters() if "weight_hh" in n)
    for name, w in dropped.items():
        kept = w != 0
        torch.testing.assert_close(w[kept], 2 * net.get_parameter(name)[kept])
        assert 0 < kept.double().mean() < 1


def test_config_round_trip_and_refusals():
    net = deeprnn.DeepRNN(3, hidden_size=4, num_layers=2, weight_dropout=0.3)
    assert net.get_config()["weight_dropout"] == 0.3
    assert deeprnn.DeepRNN.from_config(net.get_config()).weight_dropout == 0.3
    assert "weight_dropout=0.3" in repr(net)
    with pytest.raises(ValueError, match="weight_dropout must be 0 with MinGRUCell"):
        deeprnn.MinGRU(3, 4, weight_dropout=0.2)
    with pytest.raises(ValueError, match="weight_dropout"):
        deeprnn.LSTM(3, 4, weight_dropout=1.5)
