"""Seed 000 ("Deep Recurrent Neural Networks Mastering Sequential Data", slides 1-13), ported.

Each test quotes the seed's Keras / NumPy lines above the deeprnn spelling. Layer sizes are the
seed's where a parameter count is checked; data are tiny.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _seedkit import dense, embedding, fit_falls, lstm, n_params, simple_rnn, summary_total
from torch import nn

import deeprnn
from deeprnn import reference
from deeprnn.cells import GRUCell, LSTMCell


def test_s01_simple_deep_rnn_summary():
    # model = tf.keras.Sequential([
    #     tf.keras.layers.SimpleRNN(64, return_sequences=True, input_shape=(None, 1)),
    #     tf.keras.layers.SimpleRNN(32, return_sequences=True),
    #     tf.keras.layers.SimpleRNN(16),
    #     tf.keras.layers.Dense(1)])
    # model.summary()
    model = nn.Sequential(
        deeprnn.SimpleRNN(1, 64, return_state=False),
        deeprnn.SimpleRNN(64, 32, return_state=False),
        deeprnn.SimpleRNN(32, 16, return_state=False, return_sequences=False),
        nn.Linear(16, 1),
    )
    keras = simple_rnn(64, 1) + simple_rnn(32, 64) + simple_rnn(16, 32) + dense(16, 1)
    assert summary_total(model, input_size=(7, 1)) == keras
    assert model(torch.randn(3, 7, 1)).shape == (3, 1)


def test_s02_visualize_deep_rnn(tmp_path):
    # visualize_deep_rnn([4, 3, 2, 1])   # a hand-drawn matplotlib diagram of the stack
    net = deeprnn.DeepRNN(4, layers=[3, 2, 1], cell="rnn")
    path = deeprnn.viz.plot_architecture(net, tmp_path / "deep_rnn.png")
    assert path.stat().st_size > 0
    assert len(net.blocks) == 3
    assert "rnn" in deeprnn.viz.architecture_text(net).lower()


def test_s03_rnn_of_lstm_and_gru_cells():
    # lstm_cell = tf.keras.layers.LSTMCell(64); gru_cell = tf.keras.layers.GRUCell(64)
    # tf.keras.layers.RNN(lstm_cell, return_sequences=True, input_shape=(None, 1)),
    # tf.keras.layers.RNN(gru_cell), tf.keras.layers.Dense(1)
    model = nn.Sequential(
        deeprnn.Recurrent(LSTMCell(1, 64), return_state=False),
        deeprnn.Recurrent(GRUCell(64, 64), return_state=False, return_sequences=False),
        nn.Linear(64, 1),
    )
    keras = lstm(64, 1) + 3 * 64 * (64 + 64 + 2) + dense(64, 1)
    assert summary_total(model, input_size=(5, 1)) == keras
    assert model(torch.randn(2, 5, 1)).shape == (2, 1)


def _seed_bptt(x, y, h, params, learning_rate=0.1):
    """The seed's ``bptt`` (slide 4), returning its gradients instead of updating (one fix)."""
    T = len(x)
    h_states = np.zeros((T + 1, h.shape[0]))
    h_states[0] = h
    for t in range(T):
        h_states[t + 1] = np.tanh(
            np.dot(params["W"], h_states[t]) + np.dot(params["U"], x[t]) + params["b"]
        )
    y_pred = np.dot(params["V"], h_states[-1]) + params["c"]
    loss = np.sum((y_pred - y) ** 2) / 2
    dh_next = np.zeros_like(h)
    gradients = {k: np.zeros_like(v) for k, v in params.items()}
    for t in reversed(range(T)):
        # seed: `else 0`, which crashes for T > 1 (V.T @ 0 is a (4, 2) matrix): a zero vector
        dy = y_pred - y if t == T - 1 else np.zeros_like(y_pred)
        dh = np.dot(params["V"].T, dy) + dh_next
        dtanh = (1 - h_states[t + 1] ** 2) * dh
        gradients["b"] += dtanh
        gradients["W"] += np.outer(dtanh, h_states[t])
        gradients["U"] += np.outer(dtanh, x[t])
        dh_next = np.dot(params["W"].T, dtanh)
    return loss, h_states[-1], gradients


def test_s04_numpy_bptt_matches_reference_and_autograd():
    # loss, final_h, updated_params = bptt(x, y, h, params)   (W 4x4, U 4x3, V 2x4, b, c)
    rng = np.random.default_rng(0)
    x, y, h = rng.normal(size=(5, 3)), rng.normal(size=2), np.zeros(4)
    p = {"W": rng.normal(size=(4, 4)), "U": rng.normal(size=(4, 3)), "V": rng.normal(size=(2, 4))}
    p.update(b=np.zeros(4), c=np.zeros(2))
    loss, final_h, grads = _seed_bptt(x, y, h, p)
    # deeprnn.reference: the same forward, BPTT from dL/dh_T = V^T (y_pred - y)
    params = {"weight_ih": p["U"], "weight_hh": p["W"], "bias": p["b"]}
    _out, (h_T,), cache = reference.forward("rnn", x[None], (h[None],), params)
    np.testing.assert_allclose(h_T[0], final_h, atol=1e-12)
    d_final = (p["V"].T @ (p["V"] @ h_T[0] + p["c"] - y))[None]
    ref = reference.backward(cache, None, (d_final,))
    np.testing.assert_allclose(ref["weight_hh"], grads["W"], atol=1e-10)
    np.testing.assert_allclose(ref["weight_ih"], grads["U"], atol=1e-10)
    np.testing.assert_allclose(ref["bias"], grads["b"], atol=1e-10)
    # the deeprnn layer, weights copied, in float64 autograd; it also gives dV, dc (the seed
    # never computes them: its V and c are never updated)
    layer = deeprnn.SimpleRNN(3, 4, return_sequences=False, return_state=False).double()
    cell = layer.blocks[0].cell
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(p["U"]))
        cell.weight_hh.copy_(torch.from_numpy(p["W"]))
        cell.bias.zero_()
    head = nn.Linear(4, 2).double()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(p["V"]))
        head.bias.zero_()
    y_pred = head(layer(torch.from_numpy(x)[None]))[0]
    torch_loss = ((y_pred - torch.from_numpy(y)) ** 2).sum() / 2
    torch_loss.backward()
    assert abs(float(torch_loss.detach()) - loss) < 1e-10
    np.testing.assert_allclose(cell.weight_hh.grad.numpy(), grads["W"], atol=1e-10)
    np.testing.assert_allclose(cell.weight_ih.grad.numpy(), grads["U"], atol=1e-10)
    assert head.weight.grad.abs().sum() > 0


def test_s05_masking_lstm_predict():
    # padded_sequences = pad_sequences(sequences, maxlen=max_len, dtype='float32',
    #                                  padding='post', value=0.0)
    # Masking(mask_value=0., input_shape=(max_len, n_features)), LSTM(64, return_sequences=True),
    # LSTM(32), Dense(1);  model.compile(optimizer='adam', loss='mse'); model.predict(...)
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(rng.integers(1, 11), 5)) for _ in range(8)]
    padded = deeprnn.data.pad_sequences(
        sequences, maxlen=10, dtype="float32", padding="post", value=0.0
    )
    model = nn.Sequential(
        deeprnn.Masking(0.0),
        deeprnn.LSTM(5, 64, return_state=False),
        deeprnn.LSTM(64, 32, return_state=False, return_sequences=False),
        nn.Linear(32, 1),
    )
    assert summary_total(model, input_size=(10, 5)) == lstm(64, 5) + lstm(32, 64) + dense(32, 1)
    predictions = deeprnn.predict(model, padded[:5])
    assert predictions.shape == (5, 1)
    model.eval()
    for seq, pred in zip(sequences[:5], predictions):  # padding changes nothing
        alone = model(torch.tensor(seq, dtype=torch.float32)[None])[0]
        torch.testing.assert_close(alone, pred, atol=1e-5, rtol=1e-4)


def test_s06_bidirectional_fit_validation_split(tmp_path):
    # Bidirectional(LSTM(64, return_sequences=True), input_shape=(None, 5)),
    # Bidirectional(LSTM(32)), Dense(1)
    # model.compile(optimizer='adam', loss='mse')
    # history = model.fit(X, y, epochs=5, validation_split=0.2)
    # plt.plot(history.history['loss']); plt.plot(history.history['val_loss'])
    def build(h1=64, h2=32):
        return nn.Sequential(
            deeprnn.LSTM(5, h1, bidirectional=True, return_state=False),
            deeprnn.LSTM(
                2 * h1, h2, bidirectional=True, return_state=False, return_sequences=False
            ),
            nn.Linear(2 * h2, 1),
        )

    assert n_params(build()) == 2 * lstm(64, 5) + 2 * lstm(32, 128) + dense(64, 1)
    x = torch.randn(30, 4, 5)
    y = x[:, :, 0].mean(1, keepdim=True) * 3
    history = fit_falls(build(8, 4), x, y, validation_split=0.2, epochs=5)  # tiny: 8 and 4 units
    assert sorted(history.history) == ["loss", "val_loss"]
    assert deeprnn.viz.plot_curves(history, tmp_path / "loss.png").stat().st_size > 0
    # Keras' Bidirectional(layer) wrapper, spelled with a one-direction deeprnn layer:
    wrapped = deeprnn.Bidirectional(deeprnn.Recurrent(LSTMCell(5, 64), return_state=False))
    assert n_params(wrapped) == 2 * lstm(64, 5)
    assert wrapped(x).shape == (30, 4, 128)


class _AttentionModel(nn.Module):
    # inputs = Input(shape=(None, 5))
    # lstm_output, final_memory_state, final_carry_state = LSTM(64, return_sequences=True,
    #                                                           return_state=True)(inputs)
    # context_vector, attention_weights = AttentionLayer(64)(final_memory_state, lstm_output)
    # output = Dense(1)(context_vector); Model(inputs, [output, attention_weights])
    def __init__(self):
        super().__init__()
        self.lstm = deeprnn.LSTM(5, 64)  # returns (outputs, states): return_state is the default
        self.attention = deeprnn.BahdanauAttention(query_size=64, key_size=64, attention_size=64)
        self.dense = nn.Linear(64, 1)

    def forward(self, x):
        lstm_output, states = self.lstm(x)
        final_memory_state, _final_carry_state = states[0]  # h, c
        context_vector, attention_weights = self.attention(final_memory_state, lstm_output)
        return self.dense(context_vector), attention_weights


def test_s07_bahdanau_attention_layer_with_return_state():
    model = _AttentionModel()
    # Keras: W1, W2 = Dense(64) (with biases), V = Dense(1). deeprnn's W1 has no bias (it would
    # add to W2's) and v none (a constant cancels in the softmax): 65 parameters fewer.
    keras_attention = dense(64, 64) + dense(64, 64) + dense(64, 1)
    assert n_params(model.attention) == keras_attention - 65
    assert n_params(model) == lstm(64, 5) + keras_attention - 65 + dense(64, 1)
    output, weights = model(torch.randn(3, 7, 5))
    assert output.shape == (3, 1) and weights.shape == (3, 7)  # Keras: (3, 7, 1)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))


def test_s08_regularization_dropout_recurrent_dropout_l2_l1():
    # LSTM(64, return_sequences=True, dropout=0.2, recurrent_dropout=0.2,
    #      kernel_regularizer=tf.keras.regularizers.l2(0.01), input_shape=(None, 5)),
    # LSTM(32, dropout=0.2, recurrent_dropout=0.2, kernel_regularizer=l2(0.01)),
    # Dense(1, kernel_regularizer=tf.keras.regularizers.l1(0.01))
    # history = model.fit(X, y, epochs=10, validation_split=0.2)
    l2 = deeprnn.regularizers.L2(0.01)

    def build(h1=64, h2=32):
        return nn.Sequential(
            deeprnn.LSTM(
                5,
                h1,
                return_state=False,
                input_dropout=0.2,
                recurrent_dropout=0.2,
                kernel_regularizer=l2,
            ),
            deeprnn.LSTM(
                h1,
                h2,
                return_state=False,
                return_sequences=False,
                input_dropout=0.2,
                recurrent_dropout=0.2,
                kernel_regularizer=l2,
            ),
            nn.Linear(h2, 1),
        )

    model = build()
    assert n_params(model) == lstm(64, 5) + lstm(32, 64) + dense(32, 1)
    kernels = [model[0].blocks[0].cell.weight_ih, model[1].blocks[0].cell.weight_ih]
    expected = sum(0.01 * float(k.detach().pow(2).sum()) for k in kernels)
    assert abs(float(deeprnn.regularization_loss(model).detach()) - expected) < 1e-5
    model = build(8, 4)  # tiny, for training
    l1 = deeprnn.regularizers.L1(0.01)  # a plain nn.Linear has no regularizer: add it to the loss

    def loss(pred, y):
        return F.mse_loss(pred, y) + l1(model[2].weight)

    x = torch.randn(30, 4, 5)
    y = x[:, :, :2].mean((1, 2))[:, None]
    history = fit_falls(model, x, y, validation_split=0.2, epochs=5, loss=loss)
    assert "val_loss" in history


class _TransferHead(nn.Module):
    # bert_layer = hub.KerasLayer(".../bert_en_uncased_L-12_H-768_A-12/4", trainable=True)
    # pooled_output, sequence_output = bert_layer([input_word_ids, input_mask, segment_ids])
    # x = Dense(64, activation='relu')(pooled_output)
    # output = Dense(1, activation='sigmoid')(x)
    # BERT itself is not portable (a TF Hub SavedModel); a small deeprnn encoder stands in.
    def __init__(self, vocab=50, dim=8):
        super().__init__()
        self.words = nn.Embedding(vocab, dim)
        self.segments = nn.Embedding(2, dim)
        self.encoder = deeprnn.GRU(
            dim, dim, bidirectional=True, return_state=False, return_sequences=False
        )
        self.head = nn.Sequential(nn.Linear(2 * dim, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())

    def forward(self, input_word_ids, input_mask, segment_ids):
        h = self.words(input_word_ids) + self.segments(segment_ids.long())
        pooled_output = self.encoder(h, mask=input_mask.bool())
        return self.head(pooled_output)


def test_s09_transfer_three_inputs_fit():
    # model = tf.keras.Model(inputs=[input_word_ids, input_mask, segment_ids], outputs=output)
    # model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    # model.fit([input_word_ids_data, input_mask_data, segment_ids_data], labels, epochs=3,
    #           batch_size=32)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 50, (32, 8), generator=g)
    mask = torch.ones(32, 8, dtype=torch.long)
    mask[::2, 5:] = 0  # the seed's random 0/1 mask would leave holes; padding at the end here
    segments = torch.zeros(32, 8, dtype=torch.long)
    labels = (ids[:, 0] > 25).float()[:, None]
    model = _TransferHead()
    history = fit_falls(
        model,
        (ids, mask, segments),
        labels,
        epochs=4,
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    assert set(history.history) == {"loss", "accuracy"}


def test_s10_long_term_dependency_self_attention_flatten():
    # X = np.random.randn(100, seq_length, 1); y[:, 0] = X[:, 0, 0] * X[:, -1, 0]
    # lstm = LSTM(64, return_sequences=True)(inputs)
    # attention = tf.keras.layers.Attention()([lstm, lstm])
    # flatten = Flatten()(attention); outputs = Dense(1)(flatten)
    # history = model.fit(X, y, epochs=10, validation_split=0.2)
    steps, units = 8, 16  # the seed's 1000 steps and 64 units, shortened

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = deeprnn.LSTM(1, units, return_state=False)
            self.attention = deeprnn.Attention()
            self.dense = nn.Linear(steps * units, 1)

        def forward(self, x):
            lstm = self.lstm(x)
            attention, _ = self.attention(lstm, lstm)  # query, keys (= values)
            return self.dense(attention.flatten(1))  # Flatten

    model = Model()
    assert n_params(model) == lstm(units, 1) + dense(steps * units, 1)  # Attention(): no weights
    x = torch.randn(320, steps, 1)
    y = x[:, 0] * x[:, -1]
    history = fit_falls(model, x, y, validation_split=0.2, epochs=8, batch_size=32)
    assert len(history["val_loss"]) == 8


def test_s11_gradient_clipping_by_global_norm():
    # class GradientClippedModel(tf.keras.Model): ... in train_step:
    #     gradients, _ = tf.clip_by_global_norm(gradients, self.clip_value)   # clip_value = 1.0
    # LSTM(64, return_sequences=True), LSTM(32), Dense(1); model.fit(X, y, epochs=10,
    #                                                               validation_split=0.2)
    def build(h1=64, h2=32):
        return nn.Sequential(
            deeprnn.LSTM(5, h1, return_state=False),
            deeprnn.LSTM(h1, h2, return_state=False, return_sequences=False),
            nn.Linear(h2, 1),
        )

    assert n_params(build()) == lstm(64, 5) + lstm(32, 64) + dense(32, 1)
    model = build(8, 4)
    x = torch.randn(30, 4, 5)
    y = 10 * x[:, -1, :1]  # large targets: the raw gradients exceed norm 1
    fit_falls(model, x, y, validation_split=0.2, epochs=5, gradient_clip_norm=1.0)
    # what tf.clip_by_global_norm computes, by hand: g * clip / max(global_norm, clip)
    F.mse_loss(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    assert abs(float(deeprnn.clip_gradients(model, max_norm=1.0)) - float(norm)) < 1e-4
    for p, g in zip(model.parameters(), grads):
        torch.testing.assert_close(p.grad, g * 1.0 / max(float(norm), 1.0), rtol=1e-4, atol=1e-7)


def test_s12_imdb_sentiment_evaluate_accuracy():
    # Embedding(max_features=10000, 128, input_length=maxlen), LSTM(64, return_sequences=True),
    # LSTM(32), Dense(1, activation='sigmoid')
    # model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    # history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.2)
    # test_loss, test_acc = model.evaluate(x_test, y_test)
    # plt.plot(history.history['accuracy']); plt.plot(history.history['val_accuracy'])
    def build(max_features=10000, dim=128, h1=64, h2=32):
        return nn.Sequential(
            deeprnn.Embedding(max_features, dim, mask_zero=False),  # the seed masks nothing
            deeprnn.LSTM(dim, h1, return_state=False),
            deeprnn.LSTM(h1, h2, return_state=False, return_sequences=False),
            nn.Linear(h2, 1),
            nn.Sigmoid(),
        )

    keras = embedding(10000, 128) + lstm(64, 128) + lstm(32, 64) + dense(32, 1)
    assert n_params(build()) == keras
    model = build(30, 8, 8, 4)  # tiny vocabulary, reviews and layers
    g = torch.Generator().manual_seed(0)
    x_train = torch.randint(1, 30, (40, 8), generator=g)
    y_train = (x_train == 7).any(1).float()  # "positive" reviews contain word 7
    history = fit_falls(
        model,
        x_train,
        y_train,
        epochs=5,
        validation_split=0.2,
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    assert {"accuracy", "val_accuracy"} <= set(history.history)
    test_loss, test_acc = deeprnn.evaluate(model, x_train[:16], y_train[:16])
    probs = deeprnn.predict(model, x_train[:16]).reshape(-1)
    assert test_acc == pytest.approx(float(((probs > 0.5).float() == y_train[:16]).float().mean()))
    bce = torch.nn.functional.binary_cross_entropy(probs, y_train[:16])
    assert test_loss == pytest.approx(float(bce), rel=1e-5)


def _generate_time_series(batch_size, n_steps, rng):
    # the seed's generate_time_series, on a seeded generator
    freq1, freq2, offsets1, offsets2 = rng.random((4, batch_size, 1))
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.random((batch_size, n_steps)) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


def test_s13_time_series_forecast_validation_data_predict():
    # LSTM(64, return_sequences=True, input_shape=[None, 1]), LSTM(64), Dense(1)
    # model.compile(loss="mse", optimizer="adam")
    # history = model.fit(X_train, y_train, epochs=20, validation_data=(X_valid, y_valid))
    # y_pred = model.predict(X_new)
    rng = np.random.default_rng(0)
    n_steps = 12
    series = _generate_time_series(50, n_steps + 1, rng)
    X_train, y_train = series[:40, :n_steps], series[:40, -1]
    X_valid, y_valid = series[40:, :n_steps], series[40:, -1]

    def build(h=64):
        return nn.Sequential(
            deeprnn.LSTM(1, h, return_state=False),
            deeprnn.LSTM(h, h, return_state=False, return_sequences=False),
            nn.Linear(h, 1),
        )

    assert n_params(build()) == lstm(64, 1) + lstm(64, 64) + dense(64, 1)
    model = build(8)
    history = fit_falls(model, X_train, y_train, epochs=5, validation_data=(X_valid, y_valid))
    assert len(history["val_loss"]) == 5
    y_pred = deeprnn.predict(model, _generate_time_series(1, n_steps, rng))
    assert y_pred.shape == (1, 1)
