"""Conv1D / pooling front ends and heads, and what importing must never do."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from _keras_helpers import compare, input_grads, keras, randomize, roundtrip

L = keras.layers
X = np.random.default_rng(5).normal(size=(2, 9, 3)).astype("float32")


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [
            L.Conv1D(4, 3, padding="causal", dilation_rate=2),
            L.AveragePooling1D(2, padding="same"),
        ],
        lambda: [
            L.Conv1D(4, 4, strides=2, padding="same", activation="tanh"),
            L.GlobalMaxPooling1D(),
        ],
        lambda: [
            L.Conv1D(4, 2),
            L.MaxPooling1D(3, strides=2, padding="same"),
            L.Flatten(),
            L.Dense(2),
        ],
        lambda: [L.Masking(), L.GRU(4, return_sequences=True), L.GlobalAveragePooling1D()],
        lambda: [
            L.LSTM(4),
            L.RepeatVector(3),
            L.SimpleRNN(2, return_sequences=True),
            L.TimeDistributed(L.Dense(3, activation="gelu")),
        ],
    ],
    ids=["causal_avgpool", "strided_same_gmax", "valid_maxpool_flatten", "masked_gap", "repeat"],
)
def test_front_end_parity(layers, tmp_path, request):
    model = keras.Sequential([keras.Input((9, 3)), *layers()])
    randomize(model, 41)
    imported = roundtrip(model, tmp_path)
    x = X.copy()
    x[1, 6:] = 0.0
    compare(model, imported, [x], f"front:{request.node.callspec.id}")
    input_grads(model, imported, x, f"front:{request.node.callspec.id}")


def test_import_deeprnn_does_not_import_keras():
    code = "import sys, deeprnn, deeprnn.interop; assert 'keras' not in sys.modules, 'keras'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reader_never_extracts_or_unpickles(tmp_path, monkeypatch):
    import pickle
    import zipfile

    from deeprnn.interop import keras_import

    model = keras.Sequential([keras.Input((None, 3)), L.LSTM(2)])
    model.save(tmp_path / "m.keras")

    def refuse(*a, **k):
        raise AssertionError("must not be called")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    keras_import(tmp_path / "m.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]
