"""Readers of aclImdb, language-model corpora, the names folder and parallel files."""

import io
import tarfile

import pytest
import torch

from deeprnn.data import (
    DataFormatError,
    batchify,
    bptt_batches,
    read_corpus,
    read_imdb,
    read_names,
    read_parallel,
    unicode_to_ascii,
)

REVIEWS = {
    "aclImdb/train/pos/10_9.txt": "Great film.<br /><br />Loved it.",
    "aclImdb/train/pos/2_8.txt": "Good.",
    "aclImdb/train/neg/3_1.txt": "Awful \u00e9.",
    "aclImdb/train/neg/1_2.txt": "",
    "aclImdb/train/unsup/5_0.txt": "No label.",
    "aclImdb/train/pos/notes.txt": "stray file",
    "aclImdb/test/neg/0_4.txt": "Meh.",
    "aclImdb/README": "readme",
}


def make_imdb(tmp_path, reviews=REVIEWS):
    tar_path = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tf:
        for name, text in reviews.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    folder = tmp_path / "extracted"
    for name, text in reviews.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode() if isinstance(text, str) else text)
    return tar_path, folder


def test_imdb_tarball_and_folder_agree(tmp_path):
    tar_path, folder = make_imdb(tmp_path)
    a = read_imdb(tar_path, "train")
    for path in (folder, folder / "aclImdb"):
        b = read_imdb(path, "train")
        assert (b.texts, b.labels, b.ids, b.ratings) == (a.texts, a.labels, a.ids, a.ratings)
        assert b.skipped == a.skipped
    assert a.ids == [
        "train/neg/1_2.txt",
        "train/neg/3_1.txt",
        "train/pos/2_8.txt",
        "train/pos/10_9.txt",
    ]
    assert a.labels == [0, 0, 1, 1] and a.ratings == [2, 1, 8, 9]
    assert a.texts[1] == "Awful \u00e9." and a.texts[0] == ""  # empty reviews are kept
    assert a.skipped == {"unlabelled (unsup) review": 1, "file name not <id>_<rating>.txt": 1}
    assert a[3] == ("Great film.<br /><br />Loved it.", 1) and len(a) == 4
    assert a.label_names == ("neg", "pos")
    test = read_imdb(tar_path, "test")
    assert test.texts == ["Meh."] and test.labels == [0]
    unsup = read_imdb(tar_path, "train", include_unsup=True)
    assert unsup.labels[-1] == -1 and len(unsup) == 5


def test_imdb_bad_input(tmp_path):
    bad = dict(REVIEWS)
    bad["aclImdb/train/pos/7_7.txt"] = b"bad \xff byte"
    tar_path, folder = make_imdb(tmp_path, bad)
    with pytest.raises(
        DataFormatError, match=r"aclImdb_v1.tar.gz:aclImdb/train/pos/7_7.txt:1: not valid utf-8"
    ):
        read_imdb(tar_path)
    with pytest.raises(DataFormatError, match=r"7_7.txt:1: not valid utf-8"):
        read_imdb(folder)
    latin = read_imdb(tar_path, encoding="latin-1")
    assert latin.texts[latin.ids.index("train/pos/7_7.txt")] == "bad \xff byte"
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'test'\], got 'valid'"):
        read_imdb(tar_path, "valid")
    with pytest.raises(ValueError, match=r"no 'train' reviews found in .*empty"):
        (tmp_path / "empty").mkdir()
        read_imdb(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        read_imdb(tmp_path / "nope")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(ValueError, match="path must be the aclImdb tarball or folder"):
        read_imdb(plain)


@pytest.mark.data
def test_imdb_real_counts(shared_data):
    tarball = shared_data / "imdb" / "aclImdb_v1.tar.gz"
    for split in ("train", "test"):
        d = read_imdb(tarball, split)
        assert len(d) == 25_000, split  # Maas et al. 2011: 25,000 train + 25,000 test
        assert sum(d.labels) == 12_500
        assert all(1 <= r <= 4 for r, y in zip(d.ratings, d.labels) if y == 0)
        assert all(7 <= r <= 10 for r, y in zip(d.ratings, d.labels) if y == 1)


def test_corpus_word_and_char(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text(" the cat <unk> \n\n a dog \n")
    c = read_corpus(p)
    assert c.tokens == ["the", "cat", "<unk>", "<eos>", "<eos>", "a", "dog", "<eos>"]
    assert c.num_lines == 3
    c = read_corpus(p, skip_blank=True, eos=None)
    assert c.tokens == ["the", "cat", "<unk>", "a", "dog"] and c.skipped["blank line"] == 1
    assert read_corpus(p, lower=True, eos="</s>").tokens[3] == "</s>"
    ch = read_corpus(p, level="char")
    assert "".join(ch.tokens) == p.read_text() and len(ch) == len(p.read_text())
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"a b\r\nc\r\n")
    assert read_corpus(crlf).tokens == ["a", "b", "<eos>", "c", "<eos>"]


def test_corpus_bad_input(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(DataFormatError, match=r"empty.txt: empty corpus: no tokens found"):
        read_corpus(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"ok\nstill ok\ncaf\xe9\n")
    with pytest.raises(DataFormatError, match=r"latin.txt:3: not valid utf-8 text \(byte 0xe9"):
        read_corpus(latin)
    assert read_corpus(latin, encoding="latin-1").tokens[-2] == "caf\xe9"
    with pytest.raises(ValueError, match="level must be one of \\['word', 'char'\\], got 'words'"):
        read_corpus(latin, level="words")
    with pytest.raises(
        ValueError, match="eos must be a non-empty token without spaces or None, got 'a b'"
    ):
        read_corpus(latin, eos="a b")
    with pytest.raises(FileNotFoundError, match="path: no such file"):
        read_corpus(tmp_path / "missing.txt")


def test_batchify_and_bptt():
    data = batchify(list(range(26)), 4)
    assert data.shape == (4, 6) and data[1].tolist() == [6, 7, 8, 9, 10, 11]
    windows = list(bptt_batches(data, 4))
    assert [x.shape[1] for x, _ in windows] == [4, 1]
    x, y = windows[0]
    assert torch.equal(y, data[:, 1:5]) and torch.equal(x, data[:, :4])
    with pytest.raises(
        ValueError, match="batch_size must leave at least 2 ids per row, got 20 for 26 ids"
    ):
        batchify(list(range(26)), 20)


@pytest.mark.data
def test_ptb_and_shakespeare_counts(shared_data):
    train = read_corpus(shared_data / "ptb" / "ptb.train.txt")
    # Mikolov's PTB: 887,521 words + one <eos> per sentence (42,068 lines) = 929,589 tokens
    assert len(train) == 929_589 and train.num_lines == 42_068
    assert train.tokens.count("<eos>") == 42_068
    assert len(set(train.tokens)) == 10_000  # the 10k vocabulary, <unk> and <eos> included
    assert len(read_corpus(shared_data / "ptb" / "ptb.valid.txt")) == 73_760
    assert len(read_corpus(shared_data / "ptb" / "ptb.test.txt")) == 82_430
    chars = read_corpus(shared_data / "tinyshakespeare" / "input.txt", level="char")
    assert len(chars) == 1_115_394 and len(set(chars.tokens)) == 65


def test_names_folder(tmp_path):
    (tmp_path / "Polish.txt").write_text("Ślusàrski\nNowak\n\n")
    (tmp_path / "English.txt").write_text("Smith\n")
    (tmp_path / "Empty.txt").write_text("\n")
    (tmp_path / "README.md").write_text("not names")
    d = read_names(tmp_path)
    assert d.languages == ("English", "Polish")
    assert d.names == ["Smith", "Ślusàrski", "Nowak"] and d.labels == [0, 1, 1]
    assert d.skipped == {"blank line": 2, "empty language file": 1, "not a .txt file": 1}
    assert read_names(tmp_path, ascii=True).names[1] == "Slusarski"
    assert unicode_to_ascii("Nguyễn") == "Nguyen"
    with pytest.raises(FileNotFoundError, match="folder: no such folder"):
        read_names(tmp_path / "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "X.txt").write_bytes(b"ok\n\xc3\x28\n")
    with pytest.raises(DataFormatError, match=r"X.txt:2: not valid utf-8"):
        read_names(tmp_path / "bad")


@pytest.mark.data
def test_names_real(shared_data):
    d = read_names(shared_data / "names")
    assert len(d) == 20_050 and len(d.languages) == 18 and not d.skipped
    assert d.languages[0] == "Arabic" and "Vietnamese" in d.languages


def test_parallel_files(tmp_path):
    src, tgt = tmp_path / "a.de", tmp_path / "a.en"
    src.write_text("Ein Hund .\n\nZwei Katzen .\nNur hier\n\n")
    tgt.write_text("A dog .\n\nTwo cats .\n\n\n")
    d = read_parallel(src, tgt)
    assert d.source == ["Ein Hund .", "Zwei Katzen ."] and d.target == ["A dog .", "Two cats ."]
    assert d.line_numbers == [1, 3]
    assert d.skipped == {"both sides blank": 2, "one side blank": 1}
    assert len(read_parallel(src, tgt, keep_one_side_blank=True)) == 3
    assert d[1] == ("Zwei Katzen .", "Two cats .")


def test_parallel_different_line_counts(tmp_path):
    src, tgt = tmp_path / "train.de", tmp_path / "train.en"
    src.write_text("a\nb\nc\n")
    tgt.write_text("x\ny\n")
    with pytest.raises(
        DataFormatError,
        match=r"train.de:3: line has no partner: .*train.de has 3 lines but .*train.en has 2",
    ):
        read_parallel(src, tgt)
    tgt.write_text("")
    src.write_text("")
    with pytest.raises(DataFormatError, match=r"train.de: empty corpus"):
        read_parallel(src, tgt)


@pytest.mark.data
def test_multi30k_counts(shared_data):
    root = shared_data / "multi30k"
    for split, n in (("train", 29_000), ("val", 1_014), ("test2016", 1_000)):
        d = read_parallel(root / f"{split}.de", root / f"{split}.en")
        assert len(d) == n, split
    # the train and val files end with one extra blank line, which is reported, not hidden
    assert read_parallel(root / "train.de", root / "train.en").skipped == {"both sides blank": 1}
