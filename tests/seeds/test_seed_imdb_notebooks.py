"""Seeds 001 (the "Deep RNNs" IMDb notebook) and 002 (the RNN seminar's IMDb and CNN + RNN
sections), ported. The seeds train on IMDb; here the reviews are tiny synthetic ones."""

import re

import numpy as np
import torch
from _seedkit import dense, embedding, fit_falls, gru, lstm, n_params, simple_rnn, summary_total
from torch import nn

import deeprnn


def _reviews(n=40, vocab=30, steps=10, seed=0):
    """Tiny reviews, pre-padded as Keras' pad_sequences does (the seeds' maxlen=100 / 40);
    positive when they contain word 7."""
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, vocab, size=rng.integers(3, steps + 4)) for _ in range(n)]
    x = deeprnn.data.pad_sequences(seqs, maxlen=steps)  # padding="pre", truncating="pre"
    y = np.array([float((row == 7).any()) for row in x], dtype=np.float32)
    return torch.from_numpy(x).long(), torch.from_numpy(y)


def _stack(rnn, vocab=10000, dim=32, units=5):
    # Sequential([Embedding(input_dim=10000, output_dim=32), RNN(5, return_sequences=True),
    #             RNN(5), Dense(1, activation='sigmoid')])
    return nn.Sequential(
        deeprnn.Embedding(vocab, dim),  # mask_zero=True: the pre-padding is skipped
        rnn(dim, units, return_state=False),
        rnn(units, units, return_state=False, return_sequences=False),
        nn.Linear(units, 1),
        nn.Sigmoid(),
    )


def test_n12_embedding_simple_rnn_summary():
    # model.build(input_shape=(None, 100)); model.summary()   (In [12])
    model = _stack(deeprnn.SimpleRNN)
    keras = embedding(10000, 32) + simple_rnn(5, 32) + simple_rnn(5, 5) + dense(5, 1)
    ids = torch.randint(1, 10000, (1, 100))
    assert summary_total(model, input_data=ids) == keras
    assert model(ids).shape == (1, 1)


def test_n13_embedding_lstm_summary():
    # Sequential([Embedding(10000, 32), LSTM(5, return_sequences=True), LSTM(5),
    #             Dense(1, activation='sigmoid')]); model.build((None, 100))   (In [13])
    model = _stack(deeprnn.LSTM)
    keras = embedding(10000, 32) + lstm(5, 32) + lstm(5, 5) + dense(5, 1)
    assert summary_total(model, input_data=torch.randint(1, 10000, (1, 100))) == keras


def test_n14_embedding_gru_summary():
    # Sequential([Embedding(10000, 32), GRU(5, return_sequences=True), GRU(5),
    #             Dense(1, activation='sigmoid')]); model.build((None, 100))   (In [14])
    # (the seed never imports GRU: its cell raises NameError as written)
    model = _stack(deeprnn.GRU)
    keras = embedding(10000, 32) + gru(5, 32) + gru(5, 5) + dense(5, 1)
    assert summary_total(model, input_data=torch.randint(1, 10000, (1, 100))) == keras


def test_n15_compile_fit_validation_split():
    # model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    # history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.2)
    x_train, y_train = _reviews()
    model = _stack(deeprnn.GRU, vocab=30, dim=8, units=5)
    history = fit_falls(
        model,
        x_train,
        y_train,
        epochs=5,
        batch_size=32,
        validation_split=0.2,
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.params["steps"] == 1  # 32 training samples, batch_size=32


def test_p01_embedding_layer_shapes():
    # embedding = Embedding(input_dim=1000, output_dim=64)
    # input (32, 10) integers -> (32, 10, 64)
    emb = deeprnn.Embedding(1000, 64)
    out = emb(torch.randint(0, 1000, (32, 10)))
    assert out.shape == (32, 10, 64) and n_params(emb) == embedding(1000, 64)


def test_p02_imdb_embedding_flatten_dense_summary_and_fit():
    # model.add(Embedding(input_dim=max_features, output_dim=embedding_dimension,
    #                     input_length=maxlen))        # 10000, 8, 40
    # model.add(Flatten()); model.add(Dense(1, activation='sigmoid'))
    # model.compile(optimizer="rmsprop", loss='binary_crossentropy', metrics=['acc'])
    # model.summary()   ->  80000, 0, 321; Total params: 80,321
    # model.fit(x_train, y_train, epochs=10, batch_size=32, validation_split=0.2)
    def build(max_features=10000, dim=8, maxlen=40):
        return nn.Sequential(
            nn.Embedding(max_features, dim), nn.Flatten(), nn.Linear(maxlen * dim, 1), nn.Sigmoid()
        )

    model = build()
    text = deeprnn.summary(model, input_data=torch.randint(0, 10000, (1, 40)), print_fn=None)
    assert "Total params: 80,321" in text
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^(\d)\s.*?([\d,]+)\s*$", text, re.M)}
    assert (rows["0"], rows["1"], rows["2"]) == ("80,000", "0", "321")
    assert "(None, 40, 8)" in text and "(None, 320)" in text
    x_train, y_train = _reviews(steps=10)
    history = fit_falls(
        build(30, 8, 10),
        x_train,
        y_train,
        epochs=5,
        optimizer="rmsprop",
        validation_split=0.2,
        loss="binary_crossentropy",
        metrics=["acc"],
    )
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]


def test_p03_conv1d_front_end_before_rnn():
    # "use a 1D convnet as a preprocessing step before an RNN, shortening the sequence"
    # Conv1D(32, 5, activation='relu'), MaxPooling1D(3), GRU(32), Dense(1)  (the C-LSTM idea)
    class ConvGRU(nn.Module):
        def __init__(self, features=4, filters=32, units=32):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv1d(features, filters, 5), nn.ReLU(), nn.MaxPool1d(3))
            self.gru = deeprnn.GRU(filters, units, return_state=False, return_sequences=False)
            self.dense = nn.Linear(units, 1)

        def forward(self, x):  # (N, T, F)
            h = self.conv(x.transpose(1, 2)).transpose(1, 2)  # Conv1d wants (N, F, T)
            return self.dense(self.gru(h))

    keras = (5 * 4 * 32 + 32) + gru(32, 32) + dense(32, 1)
    assert n_params(ConvGRU()) == keras
    model = ConvGRU(4, 8, 8)
    x = torch.randn(30, 32, 4)  # 32 steps -> 28 after the convolution -> 9 after pooling
    assert model.conv(x.transpose(1, 2)).shape == (30, 8, 9)
    fit_falls(model, x, x[:, :, 0].mean(1, keepdim=True) * 4, epochs=5)
