"""Greedy and beam search: constructed examples, beam width 1 against greedy, scores, length
penalty."""

from __future__ import annotations

import math

import pytest
import torch

from deeprnn.seq2seq import Seq2Seq, beam_search, greedy_search, length_penalty

PAD, GO, EOS, A, B = 0, 1, 2, 3, 4


def chain(table: dict[int, dict[int, float]], counter: list | None = None):
    """A step function whose next-token distribution depends on the previous token only."""
    rows = torch.full((5, 5), -math.inf)
    rows[:, EOS] = 0.0  # unlisted previous tokens: <eos> for sure (no all -inf row: NaN)
    for prev, probs in table.items():
        rows[prev, EOS] = -math.inf
        for tok, p in probs.items():
            rows[prev, tok] = math.log(p)

    def step(tokens, state, memory):
        if counter is not None:
            counter.append(1)
        return rows[tokens], state, None

    return step


# from <go>: a 0.6, b 0.4; after a: a 0.36, b 0.34, <eos> 0.30; after b: <eos> 0.99
GREEDY_TRAP = {GO: {A: 0.6, B: 0.4}, A: {A: 0.36, B: 0.34, EOS: 0.30}, B: {EOS: 0.99, A: 0.01}}


def _search(step, width, max_len=20, alpha=0.0, batch=1):
    kwargs = dict(batch_size=batch, go_id=GO, eos_id=EOS, pad_id=PAD, max_len=max_len, alpha=alpha)
    if width == 1:
        return greedy_search(step, None, None, **kwargs)
    return beam_search(step, None, None, beam_width=width, **kwargs)


def test_beam_search_beats_greedy_where_greedy_is_suboptimal():
    greedy = _search(chain(GREEDY_TRAP), 1, max_len=6)
    assert greedy.tokens[0].tolist() == [A] * 6  # a a a ...: never ends, low probability
    assert greedy.lengths.item() == 6
    torch.testing.assert_close(greedy.log_probs, torch.tensor([math.log(0.6) + 5 * math.log(0.36)]))
    beam = _search(chain(GREEDY_TRAP), 2, max_len=6)
    assert beam.tokens[0].tolist() == [B, EOS]
    assert beam.lengths.item() == 2
    torch.testing.assert_close(beam.log_probs, torch.tensor([math.log(0.4 * 0.99)]))
    assert beam.scores.item() > greedy.scores.item()


def test_beam_search_stops_early_once_no_live_beam_can_win():
    calls = []
    beam = _search(chain(GREEDY_TRAP, calls), 2, max_len=50)
    assert beam.tokens[0].tolist() == [B, EOS]
    assert len(calls) <= 4  # not 50: "b <eos>" beats anything the live beams can still reach


def test_length_penalty_prefers_longer_outputs():
    # "<eos>" alone: 0.5; "a <eos>": 0.45 * 0.99 — shorter wins on log-probability only
    table = {GO: {EOS: 0.5, A: 0.45, B: 0.05}, A: {EOS: 0.99, B: 0.01}, B: {EOS: 1.0}}
    plain = _search(chain(table), 3, alpha=0.0)
    assert plain.tokens[0].tolist() == [EOS]
    long = _search(chain(table), 3, alpha=2.0)
    assert long.tokens[0].tolist() == [A, EOS]
    lp = ((5 + 2) / 6) ** 2
    torch.testing.assert_close(long.scores, torch.tensor([math.log(0.45 * 0.99) / lp]))
    torch.testing.assert_close(long.log_probs, torch.tensor([math.log(0.45 * 0.99)]))


def test_length_penalty_values():
    assert length_penalty(1, 0.0) == 1.0
    torch.testing.assert_close(length_penalty(torch.tensor([1, 7]), 1.0), torch.tensor([1.0, 2.0]))


def test_unfinished_hypotheses_stop_at_max_len():
    loop = {GO: {A: 1.0}, A: {A: 0.9, EOS: 0.1}}  # greedy never emits <eos>
    for width in (1, 3):
        out = _search(chain(loop), width, max_len=4)
        assert out.lengths.item() == 4 and out.tokens.shape == (1, 4)
    beam = _search(chain(loop), 3, max_len=4)
    # finished "a <eos>" (0.1), "a a <eos>" (0.09), ... all lose to the unfinished "a a a a" (0.729)
    assert beam.tokens[0].tolist() == [A, A, A, A]


def test_batched_search_rows_are_independent():
    """Rows with different chains (state = a per-row table id) decode as they would alone."""
    tables = [GREEDY_TRAP, {GO: {EOS: 0.7, A: 0.3}, A: {EOS: 1.0}}]
    steps = [chain(t) for t in tables]

    def step(tokens, which, memory):
        logits = torch.stack(
            [steps[int(w)](tok[None], None, None)[0][0] for tok, w in zip(tokens, which)]
        )
        return logits, which, None

    which = torch.tensor([0, 1, 0])
    for width in (1, 2, 4):
        kwargs = dict(go_id=GO, eos_id=EOS, pad_id=PAD, max_len=6)
        if width == 1:
            both = greedy_search(step, which, None, batch_size=3, **kwargs)
        else:
            both = beam_search(step, which, None, batch_size=3, beam_width=width, **kwargs)
        for n in range(3):
            alone = _search(steps[int(which[n])], width, max_len=6)
            length = alone.lengths.item()
            assert both.lengths[n].item() == length
            assert both.tokens[n, :length].tolist() == alone.tokens[0, :length].tolist()
            assert torch.all(both.tokens[n, length:] == PAD)
            torch.testing.assert_close(both.scores[n : n + 1], alone.scores)


CONFIGS = {
    "gru_bahdanau": dict(),
    "lstm_luong_general_2x2": dict(
        cell="lstm", attention="luong_general", encoder_layers=2, decoder_layers=2
    ),
    "gru_no_feeding_reversed": dict(
        attention="luong_concat", input_feeding=False, reverse_source=True
    ),
    "plain_tied": dict(
        attention=None, input_feeding=False, tie_embeddings=True, share_embeddings=True
    ),
}


def _model(config: dict, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    model = Seq2Seq(13, go_id=2, eos_id=3, embedding_size=8, hidden_size=12, **config)
    with torch.no_grad():  # spread the output distribution so <eos> shows up in short outputs
        for p in model.parameters():
            p.mul_(3.0)
    return model.double().eval()


def _sources():
    return torch.tensor([[4, 5, 6, 7, 8], [9, 10, 0, 0, 0], [0, 11, 12, 4, 0], [5, 0, 0, 0, 0]])


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_generate_width_one_is_greedy_search(name, monkeypatch):
    """``generate(beam_width=1)`` runs greedy search (counted), with the same result."""
    from deeprnn.seq2seq import model as model_module

    model = _model(CONFIGS[name])
    src = _sources()
    greedy = model.generate(src, max_len=9, return_attention=True)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return greedy_search(*args, **kwargs)

    monkeypatch.setattr(model_module, "greedy_search", counted)
    beam = model.generate(src, beam_width=1, max_len=9, return_attention=True)
    assert calls == [1]
    for a, b in zip(greedy, beam):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_beam_search_width_one_never_scores_below_greedy(name, monkeypatch):
    """``beam_search(beam_width=1)`` called directly: per row, a score >= greedy's."""
    from deeprnn.seq2seq import model as model_module

    model = _model(CONFIGS[name])
    src = _sources()
    greedy = model.generate(src, max_len=9)
    monkeypatch.setattr(
        model_module,
        "greedy_search",
        lambda step, state, memory, **kw: beam_search(step, state, memory, beam_width=1, **kw),
    )
    beam = model.generate(src, beam_width=1, max_len=9)
    assert torch.all(beam.scores >= greedy.scores - 1e-9), (beam.scores, greedy.scores)
    same = beam.lengths == greedy.lengths
    for n in torch.nonzero(same).flatten().tolist():  # same length: the greedy path itself
        assert (
            beam.tokens[n, : beam.lengths[n]].tolist()
            == greedy.tokens[n, : greedy.lengths[n]].tolist()
        )


# from <go>: a; after a: a 0.5, <eos> 0.45, b 0.05 (greedy never stops; "a <eos>" is likelier)
EOS_SECOND = {GO: {A: 1.0}, A: {A: 0.5, EOS: 0.45, B: 0.05}}


def _beam_one(table):
    kwargs = dict(batch_size=1, go_id=GO, eos_id=EOS, pad_id=PAD, max_len=6)
    return beam_search(chain(table), None, None, beam_width=1, **kwargs)


def test_beam_width_one_keeps_an_eos_that_greedy_passes_by():
    greedy = _search(chain(EOS_SECOND), 1, max_len=6)
    assert greedy.tokens[0].tolist() == [A] * 6
    beam = _beam_one(EOS_SECOND)
    assert beam.tokens[0].tolist() == [A, EOS]
    torch.testing.assert_close(beam.log_probs, torch.tensor([math.log(0.45)]))
    assert beam.scores.item() > greedy.scores.item()
    trap = _beam_one(GREEDY_TRAP)
    assert trap.tokens[0].tolist() == [A] * 6  # no <eos> in the top two: the greedy path


def _teacher_forced_log_probs(model: Seq2Seq, src, tokens, lengths):
    """log p(tokens | src) under the generation distribution (pad and <go> excluded)."""
    tgt = tokens.clone()
    tgt[torch.arange(tgt.shape[1])[None] >= lengths[:, None]] = model.pad_id
    logits = model(src, tgt).logits.clone()
    logits[..., [model.pad_id, model.go_id]] = -math.inf
    logp = torch.log_softmax(logits, -1).gather(2, tgt.clamp(min=0)[..., None]).squeeze(-1)
    return logp.masked_fill(tgt == model.pad_id, 0.0).sum(1)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("width", [1, 4])
def test_reported_scores_are_the_model_log_probabilities(name, width):
    model = _model(CONFIGS[name])
    src = _sources()
    out = model.generate(src, beam_width=width, max_len=7, length_penalty=0.6)
    expected = _teacher_forced_log_probs(model, src, out.tokens, out.lengths)
    assert out.log_probs.dtype == torch.float64
    torch.testing.assert_close(out.log_probs, expected)
    torch.testing.assert_close(out.scores, out.log_probs / length_penalty(out.lengths, 0.6))
    ends = out.tokens.gather(1, (out.lengths - 1)[:, None]).squeeze(1)
    assert torch.all((ends == model.eos_id) | (out.lengths == 7))
    assert not torch.any(out.tokens == model.go_id)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_beam_of_six_finds_outputs_at_least_as_likely_as_greedy_here(name):
    """Not a theorem (a wider beam can do worse), but it holds on these models and rows."""
    model = _model(CONFIGS[name], seed=1)
    src = _sources()
    greedy = model.generate(src, max_len=8)
    beam = model.generate(src, beam_width=6, max_len=8)
    assert torch.all(beam.scores >= greedy.scores - 1e-6)
