"""Hypothesis: the masking equivalence over random shapes, lengths, padding sides and stacks."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

import deeprnn


@st.composite
def problems(draw):
    batch = draw(st.integers(1, 4))
    steps = draw(st.integers(1, 7))
    lengths = draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch))
    cell = draw(st.sampled_from(["lstm", "gru", "rnn", "minimal_gru"]))
    layers = [
        dict(cell=cell, hidden_size=draw(st.integers(1, 5)), bidirectional=draw(st.booleans()))
        for _ in range(draw(st.integers(1, 3)))
    ]
    return dict(
        batch=batch,
        steps=steps,
        lengths=lengths,
        layers=layers,
        side=draw(st.sampled_from(["pre", "post"])),
        backwards=draw(st.booleans()),
        input_size=draw(st.integers(1, 4)),
        seed=draw(st.integers(0, 2**16)),
    )


@given(problems())
def test_padded_batch_equals_each_row_alone(p):
    torch.manual_seed(p["seed"])
    net = (
        deeprnn.DeepRNN(p["input_size"], layers=p["layers"], go_backwards=p["backwards"])
        .double()
        .eval()
    )
    x = torch.randn(p["batch"], p["steps"], p["input_size"], dtype=torch.float64)
    lengths = torch.tensor(p["lengths"])
    pos = torch.arange(p["steps"])[None]
    mask = pos < lengths[:, None] if p["side"] == "post" else pos >= (p["steps"] - lengths)[:, None]
    out, states = net(x, mask=mask)
    assert torch.all(out[~mask] == 0)
    for n in range(p["batch"]):
        if lengths[n] == 0:
            assert all(torch.all(t[n] == 0) for s in states for t in s)
            continue
        alone, alone_states = net(x[n : n + 1, mask[n]])
        torch.testing.assert_close(out[n, mask[n]], alone[0])
        for s, s1 in zip(states, alone_states):
            for a, b in zip(s, s1):
                torch.testing.assert_close(a[n], b[0])
