"""Bad input to the seq2seq models gets a clear error naming the argument and the value."""

from __future__ import annotations

import pytest
import torch

from deeprnn.seq2seq import AttentionDecoder, Encoder, Seq2Seq, SequenceToVector, VectorToSequence
from deeprnn.seq2seq.synthetic import SyntheticTask


def _model(**kw):
    return Seq2Seq(20, go_id=2, eos_id=3, embedding_size=4, hidden_size=6, **kw)


SRC = torch.tensor([[5, 6, 7], [8, 9, 0]])
TGT = torch.tensor([[7, 3], [9, 3]])

CASES = [
    (
        "empty source",
        lambda: _model().generate(torch.zeros(2, 0, dtype=torch.long)),
        ValueError,
        r"src is empty: it must have at least one step, got \(2, 0\)",
    ),
    (
        "all-pad source row",
        lambda: _model().generate(torch.tensor([[5, 6], [0, 0]])),
        ValueError,
        r"src row 1 is empty \(every token is pad_id=0\)",
    ),
    (
        "all-pad source row, training",
        lambda: _model()(torch.tensor([[0, 0], [5, 6]]), TGT),
        ValueError,
        r"src row 0 is empty",
    ),
    (
        "unknown source id",
        lambda: _model().generate(torch.tensor([[5, 57, 7]])),
        ValueError,
        r"src contains token id 57 at position \(0, 1\); ids must be in \[0, 20\) \(vocab_size=20\)",
    ),
    (
        "negative source id",
        lambda: _model()(torch.tensor([[5, -1]]), TGT[:1]),
        ValueError,
        r"src contains token id -1 at position \(0, 1\)",
    ),
    (
        "unknown target id",
        lambda: _model()(SRC, torch.tensor([[7, 3], [25, 3]])),
        ValueError,
        r"tgt contains token id 25 at position \(1, 0\); ids must be in \[0, 20\)",
    ),
    (
        "separate vocabularies",
        lambda: _model(tgt_vocab_size=10)(SRC, torch.tensor([[7, 3], [12, 3]])),
        ValueError,
        r"tgt contains token id 12 at position \(1, 0\); ids must be in \[0, 10\)",
    ),
    (
        "empty target row",
        lambda: _model()(SRC, torch.tensor([[7, 3], [0, 0]])),
        ValueError,
        r"tgt row 1 is empty",
    ),
    (
        "target batch",
        lambda: _model()(SRC, TGT[:1]),
        ValueError,
        r"tgt must have batch size 2, got shape \(1, 2\)",
    ),
    (
        "float source",
        lambda: _model().generate(SRC.float()),
        TypeError,
        "src must be an integer tensor of token ids, got dtype torch.float32",
    ),
    (
        "source not a tensor",
        lambda: _model().generate([[5, 6]]),
        TypeError,
        "src must be a torch.Tensor of token ids, got list",
    ),
    (
        "1-D source",
        lambda: _model().generate(torch.tensor([5, 6])),
        ValueError,
        r"src must have shape \(N, T\), got \(2,\)",
    ),
    (
        "max_len 0",
        lambda: _model().generate(SRC, max_len=0),
        ValueError,
        "max_len must be a positive int, got 0",
    ),
    (
        "max_len float",
        lambda: _model().generate(SRC, max_len=5.0),
        ValueError,
        "max_len must be a positive int, got 5.0",
    ),
    (
        "beam_width 0",
        lambda: _model().generate(SRC, beam_width=0),
        ValueError,
        "beam_width must be a positive int, got 0",
    ),
    (
        "beam_width negative",
        lambda: _model().generate(SRC, beam_width=-2),
        ValueError,
        "beam_width must be a positive int, got -2",
    ),
    (
        "length_penalty",
        lambda: _model().generate(SRC, length_penalty=-0.5),
        ValueError,
        "length_penalty must be a float >= 0, got -0.5",
    ),
    (
        "teacher_forcing",
        lambda: _model()(SRC, TGT, teacher_forcing=1.5),
        ValueError,
        r"teacher_forcing must be a float in \[0, 1\], got 1.5",
    ),
    (
        "go_id range",
        lambda: Seq2Seq(20, go_id=20, eos_id=3),
        ValueError,
        r"go_id must be an int in \[0, 20\), got 20",
    ),
    ("eos_id missing", lambda: Seq2Seq(20, go_id=2), TypeError, "eos_id"),
    (
        "same special ids",
        lambda: Seq2Seq(20, go_id=2, eos_id=2),
        ValueError,
        "go_id, eos_id and pad_id must differ, got 2, 2, 0",
    ),
    (
        "shared embeddings, two vocabularies",
        lambda: _model(tgt_vocab_size=10, share_embeddings=True),
        ValueError,
        "share_embeddings needs one vocabulary, got src_vocab_size=20 and tgt_vocab_size=10",
    ),
    (
        "attention name",
        lambda: _model(attention="bahdanu"),
        ValueError,
        r"attention must be one of .* got 'bahdanu' \(did you mean 'bahdanau'\?\)",
    ),
    (
        "input feeding without attention",
        lambda: _model(attention=None, input_feeding=True),
        ValueError,
        r"input_feeding=True needs attention; got attention=None \(leave input_feeding unset",
    ),
    (
        "luong dot sizes",
        lambda: _model(attention="luong_dot"),
        ValueError,
        "score='dot' needs query_size == key_size, got 6 and 12",
    ),
    (
        "copy bridge sizes",
        lambda: _model(bridge="copy"),
        ValueError,
        r"bridge='copy' needs decoder_num_layers == num_layers and decoder_hidden_size == 2 \* hidden_size = 12",
    ),
    (
        "copy bridge cells",
        lambda: _model(bridge="copy", encoder_hidden_size=3, encoder_cell="lstm"),
        ValueError,
        "bridge='copy' needs both or neither cell to be 'lstm'",
    ),
    (
        "bridge name",
        lambda: _model(bridge="linaer"),
        ValueError,
        r"bridge must be one of \['linear', 'copy', 'none'\], got 'linaer' \(did you mean 'linear'\?\)",
    ),
    ("cell name", lambda: _model(cell="gruu"), ValueError, r"cell must be one of .* got 'gruu'"),
    (
        "decoder memory_size",
        lambda: AttentionDecoder(10, 4, 6),
        ValueError,
        "memory_size is required with attention='bahdanau'",
    ),
    (
        "decoder memory shape",
        lambda: AttentionDecoder(10, 4, 6, memory_size=5).prepare_memory(
            torch.randn(2, 3, 4), torch.ones(2, 3)
        ),
        ValueError,
        r"memory must have shape \(N, S, 5\) \(memory_size\), got \(2, 3, 4\)",
    ),
    (
        "decoder needs memory",
        lambda: AttentionDecoder(10, 4, 6, memory_size=5).step(
            torch.tensor([2]), AttentionDecoder(10, 4, 6, memory_size=5).init_state(1)
        ),
        ValueError,
        "this decoder attends: pass memory",
    ),
    (
        "decoder initial state",
        lambda: AttentionDecoder(10, 4, 6, memory_size=5).init_state(2, [torch.zeros(3, 6)]),
        ValueError,
        r"initial_state\[0\].h must have shape \(2, 6\) \(N, H\), got \(3, 6\)",
    ),
    (
        "encoder pad_id",
        lambda: Encoder(10, pad_id=10),
        ValueError,
        r"pad_id must be an int in \[0, 10\), got 10",
    ),
    (
        "features rank",
        lambda: VectorToSequence(6, 11, go_id=2, eos_id=3).generate(torch.randn(2, 3, 6)),
        ValueError,
        r"features must have 2 dimensions, got shape \(2, 3, 6\)",
    ),
    (
        "features size",
        lambda: VectorToSequence(6, 11, go_id=2, eos_id=3).generate(torch.randn(2, 5)),
        ValueError,
        r"u must have 6 features \(input_size\), got shape \(2, 5\)",
    ),
    (
        "vec2seq beam",
        lambda: VectorToSequence(6, 11, go_id=2, eos_id=3).generate(
            torch.randn(2, 6), beam_width=0
        ),
        ValueError,
        "beam_width must be a positive int, got 0",
    ),
    (
        "pooling",
        lambda: SequenceToVector(4, 6, pooling="avg"),
        ValueError,
        r"pooling must be one of \['last', 'mean', 'max', 'attention'\], got 'avg'",
    ),
    (
        "seq2vec ids",
        lambda: SequenceToVector(4, 6, vocab_size=5)(torch.tensor([[1, 9]])),
        ValueError,
        r"x contains token id 9 at position \(0, 1\)",
    ),
    (
        "synthetic kind",
        lambda: SyntheticTask("reverse_sort"),
        ValueError,
        r"kind must be one of \['reverse', 'sort', 'copy', 'dates'\], got 'reverse_sort'",
    ),
    (
        "synthetic lengths",
        lambda: SyntheticTask(min_len=5, max_len=3),
        ValueError,
        "min_len must be <= max_len, got 5 > 3",
    ),
]


@pytest.mark.parametrize(("case", "fn", "exc", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, fn, exc, message):
    with pytest.raises(exc, match=message):
        fn()


def test_attention_none_turns_input_feeding_off_by_itself():
    model = _model(attention=None)
    assert model.decoder.input_feeding is False
    assert model.get_config()["input_feeding"] is False


def test_a_target_that_starts_with_go_is_named():
    model = _model()
    src = torch.full((2, 4), 5)
    tgt = torch.full((2, 3), 5)
    tgt[1, 0] = model.go_id
    with pytest.raises(ValueError, match=r"tgt must not start with <go> .* batch index 1"):
        model(src, tgt)
