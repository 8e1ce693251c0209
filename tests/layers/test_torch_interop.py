"""Agreement with torch.nn.RNN/LSTM/GRU after conversion, both ways."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import deeprnn
from _registry import LAYERS

TORCH_CASES = [
    (nn.LSTM, dict(num_layers=2, bidirectional=True)),
    (nn.LSTM, dict(num_layers=1)),
    (nn.LSTM, dict(num_layers=3, bias=False)),
    (nn.GRU, dict(num_layers=2, bidirectional=True)),
    (nn.GRU, dict(num_layers=1)),
    (nn.RNN, dict(num_layers=2, nonlinearity="relu", bidirectional=True)),
    (nn.RNN, dict(num_layers=1, nonlinearity="tanh")),
]


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("cls,kwargs", TORCH_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_from_torch_matches_outputs_states_and_grads(cls, kwargs, batch_first):
    ref = cls(5, 7, batch_first=batch_first, **kwargs).double()
    ours = deeprnn.from_torch(ref)
    assert ours.batch_first == batch_first
    x = torch.randn(4, 6, 5, dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1)
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    out_t, st_t = ref(x1)
    out_d, st_d = ours(x2)
    torch.testing.assert_close(out_d, out_t, rtol=1e-10, atol=1e-12)
    lstm = isinstance(st_t, tuple)
    h_t, c_t = st_t if lstm else (st_t, None)
    states = st_d.to_torch()
    h_d, c_d = states if lstm else (states, None)
    torch.testing.assert_close(h_d, h_t, rtol=1e-10, atol=1e-12)
    if lstm:
        torch.testing.assert_close(c_d, c_t, rtol=1e-10, atol=1e-12)
    # every output feeds the loss: outputs, h and (LSTM) c, so each one's gradient path counts
    weights = torch.linspace(0.5, 1.5, h_t.numel(), dtype=torch.float64).view_as(h_t)
    loss_t = out_t.square().sum() + (h_t * weights).sum() + (0 if c_t is None else c_t.sum())
    loss_d = out_d.square().sum() + (h_d * weights).sum() + (0 if c_d is None else c_d.sum())
    loss_t.backward()
    loss_d.backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-9, atol=1e-11)
    _assert_parameter_grads_match(ours, ref)


def _assert_parameter_grads_match(ours, ref) -> None:
    """Our parameter gradients, laid out as torch's parameters (``to_torch`` of a copy whose
    weights are the gradients), equal torch's. deeprnn's LSTM / SimpleRNN keep one bias (torch's
    ``b_ih + b_hh``): its gradient is each of torch's two bias gradients."""
    import copy

    grads = copy.deepcopy(ours)
    with torch.no_grad():
        for p, g in zip(grads.parameters(), ours.parameters()):
            assert g.grad is not None
            p.copy_(g.grad)
    as_torch = dict(deeprnn.to_torch(grads).named_parameters())
    ref_grads = {n: p.grad for n, p in ref.named_parameters()}
    assert as_torch.keys() == ref_grads.keys()
    for name, g in ref_grads.items():
        if name.startswith("bias_hh") and not torch.any(as_torch[name]):  # one combined bias
            torch.testing.assert_close(g, ref_grads[name.replace("bias_hh", "bias_ih")])
            continue
        torch.testing.assert_close(as_torch[name], g, rtol=1e-9, atol=1e-11, msg=name)


def test_from_torch_with_packed_lengths_matches():
    """torch needs a PackedSequence for variable lengths; deeprnn takes `lengths`."""
    ref = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    ours = deeprnn.from_torch(ref)
    lengths = torch.tensor([6, 4, 1])
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_p, (h_p, c_p) = ref(packed)
    out_t, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=6)
    out_d, states = ours(x, lengths=lengths)
    torch.testing.assert_close(out_d, out_t)
    h_d, c_d = states.to_torch()
    torch.testing.assert_close(h_d, h_p)
    torch.testing.assert_close(c_d, c_p)


@pytest.mark.parametrize("case", [c for c in LAYERS if c.torch_equivalent], ids=lambda c: c.id)
def test_to_torch_round_trip(case):
    layer = case.make().double().eval()
    module = layer.to_torch()
    x = torch.randn(2, 5, layer.input_size, dtype=torch.float64)
    torch.testing.assert_close(module(x)[0], layer(x)[0])
    back = deeprnn.from_torch(module)
    torch.testing.assert_close(back(x)[0], layer(x)[0])


def test_to_torch_rejects_what_torch_lacks():
    with pytest.raises(ValueError, match="layer_norm=True"):
        deeprnn.LSTM(3, 4, layer_norm=True).to_torch()
    with pytest.raises(ValueError, match="reset_after=False"):
        deeprnn.GRU(3, 4, reset_after=False).to_torch()
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        deeprnn.SimpleRNN(3, 4, activation="sigmoid").to_torch()


def test_from_torch_rejects_other_modules():
    with pytest.raises(TypeError, match=r"torch\.nn\.LSTM, GRU or RNN, got Linear"):
        deeprnn.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"proj_size=2"):
        deeprnn.from_torch(nn.LSTM(3, 4, proj_size=2))
