"""Every plot function writes a non-blank PNG; the architecture walker names every layer."""

import numpy as np
import pytest
import torch
from _pngcheck import check_png

import deeprnn
from deeprnn.viz import (
    architecture_text,
    confusion_matrix,
    describe,
    plot_architecture,
    plot_attention,
    plot_attention_grid,
    plot_confusion,
    plot_forecast,
    plot_hidden_states,
)


def mixed_stack():
    return deeprnn.DeepRNN(
        8,
        layers=[
            dict(cell="lstm", hidden_size=32, bidirectional=True, recurrent_dropout=0.25),
            dict(cell="gru", hidden_size=24, bidirectional=True),
            dict(cell="rnn", hidden_size=16, activation="relu"),
        ],
        residual=True,
        norm="batch",
        dropout=0.2,
        zoneout=0.1,
    )


def seq2seq():
    return deeprnn.Seq2Seq(
        20, 30, go_id=1, eos_id=2, embedding_size=16, hidden_size=32, encoder_layers=2
    )


def test_architecture_text_names_every_layer_of_a_mixed_stack():
    text = architecture_text(mixed_stack())
    lines = text.splitlines()
    assert lines[0] == f"DeepRNN: {sum(p.numel() for p in mixed_stack().parameters()):,} parameters"
    layer_lines = {
        name: next(x for x in lines if x.startswith(name))
        for name in ("blocks.0", "blocks.1", "blocks.2")
    }
    assert "Bidirectional LSTM" in layer_lines["blocks.0"]
    assert "8 → 2×32 → 64 (concat)" in layer_lines["blocks.0"]
    assert "recurrent dropout 0.25" in layer_lines["blocks.0"]
    assert "Bidirectional GRU" in layer_lines["blocks.1"]
    assert "residual (projection 64→48)" in layer_lines["blocks.1"]
    assert "SimpleRNN  48 → 16" in layer_lines["blocks.2"]
    assert "activation relu" in layer_lines["blocks.2"]
    assert "Bidirectional" not in layer_lines["blocks.2"]
    assert "residual" not in layer_lines["blocks.0"]
    assert sum("BatchNorm (masked)" in x for x in lines) == 2  # between layers only
    assert sum("Dropout 0.2" in x for x in lines) == 2


def test_describe_blocks_and_directions():
    blocks = describe(mixed_stack())
    rnn = [b for b in blocks if b.category == "rnn"]
    assert [b.bidirectional for b in rnn] == [True, True, False]
    assert [b.skip is not None for b in rnn] == [False, True, True]
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        describe("lstm")


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda: deeprnn.LSTM(4, 8, num_layers=2, bidirectional=True, highway=True),
            ["blocks.1  Bidirectional LSTM  16 → 2×8 → 16 (concat)", "+ highway connection"],
        ),
        (lambda: deeprnn.GRU(4, 8, go_backwards=True), ["blocks.0  GRU  4 → 8  backwards ←"]),
        (
            lambda: deeprnn.Bidirectional(deeprnn.Recurrent(deeprnn.SimpleRNNCell(3, 5))),
            ["bidirectional  Bidirectional SimpleRNN  3 → 2×5 → 10 (concat)"],
        ),
    ],
    ids=["lstm-highway", "gru-backwards", "bidirectional"],
)
def test_architecture_of_layers(make, expected):
    text = architecture_text(make())
    for line in expected:
        assert line in text, text


def test_architecture_seq2seq_columns():
    text = architecture_text(seq2seq())
    enc, dec = text.index("[encoder]"), text.index("[decoder]")
    assert enc < text.index("encoder.rnn.blocks.1  Bidirectional GRU") < dec
    assert dec < text.index("decoder.attention     BahdanauAttention")
    assert "Bridge" in text and "decoder.output        Linear  32 → 30" in text


def test_plot_architecture(png):
    check_png(plot_architecture(mixed_stack(), png("mixed")), min_bytes=20_000)
    check_png(plot_architecture(seq2seq(), png("s2s")), min_bytes=20_000)


def test_plot_forecast_marks_the_horizon(png):
    t = np.arange(30, dtype=float)
    series = np.stack([np.sin(t / 3), np.cos(t / 3)])
    path = plot_forecast(
        series[:, :24],
        series[:, 24:],
        series[:, 24:] + 0.1,
        png("fc"),
        baseline=np.repeat(series[:, 23:24], 6, 1),
        n=2,
    )
    check_png(path)
    with pytest.raises(ValueError, match="truth and pred"):
        plot_forecast(series[:, :24], series[:, 24:], series[:, 25:], png("bad"))


def test_plot_attention_tensor_tokens_and_crop(png):
    w = torch.softmax(torch.randn(5, 7), -1)  # (T, S), the last 2 source positions padding
    check_png(plot_attention(w, list("abcde"), ["A", "B", "C", "D", "<eos>"], png("att"), "t"))
    check_png(plot_attention(w[None], None, None, png("att_positions")))
    with pytest.raises(ValueError, match="8 source tokens"):
        plot_attention(w, list("abcdefgh"), list("ABCDE"), png("x"))
    with pytest.raises(ValueError, match=r"\(T, S\)"):
        plot_attention(torch.rand(7), None, None, png("x"))


def test_plot_attention_grid(png):
    examples = [
        (torch.eye(4), list("abcd"), list("ABCD"), "identity"),
        (np.full((3, 5), 0.2), list("vwxyz"), list("XYZ")),
    ]
    check_png(plot_attention_grid(examples, png("grid"), title="two", cols=2))
    with pytest.raises(ValueError, match="at least one"):
        plot_attention_grid([], png("x"))


def test_confusion_matrix_counts_and_plot(png):
    labels = ["neg", "pos", "neutral"]
    y_true = ["neg", "neg", "pos", "pos", "neutral"]
    y_pred = [0, 1, 1, 1, 0]
    cm = confusion_matrix(y_true, y_pred, labels)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    check_png(plot_confusion(y_true, y_pred, labels, png("cm")))
    check_png(plot_confusion(y_true, y_pred, labels, png("cm_counts"), normalize=False))
    with pytest.raises(ValueError, match="'happy' that is not in labels"):
        plot_confusion(["happy"], [0], labels, png("x"))
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], labels)


def test_plot_hidden_states(png):
    net = deeprnn.LSTM(3, 12, return_state=False)
    with torch.no_grad():
        states = net(torch.randn(1, 9, 3))[0]  # (T, H)
    check_png(plot_hidden_states(states, png("hidden"), tokens=list("abcdefghi")))
    check_png(plot_hidden_states(np.random.default_rng(0).normal(size=(40, 100)), png("h2")))
    with pytest.raises(ValueError, match="3 tokens for 9 steps"):
        plot_hidden_states(states, png("x"), tokens=list("abc"))
    with pytest.raises(ValueError, match=r"\(T, H\)"):
        plot_hidden_states(torch.zeros(4), png("x"))
