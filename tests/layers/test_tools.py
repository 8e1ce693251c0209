"""summary(), clip_gradients(), GradientProbe."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import deeprnn


def test_summary_totals_and_rows():
    net = deeprnn.DeepRNN(
        32,
        layers=[
            dict(cell="lstm", hidden_size=32, bidirectional=True),
            dict(cell="gru", hidden_size=32),
        ],
    )
    net.blocks[1].cell.weight_ih.requires_grad_(False)
    text = deeprnn.summary(net, input_size=(10, 32), print_fn=None)
    total = sum(p.numel() for p in net.parameters())
    frozen = net.blocks[1].cell.weight_ih.numel()
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total - frozen:,}" in text
    assert f"Non-trainable params: {frozen:,}" in text
    assert "Bidirectional(LSTM)  (None, 10, 64)   16,640" in text
    assert "GRU" in text and "(None, 10, 32)" in text


def test_summary_of_a_user_model_matches_keras_counts():
    class Sentiment(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10000, 32)
            self.rnn = deeprnn.SimpleRNN(32, 32, return_sequences=False, return_state=False)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            return self.out(self.rnn(self.emb(x)))

    text = deeprnn.summary(
        Sentiment(), input_data=torch.zeros(1, 20, dtype=torch.long), print_fn=None
    )
    assert "Total params: 322,113" in text  # the Keras IMDB SimpleRNN example: 320,000 + 2,080 + 33
    assert "(None, 32)" in text


def test_clip_gradients_by_norm_and_value():
    net = deeprnn.LSTM(3, 4)
    net(torch.randn(2, 5, 3))[0].pow(2).sum().mul(100).backward()
    before = deeprnn.clip_gradients(net, max_norm=0.5)
    after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net.parameters()]))
    assert before > 0.5 and after <= 0.5 + 1e-6
    deeprnn.clip_gradients(net, clip_value=1e-3)
    assert max(p.grad.abs().max() for p in net.parameters()) <= 1e-3


def test_gradient_probe_records_total_derivative_per_step():
    net = deeprnn.SimpleRNN(2, 3, return_state=False)
    x = torch.randn(4, 6, 2)
    with deeprnn.GradientProbe(net) as probe:
        net(x)[:, -1].sum().backward()
    norms = probe.norms()["blocks.0"]
    assert norms.shape == (6,)
    torch.testing.assert_close(
        norms[-1], torch.tensor(12.0).sqrt(), check_dtype=False
    )  # dL/dh_T = ones (4, 3)
    # a manual unrolled check of step T-2: dL/dh_{T-2} = W^T (1 - h_{T-1}^2) * 1
    assert float(norms[0]) < float(norms[-1])  # tanh RNN: the gradient decays back in time
    assert net.blocks[0]._probe is None and net.blocks[0].impl == "auto"


def test_gradient_probe_shows_lstm_keeps_gradients_longer_than_simplernn():
    torch.manual_seed(0)
    x = torch.randn(8, 60, 4)
    ratios = {}
    for name, layer in {"rnn": deeprnn.SimpleRNN(4, 32), "lstm": deeprnn.LSTM(4, 32)}.items():
        with deeprnn.GradientProbe(layer) as probe:
            layer(x)[0][:, -1].sum().backward()
        n = probe.norms()["blocks.0"]
        ratios[name] = float(n[0] / n[-1])
    assert ratios["lstm"] > ratios["rnn"]


def test_gradient_norms_per_step_takes_a_name_a_class_or_a_layer():
    import deeprnn
    from deeprnn.viz import gradient_norms_per_step

    by_name = gradient_norms_per_step("lstm", 12)
    assert by_name.shape == (12,)
    assert (gradient_norms_per_step(deeprnn.LSTMCell, 12) == by_name).all()
    assert (gradient_norms_per_step(deeprnn.LSTM, 12) == by_name).all()
    layer = deeprnn.GRU(16, 8, return_state=False)
    assert gradient_norms_per_step(layer, 7).shape == (7,)
    with pytest.raises(ValueError, match=r"cell must be one of .* a deeprnn cell or layer class"):
        gradient_norms_per_step("transformer", 12)


def test_gradient_probe_says_when_it_recorded_nothing():
    import deeprnn

    net = deeprnn.SimpleRNN(2, 3, return_state=False)
    probe = deeprnn.GradientProbe(net)
    net(torch.randn(1, 4, 2)).sum().backward()  # outside the with block: nothing recorded
    with pytest.raises(RuntimeError, match=r"recorded nothing: run the forward and the backward"):
        probe.norms()
