"""torch.compile: one graph, no breaks, for the torch-op path and the fused kernels."""

from __future__ import annotations

import pytest
import torch

import deeprnn

LENGTHS = torch.tensor([10, 3, 0, 7])
CASES = {
    "plain": (lambda: deeprnn.LSTM(8, 16, 2), False),
    "plain_lengths": (lambda: deeprnn.LSTM(8, 16, 2), True),
    "bigru_lengths": (lambda: deeprnn.GRU(8, 16, 2, bidirectional=True), True),
    "recurrent_dropout": (lambda: deeprnn.LSTM(8, 16, 2, recurrent_dropout=0.2), False),
    "zoneout_lengths": (lambda: deeprnn.GRU(8, 16, zoneout=0.1), True),
    "layer_norm": (lambda: deeprnn.LSTM(8, 16, layer_norm=True), True),
    "residual_batchnorm": (lambda: deeprnn.LSTM(8, 16, 3, residual=True, norm="batch"), True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_no_graph_breaks(name):
    make, masked = CASES[name]
    torch._dynamo.reset()
    kwargs = {"lengths": LENGTHS} if masked else {}
    explanation = torch._dynamo.explain(make())(torch.randn(4, 10, 8), **kwargs)
    assert explanation.graph_break_count == 0, [str(b.reason) for b in explanation.break_reasons]
    assert explanation.graph_count == 1


@pytest.mark.parametrize("name", ["recurrent_dropout", "layer_norm", "plain_lengths"])
def test_compiled_matches_eager_forward_and_backward(name):
    make, masked = CASES[name]
    torch._dynamo.reset()
    model = make().eval() if name == "plain_lengths" else make()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    kwargs = {"lengths": LENGTHS} if masked else {}
    x = torch.randn(4, 10, 8, requires_grad=True)
    results = []
    for m in (model, compiled):
        torch.manual_seed(0)
        out, states = m(x, **kwargs)
        grads = torch.autograd.grad(
            out.square().sum() + states[0].h.sum(), [x, *model.parameters()]
        )
        results.append((out, *grads))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
