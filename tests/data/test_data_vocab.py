"""Vocab: reserved ids, building with max_size/min_freq, encode/decode, JSON save/load."""

import json
import os

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from deeprnn.data import DataFormatError, Vocab

SENTS = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat"], ["the", "end"]]


def test_reserved_ids():
    v = Vocab(["x"])
    assert v.itos == ["[PAD]", "[UNK]", "x"] and v.pad_id == 0 and v.unk_id == 1
    assert v.go_id is None and v.eos_id is None
    d = Vocab(["x"], go_eos=True, specials=["[NUM]"])
    assert d.itos == ["[PAD]", "[UNK]", "<go>", "<eos>", "[NUM]", "x"]
    assert d.go_id == 2 and d.eos_id == 3


def test_build_counts_ties_max_size_min_freq():
    v = Vocab.build(SENTS)
    # by frequency descending, ties by token: the(3), cat(2), sat(2), a, dog, end
    assert v.itos[2:] == ["the", "cat", "sat", "a", "dog", "end"]
    assert v.counts["the"] == 3
    assert Vocab.build(reversed(SENTS)) == v  # input order does not matter
    assert Vocab.build(SENTS, min_freq=2).itos[2:] == ["the", "cat", "sat"]
    assert Vocab.build(SENTS, max_size=2).itos[2:] == ["the", "cat"]
    assert len(Vocab.build(SENTS, max_size=2, go_eos=True)) == 6
    # reserved tokens seen in the data are not duplicated
    assert Vocab.build([["[PAD]", "x", "[UNK]"]]).itos == ["[PAD]", "[UNK]", "x"]
    # a generator is consumed once
    assert len(Vocab.build(s for s in SENTS)) == len(v)


def test_encode_decode():
    v = Vocab.build(SENTS, go_eos=True)
    ids = v.encode(["the", "zebra", "sat"], add_go=True, add_eos=True)
    assert ids == [v.go_id, v["the"], v.unk_id, v["sat"], v.eos_id]
    assert v.decode(ids) == ["<go>", "the", "[UNK]", "sat", "<eos>"]
    assert v.decode(ids, skip_specials=True) == ["the", "[UNK]", "sat"]
    assert v.decode([v["the"], v.eos_id, v["cat"]], stop_at_eos=True) == ["the"]
    assert v.decode(torch.tensor([v["cat"], 0])) == ["cat", "[PAD]"]
    assert "cat" in v and "zebra" not in v and v["zebra"] == 1
    assert v.token(2) == "<go>"


def test_bad_arguments():
    v = Vocab.build(SENTS)
    with pytest.raises(ValueError, match="max_size must be a positive int, got 0"):
        Vocab.build(SENTS, max_size=0)
    with pytest.raises(ValueError, match="min_freq must be a positive int, got -1"):
        Vocab.build(SENTS, min_freq=-1)
    with pytest.raises(
        TypeError, match=r"token_lists\[0\] must be a sequence of tokens, got the str"
    ):
        Vocab.build(["the cat"])
    with pytest.raises(TypeError, match="tokens must be a sequence of tokens, got a str"):
        v.encode("the cat")
    with pytest.raises(ValueError, match="add_go/add_eos need a Vocab built with go_eos=True"):
        v.encode(["the"], add_eos=True)
    with pytest.raises(IndexError, match=r"ids must be in \[0, 8\), got 99"):
        v.decode([99])
    with pytest.raises(IndexError, match=r"index must be in \[0, 8\), got 8"):
        v.token(8)


def test_save_load_atomic(tmp_path):
    v = Vocab.build(SENTS, go_eos=True, specials=["[NUM]"])
    path = tmp_path / "nested" / "vocab.json"
    v.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    again = Vocab.load(path)
    assert again == v and again.itos == v.itos and again.counts == v.counts
    assert again.go_eos and again.specials == v.specials
    # overwriting replaces the file in one step
    before = os.stat(path).st_ino
    Vocab(["z"]).save(path)
    assert Vocab.load(path).itos == ["[PAD]", "[UNK]", "z"]
    assert os.stat(path).st_ino != before


def test_load_errors(tmp_path):
    bad = tmp_path / "v.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(DataFormatError, match=r"v.json: not a saved Vocab"):
        Vocab.load(bad)
    bad.write_text('{"format": "deeprnn.Vocab",\n oops}')
    with pytest.raises(DataFormatError, match=r"v.json:2: invalid JSON"):
        Vocab.load(bad)
    d = Vocab(["a"]).to_dict()
    d["tokens"] = ["a", "a"]
    bad.write_text(json.dumps(d))
    with pytest.raises(DataFormatError, match="duplicates"):
        Vocab.load(bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        Vocab.load(tmp_path / "missing.json")


@given(st.lists(st.lists(st.text(min_size=1, max_size=5), max_size=6), max_size=6))
def test_encode_decode_round_trip(token_lists):
    v = Vocab.build(token_lists)
    for toks in token_lists:
        decoded = v.decode(v.encode(toks))
        assert decoded == [t if t in v else "[UNK]" for t in toks]
        if not {"[PAD]", "[UNK]"} & set(toks):
            assert decoded == list(toks)
    assert Vocab.from_dict(v.to_dict()) == v
