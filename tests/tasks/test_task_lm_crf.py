"""Stateful truncated BPTT with document resets, sampling, and the CRF against brute force."""

import itertools

import pytest
import torch

from deeprnn.models.crf import CRF
from deeprnn.tasks import LanguageModel
from deeprnn.tasks.lm_data import StreamChunks

VOCAB = ["[PAD]", "[UNK]", "<bos>", "<eos>", "a", "b", "c"]


def _lm(**cfg):
    art = {"vocab": VOCAB, "level": "char", "add_bos": True, "add_eos": True}
    return LanguageModel({"rnn": {"hidden_size": 8, "num_layers": 2}, **cfg}, art).eval()


def test_stream_state_resets_at_document_starts_mid_chunk():
    torch.manual_seed(0)
    model = _lm()
    x = torch.randint(2, 7, (2, 9))
    starts = torch.zeros(2, 9, dtype=torch.bool)
    starts[0, 4] = True  # row 0: a new document from step 4
    starts[1, 0] = True
    state = model.rnn.initial_state(2)
    state = state.map(lambda t: t + 0.5)  # a carried, non-zero state
    logits, _ = model(x, starts, state)
    # row 0: steps 0-3 continue the carried state, steps 4.. start from zero
    head, _ = model(x[:1, :4], None, state.map(lambda t: t[:1]))
    tail, _ = model(x[:1, 4:])
    torch.testing.assert_close(logits[:1, :4], head)
    torch.testing.assert_close(logits[:1, 4:], tail)
    # row 1 restarts at step 0: the carried state is ignored
    fresh, _ = model(x[1:])
    torch.testing.assert_close(logits[1:], fresh)


def test_chunks_carry_the_stream_in_order():
    ids = torch.arange(2, 2 + 41) % 7
    starts = torch.zeros(41, dtype=torch.bool)
    data = StreamChunks(ids, starts, rows=2, bptt=6)
    chunks = list(data)
    assert len(chunks) == len(data) == 4
    row0 = torch.cat([c["x"][0] for c in chunks])
    torch.testing.assert_close(row0, ids[:19])  # (41 // 2 = 20 per row) - 1 inputs
    torch.testing.assert_close(chunks[0]["y"][0], ids[1:7])
    with pytest.raises(ValueError, match="too few for batch_size=30 rows"):
        StreamChunks(ids, starts, rows=30, bptt=6)


def test_carried_state_equals_one_long_pass():
    torch.manual_seed(0)
    model = _lm()
    x = torch.randint(2, 7, (3, 12))
    full, _ = model(x)
    a, state = model(x[:, :5], torch.zeros(3, 5, dtype=torch.bool))
    b, _ = model(x[:, 5:], torch.zeros(3, 7, dtype=torch.bool), state.detach())
    torch.testing.assert_close(torch.cat([a, b], 1), full)


def test_generate_top_k_one_is_greedy_and_seeded_sampling_repeats():
    model = _lm(tie_weights=True)
    assert model.decoder.weight is model.encoder.input.embedding.weight
    greedy = [model.generate("ab", 6, top_k=1, seed=s) for s in range(3)]
    assert len(set(greedy)) == 1 and greedy[0].startswith("ab")
    assert model.generate("a", 8, seed=3) == model.generate("a", 8, seed=3)
    with pytest.raises(ValueError, match="temperature must be positive, got 0"):
        model.generate("a", temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1, got 0"):
        model.generate("a", top_k=0)


def _brute(crf, emissions, n):
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=n):
        tags = torch.tensor([path])
        mask = torch.ones(1, n, dtype=torch.bool)
        scores[path] = crf._score(emissions[:1, :n], tags, mask)
    return scores


def test_crf_likelihood_and_viterbi_match_brute_force():
    torch.manual_seed(0)
    crf = CRF(3)
    emissions = torch.randn(2, 4, 3)
    lengths = torch.tensor([4, 2])
    mask = torch.arange(4)[None] < lengths[:, None]
    for row, n in enumerate(lengths.tolist()):
        scores = _brute(crf, emissions[row : row + 1], n)
        log_z = torch.logsumexp(torch.stack(list(scores.values())).flatten(), 0)
        torch.testing.assert_close(
            crf._log_partition(emissions[row : row + 1, :n], mask[row : row + 1, :n])[0], log_z
        )
        best = max(scores, key=lambda p: float(scores[p]))
        assert crf.decode(emissions, mask)[row] == list(best)
    tags = torch.tensor([[0, 1, 2, 1], [2, 0, -100, -100]])
    nll = crf.nll(emissions, tags, mask)
    assert nll > 0
    nll.backward()
    assert crf.transitions.grad is not None
    assert crf.decode(emissions, torch.zeros(2, 4, dtype=torch.bool)) == [[], []]


def test_adaptive_softmax_loss_is_the_nll_of_its_log_probabilities():
    torch.manual_seed(0)
    model = _lm(adaptive_softmax=[3, 5])
    x = torch.randint(2, 7, (3, 6))
    y = torch.randint(2, 7, (3, 6))
    y[0, 4:] = -100  # ignored targets
    logp, _ = model(x)
    assert logp.shape == (3, 6, len(VOCAB))
    torch.testing.assert_close(logp.logsumexp(-1), torch.zeros(3, 6), atol=1e-5, rtol=0)
    keep = y != -100
    expected = -logp[keep].gather(1, y[keep][:, None]).mean()
    h, _ = model.hidden(x)
    torch.testing.assert_close(model._loss(h, y), expected)
    assert model._loss(h, torch.full_like(y, -100)).item() == 0.0  # nothing to score


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"adaptive_softmax": [5, 3]}, r"increasing integers in \(0, 7\).*got \[5, 3\]"),
        ({"adaptive_softmax": [7]}, r"increasing integers in \(0, 7\)"),
        ({"adaptive_softmax": []}, r"increasing integers"),
        ({"adaptive_softmax": [3], "tie_weights": True}, r"cannot be combined with .*tie_weights"),
        ({"adaptive_softmax": [3], "adaptive_div_value": 0.5}, r"adaptive_div_value must be >= 1"),
    ],
)
def test_adaptive_softmax_bad_settings(cfg, message):
    with pytest.raises(ValueError, match=message):
        _lm(**cfg)
