"""CoNLL column files and the IOB1 / BIO / IOBES conversions."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprnn.data import (
    DataFormatError,
    bio_to_iobes,
    iobes_to_bio,
    read_conll,
    tags_to_spans,
    to_bio,
)

SAMPLE = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

Paris NNP I-NP I-LOC
Rome NNP I-NP B-LOC
"""


def test_read_conll_sample(tmp_path):
    p = tmp_path / "eng.sample"
    p.write_text(SAMPLE)
    d = read_conll(p)
    assert d.sentences == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn"],
        ["Paris", "Rome"],
    ]
    assert d.labels[0] == ["I-ORG", "O", "I-MISC", "O", "O"]  # as in the file (IOB1)
    assert d.doc_ids == [0, 0, 1] and d.num_documents == 2
    assert d.line_numbers == [3, 9, 14] and d.num_columns == 4
    assert d.skipped == {"-DOCSTART- line": 2}
    assert d.columns[1][0] == ("Peter", "NNP", "I-NP", "I-PER")
    bio = read_conll(p, scheme="BIO")
    assert bio.labels == [
        ["B-ORG", "O", "B-MISC", "O", "O"],
        ["B-PER", "I-PER"],
        ["B-LOC", "B-LOC"],
    ]
    iobes = read_conll(p, scheme="IOBES")
    assert iobes.labels == [
        ["S-ORG", "O", "S-MISC", "O", "O"],
        ["B-PER", "E-PER"],
        ["S-LOC", "S-LOC"],
    ]
    pos = read_conll(p, label_column=1)
    assert pos.labels[0] == ["NNP", "VBZ", "JJ", "NN", "."]
    chunks = read_conll(p, label_column=2, scheme="BIO")
    assert chunks.labels[0] == ["B-NP", "B-VP", "B-NP", "I-NP", "O"]
    assert bio.label_set() == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"]
    # tabs and no trailing blank line, no DOCSTART
    q = tmp_path / "tabs.tsv"
    q.write_text("a\tB-X\nb\tI-X")
    t = read_conll(q)
    assert t.sentences == [["a", "b"]] and t.doc_ids == [0] and not t.skipped


def test_conll_bad_input(tmp_path):
    p = tmp_path / "bad.conll"
    p.write_text("EU NNP I-NP I-ORG\nrejects VBZ O\n")
    with pytest.raises(
        DataFormatError,
        match=r"bad.conll:2: expected 4 columns \(as line 1\), got 3: 'rejects VBZ O'",
    ):
        read_conll(p)
    with pytest.raises(
        DataFormatError, match=r"bad.conll:1: expected 3 columns \(as num_columns\), got 4"
    ):
        read_conll(p, num_columns=3)
    p.write_text("EU NNP I-NP I-ORG\n\nx NN I-NP ORG\n")
    with pytest.raises(
        DataFormatError, match=r"bad.conll:3: label column -1: 'ORG' is not 'O' or .* to BIO"
    ):
        read_conll(p, scheme="BIO")
    with pytest.raises(
        ValueError, match=r"label_column must index one of the 4 columns of .*, got 4"
    ):
        read_conll(p, label_column=4)
    with pytest.raises(ValueError, match=r"scheme must be one of \['BIO', 'IOBES'\], got 'IOB2'"):
        read_conll(p, scheme="IOB2")
    p.write_text("-DOCSTART- -X- O O\n\n\n")
    with pytest.raises(DataFormatError, match=r"bad.conll: empty corpus"):
        read_conll(p)
    p.write_bytes(b"a O\n\nb\xff O\n")
    with pytest.raises(DataFormatError, match=r"bad.conll:3: not valid utf-8"):
        read_conll(p)


def test_tag_conversions():
    assert to_bio(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]) == [
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "B-LOC",
    ]
    assert to_bio(["I-PER", "I-LOC"]) == ["B-PER", "B-LOC"]
    assert bio_to_iobes(["B-PER", "I-PER", "I-PER", "O", "B-LOC"]) == [
        "B-PER",
        "I-PER",
        "E-PER",
        "O",
        "S-LOC",
    ]
    assert iobes_to_bio(["S-A", "B-A", "E-A", "O"]) == ["B-A", "B-A", "I-A", "O"]
    assert tags_to_spans(["B-PER", "I-PER", "O", "S-LOC", "I-MISC"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("MISC", 4, 5),
    ]
    with pytest.raises(
        ValueError, match=r"tags\[1\] must be 'O' or '<B\|I\|E\|S>-<type>', got 'X'"
    ):
        to_bio(["O", "X"])


tag = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"])


@given(st.lists(tag, max_size=15))
def test_scheme_round_trips_keep_spans(tags):
    bio = to_bio(tags)
    assert to_bio(bio) == bio  # valid BIO is left alone
    iobes = bio_to_iobes(tags)
    assert iobes_to_bio(iobes) == bio
    assert tags_to_spans(tags) == tags_to_spans(bio) == tags_to_spans(iobes)
    assert all(t.startswith(("O", "B-")) for t, p in zip(bio, ["O", *bio]) if p == "O")


@pytest.mark.data
def test_conll2003_sentence_counts(shared_data):
    root = shared_data / "conll2003"
    for name, n_sent, n_docs in (
        ("eng.train", 14_041, 946),
        ("eng.testa", 3_250, 216),
        ("eng.testb", 3_453, 231),
    ):
        d = read_conll(root / name, scheme="BIO")
        assert len(d) == n_sent, name  # Tjong Kim Sang & De Meulder 2003, Table 1
        assert d.num_documents == n_docs and d.skipped["-DOCSTART- line"] == n_docs
        assert d.num_columns == 4
        assert {t[2:] for t in d.label_set() if t != "O"} == {"PER", "LOC", "ORG", "MISC"}
    train = read_conll(root / "eng.train")
    assert sum(map(len, train.sentences)) == 203_621  # tokens, Table 1
    entities = Counter(span[0] for tags in train.labels for span in tags_to_spans(tags))
    assert entities == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}  # Table 2
