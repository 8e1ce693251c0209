"""Layer by layer: each recurrent layer and option against Keras on random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _keras_helpers import (
    assert_close,
    compare,
    input_grads,
    keras,
    randomize,
    roundtrip,
    same_param_count,
)

L = keras.layers
RNG = np.random.default_rng(1)
X = RNG.normal(size=(3, 7, 4)).astype("float32")


def _build(layer, steps=None, features=4, seed=0):
    model = keras.Sequential([keras.Input((steps, features)), layer])
    randomize(model, seed)
    return model


CASES = {
    "lstm": lambda: L.LSTM(5),
    "lstm_seq": lambda: L.LSTM(5, return_sequences=True),
    "lstm_nobias": lambda: L.LSTM(5, use_bias=False, return_sequences=True),
    "gru_after": lambda: L.GRU(5, return_sequences=True),
    "gru_before": lambda: L.GRU(5, reset_after=False, return_sequences=True),
    "gru_last": lambda: L.GRU(5),
    **{
        f"rnn_{a}": (lambda a=a: L.SimpleRNN(5, activation=a, return_sequences=True))
        for a in ("tanh", "relu", "sigmoid", "linear")
    },
    "rnn_cell_lstm": lambda: L.RNN(L.LSTMCell(5), return_sequences=True),
    "rnn_cell_gru": lambda: L.RNN(L.GRUCell(5)),
    "lstm_backwards": lambda: L.LSTM(5, go_backwards=True, return_sequences=True),
    "gru_backwards_last": lambda: L.GRU(5, go_backwards=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_parity(case, tmp_path):
    model = _build(CASES[case]())
    imported = roundtrip(model, tmp_path)
    compare(model, imported, [X], case)
    input_grads(model, imported, X, case)
    same_param_count(model, imported, [X])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_return_state_and_initial_state(kind, tmp_path):
    n_states = 2 if kind == "LSTM" else 1
    inp = keras.Input((None, 4))
    states_in = [keras.Input((5,)) for _ in range(n_states)]
    out = getattr(L, kind)(5, return_sequences=True, return_state=True)(
        inp, initial_state=states_in
    )
    model = keras.Model([inp, *states_in], out)
    randomize(model, 3)
    imported = roundtrip(model, tmp_path)
    init = [RNG.normal(size=(3, 5)).astype("float32") for _ in range(n_states)]
    compare(model, imported, [X, *init], f"{kind}:state")


def test_go_backwards_documented_relation(tmp_path):
    """deeprnn's own layer keeps backward outputs aligned with the input; Keras returns them in
    scan order: keras(x) == deeprnn_layer(x).flip(1)."""
    model = _build(L.LSTM(5, go_backwards=True, return_sequences=True))
    imported = roundtrip(model, tmp_path)
    rnn = imported.layers_[model.layers[-1].name].rnn  # the plain deeprnn.LSTM inside
    aligned, _ = rnn(torch.as_tensor(X))
    assert_close(aligned.flip(1), model(X), "go_backwards:relation")


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("backwards", [False, True])
def test_masking_parity(kind, padding, backwards, tmp_path):
    x = X.copy()
    lengths = [7, 4, 0]
    for n, length in enumerate(lengths):
        if padding == "post":
            x[n, length:] = 0.0
        else:
            x[n, : 7 - length] = 0.0
    model = keras.Sequential([
        keras.Input((None, 4)), L.Masking(0.0),
        getattr(L, kind)(5, return_sequences=True, go_backwards=backwards),
        getattr(L, kind)(3),
    ])  # fmt: skip
    randomize(model, 5)
    imported = roundtrip(model, tmp_path)
    label = f"mask:{kind}:{padding}:{'bwd' if backwards else 'fwd'}"
    compare(model, imported, [x], label)
    if kind == "LSTM":
        input_grads(model, imported, x, label)


def test_stateful_across_calls(tmp_path):
    model = keras.Sequential([keras.Input(batch_shape=(3, 7, 4)),
                              L.GRU(5, stateful=True, return_sequences=True)])  # fmt: skip
    randomize(model, 2)
    imported = roundtrip(model, tmp_path)
    for i in range(3):
        compare(model, imported, [X * (i + 1)], f"stateful:{i}")
    model.layers[-1].reset_state()
    imported.reset_states()
    compare(model, imported, [X], "stateful:reset")


def test_embedding_mask_zero_into_lstm(tmp_path):
    ids = np.array([[3, 5, 1, 0, 0], [0, 0, 2, 9, 4], [0, 0, 0, 0, 0]], dtype="int64")
    model = keras.Sequential([
        keras.Input((None,), dtype="int64"), L.Embedding(10, 4, mask_zero=True),
        L.LSTM(5, return_sequences=True), L.LSTM(3), L.Dense(2, activation="softmax"),
    ])  # fmt: skip
    randomize(model, 7)
    imported = roundtrip(model, tmp_path)
    compare(model, imported, [ids], "embedding_mask_zero")
    same_param_count(model, imported, [ids])
