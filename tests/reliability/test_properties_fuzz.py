"""Hypothesis properties beyond ``tests/layers/test_properties.py`` (which fuzzes the masking
equivalence of padded batches in float64): lengths vs mask in both dtypes, backward scans as
reversed forward scans, stateful chunking and streaming, config and safetensors round trips,
Vocab / tokenizer round trips, and ``pad_sequences`` against a pure-Python reference."""

from __future__ import annotations

import tempfile

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import deeprnn
from deeprnn.data import CharTokenizer, Vocab, pad_sequences

FAST = settings(max_examples=20, deadline=None)
CELLS = ["lstm", "gru", "rnn", "minimal_gru"]


@st.composite
def stacks(draw, bidirectional=True):
    cell = draw(st.sampled_from(CELLS))
    layers = [
        dict(
            cell=cell,
            hidden_size=draw(st.integers(1, 5)),
            bidirectional=bidirectional and draw(st.booleans()),
        )
        for _ in range(draw(st.integers(1, 3)))
    ]
    return dict(input_size=draw(st.integers(1, 4)), layers=layers, seed=draw(st.integers(0, 999)))


def _net(p, **kw):
    torch.manual_seed(p["seed"])
    return deeprnn.DeepRNN(p["input_size"], layers=p["layers"], **kw).eval()


def _close(a, b, dtype):
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(a, b, **tol)


@FAST
@given(
    stacks(),
    st.integers(1, 4),
    st.integers(1, 6),
    st.sampled_from([torch.float32, torch.float64]),
    st.data(),
)
def test_lengths_and_the_equivalent_mask_agree(p, batch, steps, dtype, data):
    lengths = torch.tensor(
        data.draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch))
    )
    net = _net(p).to(dtype)
    x = torch.randn(batch, steps, p["input_size"], dtype=dtype)
    out_l, st_l = net(x, lengths=lengths)
    out_m, st_m = net(x, mask=torch.arange(steps)[None] < lengths[:, None])
    _close(out_l, out_m, dtype)
    for a, b in zip(st_l, st_m):
        for u, v in zip(a, b):
            _close(u, v, dtype)
    assert torch.all(out_l[torch.arange(steps)[None] >= lengths[:, None]] == 0)


@FAST
@given(stacks(bidirectional=False), st.integers(1, 3), st.integers(1, 6), st.data())
def test_a_backward_scan_is_the_forward_scan_of_each_reversed_row(p, batch, steps, data):
    lengths = data.draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch))
    fwd = _net(p).double()
    bwd = _net(p, go_backwards=True).double()
    bwd.load_state_dict(fwd.state_dict())
    x = torch.randn(batch, steps, p["input_size"], dtype=torch.float64)
    out, _ = bwd(x, lengths=torch.tensor(lengths))
    for n, length in enumerate(lengths):
        assert torch.all(out[n, length:] == 0)
        if length:
            alone, _ = fwd(x[n : n + 1, :length].flip(1))
            _close(out[n, :length], alone[0].flip(0), torch.float64)


@FAST
@given(
    stacks(bidirectional=False),
    st.integers(1, 3),
    st.lists(st.integers(1, 4), min_size=1, max_size=4),
)
def test_stateful_chunks_and_stream_equal_one_call(p, batch, chunks):
    full_net = _net(p).double()
    x = torch.randn(batch, sum(chunks), p["input_size"], dtype=torch.float64)
    full, full_states = full_net(x)
    pieces = list(torch.split(x, chunks, dim=1))
    stateful = _net(p, stateful=True).double()
    stateful.load_state_dict(full_net.state_dict())
    outs = []
    for c in pieces:
        out, states = stateful(c)
        outs.append(out)
    _close(torch.cat(outs, 1), full, torch.float64)
    for a, b in zip(states, full_states):  # the final state after the last chunk
        for u, v in zip(a, b):
            _close(u, v, torch.float64)
    _close(torch.cat(list(full_net.stream(iter(pieces))), 1), full, torch.float64)
    stateful.reset_states()
    _close(stateful(pieces[0])[0], full[:, : chunks[0]], torch.float64)


@FAST
@given(
    stacks(),
    st.booleans(),
    st.sampled_from([None, "batch", "layer"]),
    st.sampled_from(["concat", "sum", "ave"]),
)
def test_config_and_safetensors_round_trips(p, residual, norm, merge):
    net = _net(p, residual=residual, norm=norm, merge_mode=merge, dropout=0.1)
    cfg = net.get_config()
    again = type(net).from_config(cfg)
    assert again.get_config() == cfg
    x = torch.randn(2, 3, p["input_size"])
    with tempfile.TemporaryDirectory() as d:
        net.save_pretrained(d)
        loaded = deeprnn.load_pretrained(d)
    assert type(loaded) is type(net) and loaded.get_config() == cfg
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    assert torch.equal(net(x)[0], loaded(x)[0])


TOKENS = st.text(alphabet="abcxyzé日", min_size=1, max_size=4).filter(lambda t: t.split() == [t])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(TOKENS, max_size=6), min_size=1, max_size=5), st.booleans(), st.data())
def test_vocab_encode_decode_and_save_load_round_trip(docs, go_eos, data):
    vocab = Vocab.build(docs, go_eos=go_eos)
    for doc in docs:
        ids = vocab.encode(doc, add_go=go_eos, add_eos=go_eos)
        assert vocab.decode(ids, skip_specials=True) == doc
        if go_eos:
            assert vocab.decode(ids[1:] + ids[1:], stop_at_eos=True) == doc
    unseen = data.draw(TOKENS.filter(lambda t: t not in vocab.itos))
    assert vocab.encode([unseen]) == [vocab.unk_id]
    with tempfile.TemporaryDirectory() as d:
        vocab.save(f"{d}/v.json")
        assert Vocab.load(f"{d}/v.json").itos == vocab.itos


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=30))
def test_char_tokenizer_round_trip(text):
    tok = CharTokenizer()
    assert CharTokenizer.detokenize(tok(text)) == text


def _pad_reference(seqs, maxlen, padding, truncating, value):
    maxlen = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    rows = []
    for s in seqs:
        s = list(s)
        if len(s) > maxlen:
            s = s[len(s) - maxlen :] if truncating == "pre" else s[:maxlen]
        fill = [value] * (maxlen - len(s))
        rows.append(fill + s if padding == "pre" else s + fill)
    return rows


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(-50, 50), max_size=7), max_size=6),
    st.one_of(st.none(), st.integers(1, 8)),
    st.sampled_from(["pre", "post"]),
    st.sampled_from(["pre", "post"]),
    st.integers(-3, 3),
)
def test_pad_sequences_matches_a_pure_python_reference(seqs, maxlen, padding, truncating, value):
    got = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    want = _pad_reference(seqs, maxlen, padding, truncating, value)
    assert got.dtype == np.int32
    assert got.shape[0] == len(seqs)
    assert got.tolist() == want
