"""GloVe / word2vec readers and the pretrained embedding aligned to a Vocab."""

import gzip

import numpy as np
import pytest
import torch

from deeprnn.data import (
    DataFormatError,
    Vocab,
    WordVectors,
    build_embedding_matrix,
    pretrained_embedding,
    read_glove,
    read_word2vec,
)

WORDS = {"the": [0.1, 0.2, 0.3], "cat": [1.0, -1.0, 0.5], "Paris": [2.0, 2.0, 2.0]}


def write_glove(path, words=WORDS, extra=""):
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in words.items()) + extra)
    return path


def write_w2v_binary(path, words=WORDS):
    dim = len(next(iter(words.values())))
    with open(path, "wb") as f:
        f.write(f"{len(words)} {dim}\n".encode())
        for w, v in words.items():
            f.write(w.encode() + b" " + np.asarray(v, dtype="<f4").tobytes() + b"\n")
    return path


def test_read_glove(tmp_path):
    wv = read_glove(write_glove(tmp_path / "g.txt"))
    assert wv.words == ["the", "cat", "Paris"] and wv.dim == 3
    assert wv.vectors.dtype == np.float32
    np.testing.assert_allclose(wv.vectors[1], [1.0, -1.0, 0.5])
    # a word with a space (GloVe 840B has some) and a repeated word
    wv = read_glove(write_glove(tmp_path / "g2.txt", extra="at home 1 2 3\nthe 9 9 9\n"))
    assert "at home" in wv.words and wv.skipped["duplicate word"] == 1
    np.testing.assert_allclose(wv.vectors[wv.words.index("the")], [0.1, 0.2, 0.3])
    wv = read_glove(tmp_path / "g.txt", restrict_to={"cat"})
    assert wv.words == ["cat"] and wv.skipped["not in restrict_to"] == 2
    gz = tmp_path / "g.txt.gz"
    gz.write_bytes(gzip.compress((tmp_path / "g.txt").read_bytes()))
    assert read_glove(gz).words == ["the", "cat", "Paris"]


def test_read_word2vec_text_and_binary(tmp_path):
    text = tmp_path / "w.txt"
    text.write_text("3 3\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in WORDS.items()))
    a = read_word2vec(text)
    b = read_word2vec(write_w2v_binary(tmp_path / "w.bin"))
    assert a.words == b.words == ["the", "cat", "Paris"]
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=1e-6)
    c = read_word2vec(tmp_path / "w.bin", restrict_to=Vocab(["cat"]))
    assert c.words == ["cat"]


def test_bad_vector_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("the 0.1 0.2 0.3\ncat 1.0 2.0\n")
    with pytest.raises(
        DataFormatError, match=r"bad.txt:2: expected a word and 3 numbers, got 2 fields"
    ):
        read_glove(bad)
    bad.write_text("the 0.1 0.2 0.3\ncat 1.0 x 2.0\n")
    with pytest.raises(
        DataFormatError, match=r"bad.txt:2: non-numeric value in the vector of 'cat'"
    ):
        read_glove(bad)
    bad.write_bytes(b"the 0.1 0.2\n\xff\xfe 1 2\n")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: not valid utf-8 text"):
        read_glove(bad)
    bad.write_text("")
    with pytest.raises(DataFormatError, match=r"bad.txt: no vectors found"):
        read_glove(bad)
    w2v = tmp_path / "w.txt"
    w2v.write_text("5 3\nthe 1 2 3\n")
    with pytest.raises(DataFormatError, match=r"w.txt: header says 5 words, found 1"):
        read_word2vec(w2v)
    w2v.write_text("three 3\nthe 1 2 3\n")
    with pytest.raises(DataFormatError, match=r"w.txt:1: expected a word2vec header 'count dim'"):
        read_word2vec(w2v)
    b = write_w2v_binary(tmp_path / "t.bin")
    b.write_bytes(b.read_bytes()[:-8])
    with pytest.raises(DataFormatError, match=r"t.bin: truncated at word 3 of 3"):
        read_word2vec(b)


def test_embedding_matrix_and_coverage(tmp_path):
    wv = read_glove(write_glove(tmp_path / "g.txt"))
    vocab = Vocab.build([["the", "cat", "paris", "zebra", "the"]])
    matrix, rep = build_embedding_matrix(vocab, wv, init="zeros")
    assert matrix.shape == (len(vocab), 3)
    np.testing.assert_allclose(matrix[vocab["the"]], WORDS["the"])
    assert rep.found == 2 and rep.found_lowercase == 0 and rep.missing == 2
    assert rep.missing_examples == ("paris", "zebra")
    assert rep.coverage == pytest.approx(0.5) and rep.token_coverage == pytest.approx(3 / 5)
    assert not matrix[vocab.pad_id].any() and not matrix[vocab["zebra"]].any()
    # the fallback looks up token.lower(): vocab "THE" finds the vector of "the"
    v2 = Vocab(["THE"])
    m2, rep2 = build_embedding_matrix(v2, wv, init="zeros")
    assert rep2.found_lowercase == 1
    np.testing.assert_allclose(m2[2], WORDS["the"])
    _, rep3 = build_embedding_matrix(v2, wv, lowercase_fallback=False)
    assert rep3.missing == 1


@pytest.mark.parametrize("init", ["normal", "uniform"])
def test_missing_init_is_seeded(tmp_path, init):
    wv = WordVectors(["a"], np.ones((1, 64), np.float32) * np.linspace(-1, 1, 64, dtype=np.float32))
    vocab = Vocab(["a", "b", "c"])
    m1, _ = build_embedding_matrix(vocab, wv, init=init, seed=3)
    m2, _ = build_embedding_matrix(vocab, wv, init=init, seed=3)
    m3, _ = build_embedding_matrix(vocab, wv, init=init, seed=4)
    np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(m1, m3)
    assert not m1[0].any()  # [PAD] stays zero
    assert m1[1].any()  # [UNK] gets a random row
    if init == "uniform":
        m, _ = build_embedding_matrix(vocab, wv, init=init, scale=0.01)
        assert np.abs(m[3:]).max() <= 0.01


def test_pretrained_embedding_freeze(tmp_path):
    wv = read_glove(write_glove(tmp_path / "g.txt"))
    vocab = Vocab(["the", "cat"])
    emb, rep = pretrained_embedding(vocab, wv)
    assert isinstance(emb, torch.nn.Embedding) and emb.padding_idx == 0
    assert not emb.weight.requires_grad and rep.found == 2
    out = emb(torch.tensor([[2, 3, 0]]))
    assert out.shape == (1, 3, 3)
    torch.testing.assert_close(out[0, 0], torch.tensor(WORDS["the"]))
    tuned, _ = pretrained_embedding(vocab, wv, freeze=False)
    assert tuned.weight.requires_grad
    with pytest.raises(
        ValueError, match=r"init must be one of \['zeros', 'normal', 'uniform'\], got 'xavier'"
    ):
        pretrained_embedding(vocab, wv, init="xavier")


def test_word2vec_binary_across_read_chunks(tmp_path):
    """A binary file larger than the reader's 1 MiB chunks parses the same as its text twin."""
    rng = np.random.default_rng(0)
    words = {f"w{i}\u00e9": rng.normal(size=64).astype(np.float32) for i in range(6000)}
    b = read_word2vec(write_w2v_binary(tmp_path / "big.bin", words))
    text = tmp_path / "big.txt"
    text.write_text(
        f"{len(words)} 64\n"
        + "".join(f"{w} {' '.join(map(repr, v.tolist()))}\n" for w, v in words.items()),
        encoding="utf-8",
    )
    t = read_word2vec(text)
    assert b.words == t.words == list(words) and b.vectors.shape == (6000, 64)
    np.testing.assert_array_equal(b.vectors, t.vectors)
    np.testing.assert_array_equal(b.vectors[-1], words["w5999\u00e9"])
