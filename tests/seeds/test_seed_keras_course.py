"""Seed 004 ("Deep Learning: Deep Sequential Models", NumPy and Keras slides), ported."""

import math

import numpy as np
import torch
from _seedkit import dense, embedding, fit_falls, gru, lstm, n_params, simple_rnn
from torch import nn

import deeprnn
from deeprnn.cells import SimpleRNNCell


def test_d01_rnn_step_and_stacking():
    # def RNN_step(x): s = np.tanh(np.dot(W, s) + np.dot(U, x)); y = np.dot(V, h)
    # y1 = RNN.step(x); y2 = RNN.step(y1)        # "go deep by stacking RNNs"
    stack = deeprnn.SimpleRNN(3, 4, num_layers=2, bias=False, return_state=False)
    x = torch.randn(2, 5, 3)
    cells = [block.cell for block in stack.blocks]
    assert all(isinstance(c, SimpleRNNCell) for c in cells)
    s1, s2 = cells[0].initial_state(2), cells[1].initial_state(2)
    ys = []
    for t in range(5):
        y1, s1 = cells[0](x[:, t], s1)  # s = tanh(W s + U x)
        y2, s2 = cells[1](y1, s2)  # the second layer steps on the first one's output
        ys.append(y2)
    torch.testing.assert_close(stack(x), torch.stack(ys, dim=1))
    first, _ = cells[0](x[:, 0], cells[0].initial_state(2))
    torch.testing.assert_close(first, torch.tanh(x[:, 0] @ cells[0].weight_ih.T))  # s_0 = 0


def test_d02_numpy_simple_rnn_matches_layer():
    # timesteps = 100; input_features = 32; output_features = 64
    # for input_t in inputs:
    #     output_t = np.tanh(np.dot(W, input_t) + np.dot(U, state_t) + b)
    #     successive_outputs.append(output_t); state_t = output_t
    # final_output_sequence = np.concatenate(successive_outputs, axis=0)
    rng = np.random.default_rng(0)
    timesteps, input_features, output_features = 100, 32, 64
    inputs = rng.random((timesteps, input_features))
    state_t = np.zeros((output_features,))
    W = rng.random((output_features, input_features)) * 0.1
    U = rng.random((output_features, output_features)) * 0.1
    b = rng.random((output_features,))
    successive_outputs = []
    for input_t in inputs:
        output_t = np.tanh(np.dot(W, input_t) + np.dot(U, state_t) + b)
        successive_outputs.append(output_t)
        state_t = output_t
    # the seed's concatenate(axis=0) gives one (6400,) vector; the (T, H) sequence it means is
    final_output_sequence = np.stack(successive_outputs, axis=0)
    layer = deeprnn.SimpleRNN(input_features, output_features, return_state=False).double()
    cell = layer.blocks[0].cell
    with torch.no_grad():  # the seed's W is the kernel, U the recurrent kernel (torch layout)
        cell.weight_ih.copy_(torch.from_numpy(W))
        cell.weight_hh.copy_(torch.from_numpy(U))
        cell.bias.copy_(torch.from_numpy(b))
    out = layer(torch.from_numpy(inputs)[None])[0].detach().numpy()
    np.testing.assert_allclose(out, final_output_sequence, atol=1e-12)
    assert np.concatenate(successive_outputs, axis=0).shape == (6400,)


def test_d03_simple_rnn_full_keras_signature():
    # tf.keras.layers.SimpleRNN(units, activation="tanh", use_bias=True,
    #     kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
    #     bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
    #     bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
    #     recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
    #     return_sequences=False, return_state=False, go_backwards=False, stateful=False,
    #     unroll=False)
    layer = deeprnn.SimpleRNN(
        14,
        16,
        activation="tanh",
        bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer="l2",
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer="l1",
        kernel_constraint="max_norm",
        recurrent_constraint=None,
        bias_constraint="non_neg",
        input_dropout=0.2,
        recurrent_dropout=0.2,  # Keras' dropout is input_dropout here
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
    )  # unroll: no such option; impl="loop" is the readable unrolled loop
    cell = layer.blocks[0].cell
    limit = math.sqrt(6 / (14 + 16))  # glorot_uniform: U(-limit, limit), fan_in + fan_out
    assert cell.weight_ih.abs().max() <= limit
    torch.testing.assert_close(cell.weight_hh @ cell.weight_hh.T, torch.eye(16), atol=1e-5, rtol=0)
    assert cell.bias.eq(0).all()
    assert n_params(layer) == simple_rnn(16, 14)
    out = layer(torch.randn(3, 7, 14))
    assert out.shape == (3, 16)
    assert float(layer.regularization_loss().detach()) > 0
    layer.eval()
    x = torch.randn(3, 7, 14)
    torch.testing.assert_close(layer(x), layer(x))  # dropout off outside training


def test_d04_orthogonal_matrix_by_qr():
    # H = np.random.randn(n, n); Q, R = qr(H); print(Q.dot(Q.T))    # the identity
    H = torch.randn(3, 3, dtype=torch.float64)
    Q, _R = torch.linalg.qr(H)
    torch.testing.assert_close(Q @ Q.T, torch.eye(3, dtype=torch.float64))
    layer = deeprnn.SimpleRNN(3, 3, recurrent_initializer="orthogonal")
    W = layer.blocks[0].cell.weight_hh.detach()
    torch.testing.assert_close(W @ W.T, torch.eye(3), atol=1e-5, rtol=0)
    v = torch.randn(3)
    assert abs(float((W @ v).norm() - v.norm())) < 1e-4  # norm-preserving


def test_d05_return_sequences_shapes():
    # inputs = keras.Input(shape=(steps, num_features))       # 120, 14
    # outputs = layers.SimpleRNN(16, return_sequences=False)(inputs)  -> (None, 16)
    # outputs = layers.SimpleRNN(16, return_sequences=True)(inputs)   -> "(120, 16)"
    inputs = torch.randn(2, 120, 14)
    last = deeprnn.SimpleRNN(14, 16, return_sequences=False, return_state=False)
    every = deeprnn.SimpleRNN(14, 16, return_sequences=True, return_state=False)
    assert last(inputs).shape == (2, 16)
    assert every(inputs).shape == (2, 120, 16)  # (None, 120, 16): the slide drops the batch axis


def test_d06_return_state_and_initial_state():
    # "Note that LSTM has 2 state tensors, but GRU only has one."
    # "To configure the initial state of the layer, call the layer with initial_state."
    x = torch.randn(2, 5, 4)
    lstm_layer = deeprnn.LSTM(4, 8)  # return_state=True is the default
    _, states = lstm_layer(x)
    assert len(states[0]) == 2  # (h, c)
    gru_layer = deeprnn.GRU(4, 8)
    _, gru_states = gru_layer(x)
    assert len(gru_states[0]) == 1  # (h,)
    decoder = deeprnn.LSTM(4, 8, return_sequences=False, return_state=False)
    resumed = decoder(x, initial_state=states)  # the encoder's final states start it
    assert not torch.allclose(resumed, decoder(x))
    assert n_params(gru_layer) == gru(8, 4) and n_params(lstm_layer) == lstm(8, 4)


def test_d07_stateful_cross_batch_and_reset_states():
    # "break them into shorter sequences and feed these sequentially into a RNN layer without
    #  resetting the layer's state ... by setting stateful=True in the constructor."
    layer = deeprnn.LSTM(2, 6, stateful=True, return_state=False)
    x = torch.randn(3, 12, 2)
    chunks = [layer(part) for part in x.split(4, dim=1)]
    layer.reset_states()
    whole = layer(x)
    torch.testing.assert_close(torch.cat(chunks, dim=1), whole, atol=1e-5, rtol=1e-4)
    layer.reset_states()  # model.reset_states() between independent sequences
    torch.testing.assert_close(layer(x[:, :4]), whole[:, :4])


def test_d08_embedding_dropout_lstm_softmax_summary_and_fit():
    # model.add(Embedding(vocab_size, embedding_dim)); model.add(Dropout(0.5))
    # model.add(LSTM(embedding_dim, return_sequences=True)); model.add(LSTM(embedding_dim))
    # model.add(Dense(6, activation='softmax')); model.summary()
    #   embedding 320000 | dropout 0 | lstm 33024 | lstm_1 33024 | dense 390 | Total 386,438
    def build(vocab_size=5000, embedding_dim=64):
        return nn.Sequential(
            deeprnn.Embedding(vocab_size, embedding_dim, mask_zero=False),
            nn.Dropout(0.5),
            deeprnn.LSTM(embedding_dim, embedding_dim, return_state=False),
            deeprnn.LSTM(embedding_dim, embedding_dim, return_state=False, return_sequences=False),
            nn.Linear(embedding_dim, 6),
            nn.Softmax(dim=-1),
        )

    model = build()
    text = deeprnn.summary(model, input_data=torch.randint(0, 5000, (1, 9)), print_fn=None)
    assert "Total params: 386,438" in text
    for count in ("320,000", "33,024", "390"):
        assert count in text
    keras = embedding(5000, 64) + 2 * lstm(64, 64) + dense(64, 6)
    assert keras == 386438
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 20, (48, 6), generator=g)
    y = x[:, 0] % 6  # the class is in the first word
    history = fit_falls(
        build(20, 8),
        x,
        y,
        epochs=8,
        batch_size=16,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    assert "accuracy" in history


def test_fit_falls_rejects_a_model_that_ignores_its_input():
    """The kit's check is not satisfied by a falling loss alone: a model that learns only the
    targets' mean makes the loss fall too, and must fail."""
    import pytest

    class MeanOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.bias.expand(x.shape[0], 1)

    from _seedkit import assert_uses_its_input

    torch.manual_seed(0)
    x = torch.randn(64, 5, 2)
    y = x.sum((1, 2))[:, None] + 3.0
    model = MeanOnly()
    losses = deeprnn.fit(model, x, y, epochs=6, lr=0.1, verbose=False, accelerator="cpu")["loss"]
    assert losses[-1] < losses[0]  # the loss fell...
    with pytest.raises(AssertionError):
        assert_uses_its_input(model, x, y)  # ...but not by reading the input
    with pytest.raises(AssertionError):
        fit_falls(MeanOnly(), x, y, epochs=6, lr=0.1)
