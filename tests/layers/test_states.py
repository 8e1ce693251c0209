"""The state layout, helpers, stateful use and per-row resets."""

from __future__ import annotations

import pytest
import torch

import deeprnn
from deeprnn import LSTMState, RNNState, States


def test_layout_and_selection():
    net = deeprnn.DeepRNN(
        4,
        layers=[
            dict(cell="lstm", hidden_size=6, bidirectional=True),
            dict(cell="gru", hidden_size=5),
        ],
    )
    _, states = net(torch.randn(3, 7, 4))
    assert states.layout == (2, 1) and len(states) == 3
    assert isinstance(states[0], LSTMState) and isinstance(states[2], RNNState)
    assert states.select(0, "backward") is states[1]
    assert states.layer(-1) == (states[2],)
    assert states.direction("backward") == (states[1],)
    assert states.select(1).h.shape == (3, 5)
    with pytest.raises(ValueError, match="layer 1 is unidirectional"):
        states.select(1, "backward")
    with pytest.raises(ValueError, match="direction must be 'forward' or 'backward', got 'up'"):
        states.select(0, "up")
    with pytest.raises(
        ValueError, match=r"to_torch needs one hidden size in every layer, got \[5, 6\]"
    ):
        states.to_torch()


def test_states_are_batch_first_and_to_torch_matches_torch_layout():
    lstm = deeprnn.LSTM(3, 4, 2, bidirectional=True, batch_first=False)
    _, states = lstm(torch.randn(6, 2, 3))  # (T, N, I)
    assert states[0].h.shape == (2, 4)
    h, c = states.to_torch()
    assert h.shape == (4, 2, 4) and c.shape == (4, 2, 4)
    assert torch.equal(h[3], states.select(1, "backward").h)


def test_initial_state_round_trip_and_per_layer_states():
    lstm = deeprnn.LSTM(3, 4, 2)
    x = torch.randn(2, 5, 3)
    _, s1 = lstm(x)
    out_a, _ = lstm(x, initial_state=s1)
    out_b, _ = lstm(x, initial_state=[tuple(s) for s in s1])
    torch.testing.assert_close(out_a, out_b)
    out_c, _ = lstm(x)
    assert not torch.allclose(out_a, out_c)


def test_single_layer_accepts_a_tensor_or_a_state():
    gru = deeprnn.GRU(3, 4)
    h0 = torch.randn(2, 4)
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(gru(x, initial_state=h0)[0], gru(x, initial_state=RNNState(h0))[0])


def test_stateful_reset_chosen_rows_only():
    """Restart row 1 of a stream mid-batch: it then equals a fresh start; row 0 carries on."""
    torch.manual_seed(0)
    layer = deeprnn.LSTM(3, 4, 2, stateful=True).eval()
    a, b = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    layer(a)
    carried = [tuple(t.clone() for t in s) for s in layer.states]
    layer.reset_states(torch.tensor([False, True]))
    out, _ = layer(b)
    fresh = deeprnn.LSTM(3, 4, 2).eval()
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(out[1], fresh(b[1:2])[0][0])
    torch.testing.assert_close(
        out[0], fresh(b[0:1], initial_state=[tuple(t[0:1] for t in s) for s in carried])[0][0]
    )


def test_stateful_bidirectional_and_batch_size_change():
    layer = deeprnn.GRU(3, 4, 2, bidirectional=True, stateful=True)
    layer(torch.randn(2, 5, 3))
    assert layer.states.layout == (2, 2)
    assert not layer.states[0].h.requires_grad  # carried states are detached
    with pytest.raises(
        ValueError, match="stateful layer carries states for batch size 2, got x with batch size 3"
    ):
        layer(torch.randn(3, 5, 3))
    layer.reset_states()
    assert layer(torch.randn(3, 5, 3))[0].shape == (3, 5, 8)
    with pytest.raises(ValueError, match=r"mask must be a bool tensor of shape \(3,\), got \(2,\)"):
        layer.reset_states(torch.tensor([True, False]))


def test_states_container_checks_layout():
    with pytest.raises(ValueError, match=r"layout \(2,\) describes 2 states, got 1"):
        States([RNNState(torch.zeros(1, 2))], (2,))
