"""deeprnn -> Keras: plain stacks, both ways round."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _keras_helpers import assert_close, keras

import deeprnn
from deeprnn.interop import to_keras

X = np.random.default_rng(4).normal(size=(3, 6, 4)).astype("float32")


@pytest.mark.parametrize(
    "make",
    [
        lambda: deeprnn.LSTM(4, 5, num_layers=2, return_state=False),
        lambda: deeprnn.GRU(4, 5, reset_after=False, return_state=False, return_sequences=False),
        lambda: deeprnn.GRU(4, 5, bidirectional=True, merge_mode="sum", return_state=False),
        lambda: deeprnn.SimpleRNN(4, 5, activation="relu", return_state=False),
    ],
    ids=["lstm2", "gru_before", "bigru_sum", "rnn_relu"],
)
def test_to_keras_matches(make, request):
    torch.manual_seed(0)
    layer = make().eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.uniform_(-0.5, 0.5)
    x = X.copy()
    x[1, 4:] = 0.0
    model = to_keras(layer)
    mask = torch.as_tensor((x != 0).any(-1))
    expect = layer(torch.as_tensor(x), mask=mask)
    got = model(x, training=False)
    assert_close(layer(torch.as_tensor(x)), got, f"to_keras:{request.node.callspec.id}")
    masked = keras.Sequential([keras.Input((None, 4)), keras.layers.Masking(0.0), *model.layers])
    assert_close(expect, masked(x, training=False), f"to_keras_mask:{request.node.callspec.id}")
    assert model.count_params() == sum(p.numel() for p in layer.parameters())


def test_to_keras_refuses_inexact():
    with pytest.raises(ValueError, match="layer_norm=True"):
        to_keras(deeprnn.LSTM(4, 5, layer_norm=True))
    with pytest.raises(ValueError, match="go_backwards=True"):
        to_keras(deeprnn.GRU(4, 5, go_backwards=True))
