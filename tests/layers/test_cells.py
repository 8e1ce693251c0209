"""Generic suites over every cell: one step, gradients, the reference, parameters, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

import deeprnn
from _registry import CELL_IDS, CELLS
from deeprnn import reference as ref


@pytest.mark.parametrize("case", CELLS, ids=CELL_IDS)
def test_cell_gradcheck_float64(case):
    cell = case.make().double()
    x = torch.randn(2, cell.input_size, dtype=torch.float64, requires_grad=True)
    s0 = [
        t.requires_grad_(True)
        for t in (torch.randn_like(t) for t in cell.initial_state(2, dtype=torch.float64))
    ]
    params = {k: v.detach().clone().requires_grad_(True) for k, v in cell.named_parameters()}

    def fn(x, *rest):
        state = rest[: len(s0)]
        p = dict(zip(params, rest[len(s0) :]))
        h, new = functional_call(cell, p, (x, tuple(state)))
        return h, *new

    assert torch.autograd.gradcheck(fn, (x, *s0, *params.values()))


@pytest.mark.parametrize(
    "case", [c for c in CELLS if c.ref_kind], ids=[c.id for c in CELLS if c.ref_kind]
)
def test_cell_step_equals_reference(case):
    cell = case.make().double()
    x = torch.randn(3, cell.input_size, dtype=torch.float64)
    state = tuple(torch.randn_like(t) for t in cell.initial_state(3, dtype=torch.float64))
    rec_mask = (torch.rand(3, cell.hidden_size) > 0.3).double() / 0.7
    linear = bool(getattr(cell, "scan_kind", ""))  # minGRU / minLSTM / LRU: no W_hh to mask
    if linear:
        rec_mask = None
    h, new = cell(x, state, recurrent_mask=rec_mask)
    params = {k: v.detach().numpy() for k, v in cell.named_parameters()}
    out, fin, _ = ref.forward(
        case.ref_kind,
        x[:, None].numpy(),
        tuple(t.numpy() for t in state),
        params,
        rec_mask=None if rec_mask is None else rec_mask.numpy(),
        activation=case.activation,
        **({"candidate": cell.candidate} if hasattr(cell, "candidate") else {}),
    )
    np.testing.assert_allclose(h.detach().numpy(), out[:, 0], rtol=1e-12, atol=1e-12)
    for a, b in zip(new, fin):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "cls,kwargs,count",
    [
        (deeprnn.SimpleRNNCell, {}, 2080),
        (deeprnn.LSTMCell, {}, 8320),
        (deeprnn.GRUCell, {}, 6336),
        (deeprnn.GRUCell, {"reset_after": False}, 6240),
    ],
)
def test_keras_parameter_counts(cls, kwargs, count):
    """SimpleRNN(32) / LSTM(32) / GRU(32) on 32 inputs, as Keras' model.summary() reports."""
    assert sum(p.numel() for p in cls(32, 32, **kwargs).parameters()) == count


@pytest.mark.parametrize(
    "layer,count",
    [
        (lambda: deeprnn.SimpleRNN(32, 32), 2080),
        (lambda: deeprnn.LSTM(32, 32), 8320),
        (lambda: deeprnn.GRU(32, 32), 6336),
        (lambda: deeprnn.LSTM(32, 32, bidirectional=True), 2 * 8320),
    ],
)
def test_keras_parameter_counts_of_layers(layer, count):
    assert sum(p.numel() for p in layer().parameters()) == count


def test_keras_initialisation():
    cell = deeprnn.LSTMCell(6, 5)
    w = cell.weight_hh.detach()  # (4H, H): orthonormal columns, like Keras' orthogonal (H, 4H) rows
    torch.testing.assert_close(w.T @ w, torch.eye(5), atol=1e-5, rtol=0)
    limit = (6 / (6 + 20)) ** 0.5  # Glorot uniform over the (I, 4H) kernel
    assert cell.weight_ih.abs().max() <= limit
    assert torch.equal(cell.bias[5:10], torch.ones(5))  # unit forget bias
    assert torch.count_nonzero(cell.bias[:5]) == 0 and torch.count_nonzero(cell.bias[10:]) == 0


def test_torch_initialisation():
    cell = deeprnn.GRUCell(6, 16, init="torch")
    for p in cell.parameters():
        assert p.abs().max() <= 0.25
        assert p.abs().max() > 0.1  # not zeros or Keras' scheme
    assert torch.count_nonzero(cell.bias_ih) > 0


@pytest.mark.parametrize("case", CELLS, ids=CELL_IDS)
def test_cell_config_round_trip(case, tmp_path):
    cell = case.make()
    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    cell.save_pretrained(tmp_path)
    loaded = deeprnn.load_pretrained(tmp_path)
    x = torch.randn(2, cell.input_size)
    torch.testing.assert_close(loaded(x)[0], cell(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("case", CELLS, ids=CELL_IDS)
def test_initial_state_is_zeros_of_the_right_type(case):
    cell = case.make()
    s = cell.initial_state(3)
    assert type(s) is cell.state_type
    assert all(t.shape == (3, cell.hidden_size) and not t.any() for t in s)
