"""The Keras models the seeds build (../shared/seeds/), run in both libraries on the same
random weights: a regression suite for the importer (sizes as in the seeds, vocabularies cut)."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_helpers import compare, input_grads, keras, randomize, roundtrip, same_param_count

L = keras.layers
RNG = np.random.default_rng(3)


def stacked_simple_rnn():
    return keras.Sequential([
        keras.Input((None, 1)), L.SimpleRNN(64, return_sequences=True),
        L.SimpleRNN(32, return_sequences=True), L.SimpleRNN(16), L.Dense(1),
    ])  # fmt: skip


def imdb_lstm():
    return keras.Sequential([
        keras.Input((None,), dtype="int64"), L.Embedding(500, 32, mask_zero=True),
        L.LSTM(64, return_sequences=True), L.LSTM(32), L.Dense(1, activation="sigmoid"),
    ])  # fmt: skip


def imdb_bidirectional():
    return keras.Sequential([
        keras.Input((None,), dtype="int64"), L.Embedding(500, 32, mask_zero=True),
        L.Bidirectional(L.LSTM(64, return_sequences=True)), L.Bidirectional(L.LSTM(32)),
        L.Dropout(0.5), L.Dense(1, activation="sigmoid"),
    ])  # fmt: skip


def c_lstm():
    return keras.Sequential([
        keras.Input((None,), dtype="int64"), L.Embedding(500, 32),
        L.Conv1D(32, 5, padding="same", activation="relu"), L.MaxPooling1D(2),
        L.LSTM(32), L.Dense(1, activation="sigmoid"),
    ])  # fmt: skip


def sine_forecaster():
    return keras.Sequential([
        keras.Input((None, 1)), L.LSTM(64, return_sequences=True), L.LSTM(64), L.Dense(1),
    ])  # fmt: skip


def encoder_decoder_attention():
    src, tgt = keras.Input((None, 5)), keras.Input((None, 3))
    enc, h, c = L.LSTM(32, return_sequences=True, return_state=True)(L.Masking(0.0)(src))
    dec = L.LSTM(32, return_sequences=True)(tgt, initial_state=[h, c])
    context = L.Attention()([dec, enc])
    both = L.Concatenate()([dec, context])
    out = L.TimeDistributed(L.Dense(4, activation="softmax"))(both)
    return keras.Model([src, tgt], out)


def _ids():
    ids = RNG.integers(1, 500, size=(4, 12))
    ids[1, 8:] = 0  # post-padded
    ids[2, :5] = 0  # pre-padded
    return [ids.astype("int64")]


def _series(features=1):
    return [RNG.normal(size=(4, 12, features)).astype("float32")]


def _seq2seq():
    src = RNG.normal(size=(4, 9, 5)).astype("float32")
    src[3, 6:] = 0.0
    return [src, RNG.normal(size=(4, 6, 3)).astype("float32")]


SEEDS = {
    "stacked_simple_rnn": (stacked_simple_rnn, _series),
    "imdb_lstm": (imdb_lstm, _ids),
    "imdb_bidirectional": (imdb_bidirectional, _ids),
    "c_lstm": (c_lstm, _ids),
    "sine_forecaster": (sine_forecaster, _series),
    "encoder_decoder_attention": (encoder_decoder_attention, _seq2seq),
}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_model(name, tmp_path):
    build, data = SEEDS[name]
    model = build()
    randomize(model, 21, scale=0.2)
    imported = roundtrip(model, tmp_path)
    inputs = data()
    compare(model, imported, inputs, f"seed:{name}")
    same_param_count(model, imported, inputs)
    if inputs[0].dtype == np.float32 and len(inputs) == 1:
        input_grads(model, imported, inputs[0], f"seed:{name}")
