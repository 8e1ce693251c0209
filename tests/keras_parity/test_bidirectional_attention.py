"""Bidirectional (every merge mode, masks, return_state) and the two attention layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _keras_helpers import compare, input_grads, keras, randomize, roundtrip, same_param_count

L = keras.layers
RNG = np.random.default_rng(2)
X = RNG.normal(size=(3, 6, 4)).astype("float32")
XM = X.copy()
XM[1, 4:] = 0.0  # post-padded
XM[2, :3] = 0.0  # pre-padded


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode, tmp_path):
    inp = keras.Input((None, 4))
    h = L.Masking(0.0)(inp)
    out = L.Bidirectional(L.GRU(5, return_sequences=True), merge_mode=merge_mode)(h)
    model = keras.Model(inp, out)
    randomize(model, 11)
    imported = roundtrip(model, tmp_path)
    compare(model, imported, [XM], f"bidi:{merge_mode}")
    if merge_mode is not None:
        input_grads(model, imported, XM, f"bidi:{merge_mode}")
        same_param_count(model, imported, [XM])


@pytest.mark.parametrize("kind", ["LSTM", "SimpleRNN"])
def test_bidirectional_return_state_last(kind, tmp_path):
    inp = keras.Input((None, 4))
    h = L.Masking(0.0)(inp)
    outs = L.Bidirectional(getattr(L, kind)(5, return_state=True))(h)
    model = keras.Model(inp, outs)
    randomize(model, 12)
    imported = roundtrip(model, tmp_path)
    compare(model, imported, [XM], f"bidi_state:{kind}")


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.Attention(),
        lambda: L.Attention(use_scale=True),
        lambda: L.Attention(use_scale=True, score_mode="concat"),
        lambda: L.AdditiveAttention(),
        lambda: L.AdditiveAttention(use_scale=False),
    ],
    ids=["dot", "dot_scale", "concat", "additive", "additive_noscale"],
)
def test_attention_with_masks(make, tmp_path, request):
    q_in, v_in = keras.Input((None, 4)), keras.Input((None, 4))
    q, v = L.Masking(0.0)(q_in), L.Masking(0.0)(v_in)
    context = make()([q, v])
    model = keras.Model([q_in, v_in], context)
    randomize(model, 13)
    imported = roundtrip(model, tmp_path)
    query = RNG.normal(size=(3, 2, 4)).astype("float32")
    query[0, 1] = 0.0  # a masked query step
    compare(model, imported, [query, XM], f"attention:{request.node.callspec.id}")


def test_attention_scores_and_grads(tmp_path):
    inp = keras.Input((None, 4))
    seq = L.LSTM(4, return_sequences=True)(inp)
    context, scores = L.Attention(use_scale=True)([seq, seq], return_attention_scores=True)
    model = keras.Model(inp, [context, scores])
    randomize(model, 14)
    imported = roundtrip(model, tmp_path)
    compare(model, imported, [X], "attention_scores")
    input_grads(model, imported, X, "attention_scores")


def test_unknown_and_lambda_layers_fail_by_name(tmp_path):
    from deeprnn.interop import keras_import

    model = keras.Sequential([keras.Input((None, 4)), L.LSTM(3), L.Lambda(lambda t: t * 2)])
    model.save(tmp_path / "lam.keras", zipped=True)
    with pytest.raises(ValueError, match=r"layer 'lambda.*' \(Lambda\)"):
        keras_import(tmp_path / "lam.keras")
    model = keras.Sequential([keras.Input((None, 4)), L.LSTM(3), L.BatchNormalization()])
    model.save(tmp_path / "bn.keras")
    with pytest.raises(ValueError, match=r"layer 'batch_normalization.*' \(BatchNormalization\)"):
        keras_import(tmp_path / "bn.keras")


def test_weights_h5_with_config(tmp_path):
    from deeprnn.interop import keras_import

    model = keras.Sequential([keras.Input((None, 4)), L.GRU(5, reset_after=False), L.Dense(2)])
    randomize(model, 15)
    model.save_weights(tmp_path / "m.weights.h5")
    (tmp_path / "m.json").write_text(model.to_json())
    imported = keras_import(tmp_path / "m.weights.h5", config=tmp_path / "m.json")
    compare(model, imported, [X], "weights_h5")
    with pytest.raises(ValueError, match="needs config="):
        keras_import(tmp_path / "m.weights.h5")


def test_save_pretrained_round_trip(tmp_path):
    import deeprnn

    model = keras.Sequential([keras.Input((None, 4)), L.Masking(), L.LSTM(5), L.Dense(1)])
    randomize(model, 16)
    imported = roundtrip(model, tmp_path)
    imported.save_pretrained(tmp_path / "out")
    again = deeprnn.load_pretrained(tmp_path / "out")
    x = torch.as_tensor(XM)
    torch.testing.assert_close(again(x), imported(x), rtol=0, atol=0)


def test_bidirectional_initial_state_and_stateful(tmp_path):
    inp = keras.Input(batch_shape=(3, 6, 4))
    states = [keras.Input(batch_shape=(3, 5)) for _ in range(4)]
    out = L.Bidirectional(L.LSTM(5, return_sequences=True))(inp, initial_state=states)
    model = keras.Model([inp, *states], out)
    randomize(model, 17)
    imported = roundtrip(model, tmp_path)
    init = [RNG.normal(size=(3, 5)).astype("float32") for _ in range(4)]
    compare(model, imported, [X, *init], "bidi_initial_state")

    seq = keras.Sequential([keras.Input(batch_shape=(3, 6, 4)),
                            L.Bidirectional(L.GRU(5, stateful=True, return_sequences=True))])  # fmt: skip
    randomize(seq, 18)
    imported = roundtrip(seq, tmp_path, "stateful")
    for i in range(2):
        compare(seq, imported, [X + i], f"bidi_stateful:{i}")
