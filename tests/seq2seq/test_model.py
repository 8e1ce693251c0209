"""Seq2Seq, VectorToSequence, SequenceToVector: masking, teacher forcing, sharing, configs."""

from __future__ import annotations

import pytest
import torch

import deeprnn
from deeprnn.seq2seq import (
    AttentionDecoder,
    Bridge,
    Encoder,
    Seq2Seq,
    SequenceToVector,
    VectorToSequence,
    reverse_padded,
    sequence_loss,
    teacher_forcing_ratio,
)

CONFIGS = {
    "gru_bahdanau": dict(),
    "lstm_luong_general_2x2": dict(
        cell="lstm", attention="luong_general", encoder_layers=2, decoder_layers=2, dropout=0.1
    ),
    "gru_concat_reversed_nofeed": dict(
        attention="luong_concat", input_feeding=False, reverse_source=True
    ),
    "lstm_dot_copy_bridge": dict(
        cell="lstm", attention="luong_dot", encoder_hidden_size=6, bridge="copy"
    ),
    "plain_shared_tied": dict(
        attention=None, input_feeding=False, tie_embeddings=True, share_embeddings=True
    ),
    "tied_feeding_unidirectional": dict(tie_embeddings=True, bidirectional=False, bridge="none"),
}
NAMES = sorted(CONFIGS)


def _model(name: str, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    model = Seq2Seq(13, go_id=2, eos_id=3, embedding_size=8, hidden_size=12, **CONFIGS[name])
    with torch.no_grad():  # spread the output distribution so <eos> shows up in short outputs
        for p in model.parameters():
            p.mul_(3.0)
    return model.double().eval()


SRC = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 0, 0, 0], [0, 0, 11, 12, 4], [5, 0, 0, 0, 0]])
TGT = torch.tensor(
    [[8, 7, 6, 5, 4, 3], [10, 9, 3, 0, 0, 0], [4, 12, 11, 3, 0, 0], [5, 3, 0, 0, 0, 0]]
)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("width", [1, 3])
def test_padded_batch_decodes_the_same_as_each_source_alone(name, width):
    model = _model(name)
    batch = model.generate(SRC, beam_width=width, max_len=8, return_attention=True)
    for n in range(len(SRC)):
        real = SRC[n] != 0
        alone = model.generate(
            SRC[n : n + 1, real], beam_width=width, max_len=8, return_attention=True
        )
        length = int(alone.lengths)
        assert int(batch.lengths[n]) == length
        assert batch.tokens[n, :length].tolist() == alone.tokens[0, :length].tolist()
        torch.testing.assert_close(batch.scores[n], alone.scores[0])
        if alone.attention is not None:
            torch.testing.assert_close(
                batch.attention[n, :length][:, real], alone.attention[0, :length]
            )
            assert torch.all(batch.attention[n, :, ~real] == 0)


@pytest.mark.parametrize("name", NAMES)
def test_teacher_forcing_equals_stepping_the_decoder(name):
    """forward (one GEMM for all embeddings, or the fused DeepRNN) == decoder.step one by one."""
    model = _model(name)
    out = model(SRC, TGT)
    state, memory = model.encode(SRC)
    inputs = torch.cat([torch.full((4, 1), model.go_id), TGT[:, :-1]], dim=1)
    for t in range(TGT.shape[1]):
        logits, state, weights = model.decoder.step(inputs[:, t], state, memory)
        torch.testing.assert_close(out.logits[:, t], logits)
        if weights is not None:
            torch.testing.assert_close(out.attention[:, t], weights)
    assert (out.attention is None) == (CONFIGS[name].get("attention", "bahdanau") is None)


@pytest.mark.parametrize("name", ["gru_bahdanau", "gru_concat_reversed_nofeed"])
def test_teacher_forcing_ratio_zero_feeds_the_model_its_own_predictions(name):
    model = _model(name)
    other = TGT.clone()
    other[other > 3] = 4  # different tokens, same padding
    a = model(SRC, TGT, teacher_forcing=0.0).logits
    b = model(SRC, other, teacher_forcing=0.0).logits
    torch.testing.assert_close(a, b)  # the gold tokens are never read
    assert not torch.allclose(a, model(SRC, TGT).logits)
    model.train()
    torch.manual_seed(1)
    half = model(SRC, TGT, teacher_forcing=0.5).logits
    assert half.shape == a.shape and torch.isfinite(half).all()


def test_reverse_padded():
    x = torch.tensor([[1, 2, 3, 0], [0, 4, 5, 0], [6, 0, 0, 0], [0, 0, 0, 0]])
    mask = x != 0
    r = reverse_padded(x, mask)
    assert r.tolist() == [[3, 2, 1, 0], [0, 5, 4, 0], [6, 0, 0, 0], [0, 0, 0, 0]]
    assert torch.equal(reverse_padded(r, mask), x)  # an involution
    feats = torch.randn(4, 4, 3)
    torch.testing.assert_close(reverse_padded(feats, mask)[0, :3], feats[0, :3].flip(0))


def test_reversed_source_encoder_reads_the_source_backwards():
    torch.manual_seed(0)
    rev = Encoder(13, 4, 5, bidirectional=False, reverse_source=True).double()
    fwd = Encoder(13, 4, 5, bidirectional=False).double()
    fwd.load_state_dict(rev.state_dict())
    src = torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0]])
    flipped = torch.tensor([[6, 5, 4, 0], [8, 7, 0, 0]])
    a, b = rev(src), fwd(flipped)
    torch.testing.assert_close(a.memory, reverse_padded(b.memory, src != 0))  # aligned with src
    torch.testing.assert_close(a.state[0].h, b.state[0].h)


def test_shared_and_tied_embeddings_are_one_tensor(tmp_path):
    sizes = dict(go_id=2, eos_id=3, embedding_size=12, hidden_size=12)
    model = Seq2Seq(13, share_embeddings=True, tie_embeddings=True, **sizes)
    assert model.decoder.embedding is model.encoder.embedding
    keys = set(model.state_dict())
    assert "encoder.embedding.weight" in keys
    assert not any(k.startswith("decoder.embedding") for k in keys)
    assert "decoder.output_bias" in keys and "decoder.output.weight" not in keys
    untied = Seq2Seq(13, **sizes)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(model) == 13 * 12 + 13 * 12  # a (V, E) embedding + W_o (V, O)
    loss = sequence_loss(model(SRC, TGT).logits, TGT)
    loss.backward()
    assert model.encoder.embedding.weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path)
    loaded = deeprnn.load_pretrained(tmp_path)
    assert loaded.decoder.embedding is loaded.encoder.embedding
    torch.testing.assert_close(loaded(SRC, TGT).logits, model.eval()(SRC, TGT).logits)


def test_every_parameter_gets_a_gradient():
    for name in NAMES:
        model = _model(name).train()
        sequence_loss(model(SRC, TGT, teacher_forcing=0.8).logits, TGT).backward()
        for pname, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), (name, pname)


def test_sequence_loss_ignores_padding():
    logits = torch.randn(2, 3, 7)
    tgt = torch.tensor([[4, 5, 3], [6, 3, 0]])
    loss = sequence_loss(logits, tgt)
    manual = -torch.log_softmax(logits, -1).gather(2, tgt[..., None]).squeeze(-1)
    torch.testing.assert_close(loss, manual[tgt != 0].mean())


def test_teacher_forcing_schedules():
    assert teacher_forcing_ratio(0, "inverse_sigmoid", k=100) == pytest.approx(100 / 101)
    assert teacher_forcing_ratio(10**6, "inverse_sigmoid", k=100) == pytest.approx(0.0, abs=1e-12)
    assert teacher_forcing_ratio(50, "linear", k=100) == pytest.approx(0.5)
    assert teacher_forcing_ratio(500, "linear", k=100, minimum=0.2) == 0.2
    assert teacher_forcing_ratio(2, "exponential", k=0.5) == pytest.approx(0.25)
    assert teacher_forcing_ratio(7, "constant") == 1.0


def test_vector_to_sequence():
    torch.manual_seed(0)
    model = (
        VectorToSequence(
            6, 11, go_id=2, eos_id=3, embedding_size=5, hidden_size=7, cell="lstm", num_layers=2
        )
        .double()
        .eval()
    )
    feats = torch.randn(3, 6, dtype=torch.float64)
    tgt = torch.tensor([[4, 5, 3], [6, 3, 0], [7, 8, 9]])
    logits = model(feats, tgt)
    assert logits.shape == (3, 3, 11)
    state = model.encode(feats)
    assert state.layers[0].h.shape == (3, 7) and state.feed is None
    greedy = model.generate(feats, max_len=5)
    step_by_step = []  # greedy by hand: the argmax of the decoder's next-token distribution
    tokens, st = torch.full((3,), 2), state
    for _ in range(5):
        logits, st, _ = model.decoder.step(tokens, st, None)
        logits[:, [0, 2]] = float("-inf")  # pad and <go> are never generated
        tokens = logits.argmax(-1)
        step_by_step.append(tokens)
    by_hand = torch.stack(step_by_step, 1)
    for n in range(3):
        k = int(greedy.lengths[n])
        assert greedy.tokens[n, :k].tolist() == by_hand[n, :k].tolist()
    beam = model.generate(feats, beam_width=4, max_len=5)
    assert beam.tokens.shape[0] == 3 and torch.all(beam.lengths <= 5)
    for n in range(3):  # each feature vector alone
        alone = model.generate(feats[n : n + 1], beam_width=4, max_len=5)
        torch.testing.assert_close(alone.scores[0], beam.scores[n])


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_sequence_to_vector_pools_real_steps_only(pooling):
    torch.manual_seed(0)
    net = SequenceToVector(4, 6, num_layers=2, bidirectional=True, pooling=pooling).double().eval()
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 0])
    u, weights = net(x, lengths=lengths, return_weights=True)
    assert u.shape == (3, 12)
    assert torch.all(u[2] == 0)  # an empty row
    for n in (0, 1):
        alone = net(x[n : n + 1, : lengths[n]])
        torch.testing.assert_close(u[n], alone[0])
    assert (weights is None) == (pooling != "attention")
    if weights is not None:
        assert torch.all(weights[1, 2:] == 0) and torch.all(weights[2] == 0)
        torch.testing.assert_close(weights[:2].sum(-1), torch.ones(2, dtype=torch.float64))
    ids = SequenceToVector(4, 6, vocab_size=20, pooling=pooling)
    assert ids(torch.tensor([[5, 6, 0], [7, 0, 0]])).shape == (2, 6)


MODULES = {
    "seq2seq": lambda: _model("lstm_luong_general_2x2"),
    "seq2seq_shared": lambda: _model("plain_shared_tied"),
    "seq2seq_copy": lambda: _model("lstm_dot_copy_bridge"),
    "encoder": lambda: Encoder(
        13, 4, 5, num_layers=2, cell="lstm", decoder_cell="gru", decoder_hidden_size=3
    ),
    "decoder": lambda: AttentionDecoder(
        13, 4, 5, memory_size=6, attention="luong_concat", attention_size=7
    ),
    "bridge": lambda: Bridge(5, 2, 3, "lstm"),
    "vector_to_sequence": lambda: VectorToSequence(
        6, 11, go_id=2, eos_id=3, embedding_size=5, hidden_size=7
    ),
    "sequence_to_vector": lambda: SequenceToVector(4, 6, vocab_size=20, pooling="attention"),
}


def _run(name, module):
    if name.startswith("seq2seq"):
        return module(SRC, TGT).logits
    if name == "encoder":
        return module(SRC).memory
    if name == "decoder":
        state = module.init_state(2)
        memory = module.prepare_memory(torch.randn(2, 4, 6), torch.ones(2, 4, dtype=torch.bool))
        return module(torch.tensor([[2, 5, 6], [2, 7, 3]]), state, memory)[0]
    if name == "bridge":
        return module(torch.randn(2, 5))[1].c
    if name == "vector_to_sequence":
        return module(torch.randn(2, 6), torch.tensor([[4, 3], [5, 3]]))
    return module(torch.tensor([[5, 6, 0], [7, 0, 0]]))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_config_and_safetensors_round_trip(name, tmp_path):
    torch.manual_seed(0)
    module = MODULES[name]().float().eval()
    clone = type(module).from_config(module.get_config())
    assert clone.get_config() == module.get_config()
    assert {k: v.shape for k, v in clone.state_dict().items()} == {
        k: v.shape for k, v in module.state_dict().items()
    }
    module.save_pretrained(tmp_path)
    loaded = deeprnn.load_pretrained(tmp_path)
    assert type(loaded) is type(module)
    torch.manual_seed(1)
    expected = _run(name, module)
    torch.manual_seed(1)
    torch.testing.assert_close(_run(name, loaded), expected)
