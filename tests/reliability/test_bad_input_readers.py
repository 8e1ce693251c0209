"""The bad-input catalogue, data readers: the datasets' file formats (text, tagging, time
series, images, word vectors, vocabularies, tokenizers) and padding, each error naming the file,
the line and the value. The shared runner and the helpers that build the bad files are in
``_catalogue.py``."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import torch
from _catalogue import (
    _idx,
    _mismatched_vocab,
    _names,
    _truncated_parquet,
    _truncated_tarball,
    _w,
    assert_clear_error,
    cases,
)

from deeprnn import data as D
from deeprnn.data import DataFormatError

TS_HEAD = "@problemName x\n@timeStamps false\n@univariate true\n@classLabel true a b\n@data\n"


# (id, call(tmp), exception type, regex on the message)
CASES = [
    # -- text readers --------------------------------------------------------------------
    (
        "corpus non-utf8",
        lambda t: D.read_corpus(_w(t, "c.txt", b"ok\nb\xffd\n")),
        DataFormatError,
        r"c\.txt:2: not valid utf-8 text \(byte 0xff at offset 4\)",
    ),
    (
        "corpus empty lines only",
        lambda t: D.read_corpus(_w(t, "e.txt", "\n \n")),
        DataFormatError,
        r"e\.txt: empty corpus: no tokens found",
    ),
    (
        "corpus missing path",
        lambda t: D.read_corpus(t / "nope.txt"),
        FileNotFoundError,
        r"path: no such file: '.*nope\.txt'",
    ),
    (
        "corpus level",
        lambda t: D.read_corpus(_w(t, "c.txt", "a b"), level="byte"),
        ValueError,
        r"level must be one of \['word', 'char'\], got 'byte'",
    ),
    (
        "corpus path type",
        lambda t: D.read_corpus(123),
        TypeError,
        r"path must be a str or os.PathLike, got int",
    ),
    (
        "names non-utf8",
        lambda t: D.read_names(_names(t, {"French.txt": b"Anne\n\xe9lise\n"})),
        DataFormatError,
        r"French\.txt:2: not valid utf-8 text \(byte 0xe9",
    ),
    (
        "names empty folder",
        lambda t: D.read_names(_names(t, {"Greek.txt": b"\n\n"})),
        ValueError,
        r"folder holds no names: expected <Language>\.txt files in '.*names'",
    ),
    (
        "names missing folder",
        lambda t: D.read_names(t / "nonames"),
        FileNotFoundError,
        r"folder: no such folder: '.*nonames'",
    ),
    (
        "parallel not aligned",
        lambda t: D.read_parallel(_w(t, "a.en", "x\ny\nz\n"), _w(t, "a.de", "x\ny\n")),
        DataFormatError,
        r"a\.en:3: line has no partner: .*a\.en has 3 lines but .*a\.de has 2",
    ),
    (
        "parallel blank lines only",
        lambda t: D.read_parallel(_w(t, "b.en", "\n\n"), _w(t, "b.de", "\n\n")),
        DataFormatError,
        r"b\.en: empty corpus: no sentence pairs found",
    ),
    (
        "imdb not a tarball",
        lambda t: D.read_imdb(_w(t, "aclImdb_v1.tar.gz", b"not a tar")),
        ValueError,
        r"path must be the aclImdb tarball or folder, got the non-tar file '.*tar\.gz'",
    ),
    (
        "imdb truncated tarball",
        lambda t: D.read_imdb(_truncated_tarball(t)),
        DataFormatError,
        r"aclImdb_v1\.tar\.gz: truncated or corrupt tarball",
    ),
    (
        "imdb empty folder",
        lambda t: D.read_imdb((t / "aclImdb").mkdir() or t / "aclImdb"),
        ValueError,
        r"no 'train' reviews found in '.*aclImdb'",
    ),
    (
        "imdb split",
        lambda t: D.read_imdb(t, split="dev"),
        ValueError,
        r"split must be one of \['train', 'test'\], got 'dev'",
    ),
    # -- tagging, time series, images --------------------------------------------------------
    (
        "conll column count",
        lambda t: D.read_conll(_w(t, "c.conll", "EU NNP B-ORG\nrejects VBZ\n")),
        DataFormatError,
        r"c\.conll:2: expected 3 columns \(as line 1\), got 2: 'rejects VBZ'",
    ),
    (
        "conll bad chunk tag",
        lambda t: D.read_conll(_w(t, "c.conll", "EU NNP X-ORG\n"), scheme="BIO"),
        DataFormatError,
        r"c\.conll:1: label column -1: 'X-ORG' is not 'O' or",
    ),
    (
        "conll no sentences",
        lambda t: D.read_conll(_w(t, "c.conll", "-DOCSTART- -X- O\n\n")),
        DataFormatError,
        r"c\.conll: empty corpus: no sentences found",
    ),
    (
        "conll label column",
        lambda t: D.read_conll(_w(t, "c.conll", "EU NNP B-ORG\n"), label_column=5),
        ValueError,
        r"label_column must index one of the 3 columns of .*c\.conll, got 5",
    ),
    (
        "ts no cases",
        lambda t: D.read_ts(_w(t, "a.ts", TS_HEAD)),
        DataFormatError,
        r"a\.ts: empty: no cases after @data",
    ),
    (
        "ts non-numeric",
        lambda t: D.read_ts(_w(t, "b.ts", TS_HEAD + "1,2,x:a\n")),
        DataFormatError,
        r"b\.ts:6: non-numeric value \(could not convert string to float: 'x'\)",
    ),
    (
        "ts undeclared label",
        lambda t: D.read_ts(_w(t, "c.ts", TS_HEAD + "1,2,3:c\n")),
        DataFormatError,
        r"c\.ts:6: class label 'c' not declared in @classLabel \['a', 'b'\]",
    ),
    (
        "ts truncated header",
        lambda t: D.read_ts(_w(t, "d.ts", TS_HEAD[:40])),
        DataFormatError,
        r"d\.ts:3: unknown header '@univar'",
    ),
    (
        "series missing value",
        lambda t: D.read_series(_w(t, "s.csv", "t,v\n1,1\n2,\n"), time_column="t"),
        DataFormatError,
        r"s\.csv:3: row 1, column 'v': missing value \(NaN\); 1 in all",
    ),
    (
        "series inf value",
        lambda t: D.read_series(_w(t, "s.csv", "t,v\n1,1\n2,inf\n"), time_column="t"),
        DataFormatError,
        r"s\.csv:3: row 1, column 'v': inf is not finite",
    ),
    (
        "series time goes back",
        lambda t: D.read_series(_w(t, "s.csv", "t,v\n1,1\n0,2\n"), time_column="t"),
        DataFormatError,
        r"s\.csv:3: row 1, column 't': time goes back in time",
    ),
    (
        "series unknown column",
        lambda t: D.read_series(_w(t, "s.csv", "t,v\n1,1\n"), targets=["w"]),
        ValueError,
        r"s\.csv: targets column 'w' not found; available columns: \['t', 'v'\]",
    ),
    (
        "series header only",
        lambda t: D.read_series(_w(t, "s.csv", "t,v\n"), time_column="t"),
        DataFormatError,
        r"s\.csv: empty series: the file holds a header but no rows",
    ),
    (
        "series fill policy",
        lambda t: D.read_series(_w(t, "s.csv", "t,v\n1,1\n"), fill="mean"),
        ValueError,
        r"fill must be one of \['ffill', 'interpolate', 'zero', 'drop'\], got 'mean'",
    ),
    (
        "series malformed csv",
        lambda t: D.read_series(_w(t, "s.csv", 't,v\n2,"3\n')),
        DataFormatError,
        r"s\.csv: malformed CSV: .*EOF inside string",
    ),
    (
        "series non-utf8 csv",
        lambda t: D.read_series(_w(t, "s.csv", b"t,v\n1,\xff\n")),
        DataFormatError,
        r"s\.csv:2: not valid utf-8 text",
    ),
    (
        "series truncated parquet",
        lambda t: D.read_series(_truncated_parquet(t)),
        DataFormatError,
        r"s\.parquet: not a readable Parquet file",
    ),
    (
        "idx truncated",
        lambda t: D.read_idx(_w(t, "i.gz", _idx([10, 28, 28], b"\0" * 100))),
        DataFormatError,
        r"i\.gz: header says shape \(10, 28, 28\) \(7856 bytes\), file has 116",
    ),
    (
        "idx bad magic",
        lambda t: D.read_idx(_w(t, "j.gz", gzip.compress(b"\1\2\3\4" + b"\0" * 20))),
        DataFormatError,
        r"j\.gz: not an idx file \(magic bytes 01020304 at offset 0\)",
    ),
    (
        "idx truncated gzip",
        lambda t: D.read_idx(_w(t, "k.gz", _idx([10], b"\0" * 10)[:-6])),
        DataFormatError,
        r"k\.gz: cannot decompress: Compressed file ended",
    ),
    (
        "mnist count mismatch",
        lambda t: D.read_mnist(
            _w(t, "im.gz", _idx([2, 28, 28], b"\0" * 1568)), _w(t, "lb.gz", _idx([3], b"\0" * 3))
        ),
        DataFormatError,
        r"lb\.gz: 3 labels but .*im\.gz holds 2 images",
    ),
    # -- vectors, vocabularies, tokenizers, padding -----------------------------------------
    (
        "glove short row",
        lambda t: D.read_glove(_w(t, "g.txt", "a 1 2 3\nb 1 2\n")),
        DataFormatError,
        r"g\.txt:2: expected a word and 3 numbers, got 2 fields",
    ),
    (
        "glove nan value",
        lambda t: D.read_glove(_w(t, "g.txt", "a 1 2 3\nb 1 nan 3\n")),
        DataFormatError,
        r"g\.txt:2: non-finite value 'nan' in the vector of 'b'",
    ),
    (
        "word2vec truncated binary",
        lambda t: D.read_word2vec(
            _w(t, "w.bin", b"2 3\na " + struct.pack("<3f", 1, 2, 3) + b"\nb \0\0")
        ),
        DataFormatError,
        r"w\.bin: truncated at word 2 of 2",
    ),
    (
        "word2vec bad header",
        lambda t: D.read_word2vec(_w(t, "w.txt", "two three\na 1 2 3\n")),
        DataFormatError,
        r"w\.txt:1: expected a word2vec header 'count dim', got b'two three",
    ),
    (
        "vocab truncated json",
        lambda t: D.Vocab.load(_w(t, "v.json", '{"tokens": [')),
        DataFormatError,
        r"v\.json:1: invalid JSON",
    ),
    (
        "vocab not a vocab",
        lambda t: D.Vocab.load(_w(t, "v.json", "[1, 2]")),
        DataFormatError,
        r"v\.json: not a saved Vocab \(expected format 'deeprnn.Vocab'\)",
    ),
    (
        "vocab non-utf8",
        lambda t: D.Vocab.load(_w(t, "v.json", b'{"a": "\xff"}')),
        DataFormatError,
        r"v\.json:1: not valid utf-8 text \(byte 0xff at offset 7\)",
    ),
    (
        "vocab duplicates",
        lambda t: D.Vocab.load(_mismatched_vocab(t)),
        DataFormatError,
        r"v\.json: tokens hold duplicates or reserved tokens",
    ),
    (
        "vocab missing file",
        lambda t: D.Vocab.load(t / "none.json"),
        FileNotFoundError,
        r"path: no such file: '.*none\.json'",
    ),
    (
        "vocab encode a str",
        lambda t: D.Vocab.build([["a"]]).encode("a b"),
        TypeError,
        r"tokens must be a sequence of tokens, got a str",
    ),
    (
        "vocab decode out of range",
        lambda t: D.Vocab.build([["a"]]).decode([99]),
        IndexError,
        r"ids must be in \[0, 3\), got 99",
    ),
    (
        "subword tokenizer bad json",
        lambda t: D.SubwordTokenizer.load(_w(t, "tok.json", "{bad")),
        ValueError,
        r"tok\.json: not a tokenizers JSON file",
    ),
    (
        "word tokenizer None",
        lambda t: D.WordTokenizer()(None),
        TypeError,
        r"text must be a str, got NoneType",
    ),
    (
        "pad maxlen zero",
        lambda t: D.pad_sequences([[1, 2]], maxlen=0),
        ValueError,
        r"maxlen must be a positive int or None, got 0",
    ),
    (
        "pad ragged samples",
        lambda t: D.pad_sequences([[[1, 2]], [[1, 2, 3]]], dtype="float32"),
        ValueError,
        r"sequences\[1\] has sample shape \(3,\), expected \(2,\)",
    ),
    (
        "pad NaN into int",
        lambda t: D.pad_sequences([[1], [1.0, float("nan")]]),
        ValueError,
        r"sequences\[1\] cannot be converted to dtype int32: .*NaN",
    ),
    (
        "pad a string row",
        lambda t: D.pad_sequences(["ab", [1]]),
        ValueError,
        r"sequences\[0\] must be a sequence .*got str 'ab'",
    ),
    (
        "lengths_to_mask negative",
        lambda t: D.lengths_to_mask(torch.tensor([2, -1])),
        ValueError,
        r"lengths must be non-negative, got -1",
    ),
    (
        "lengths_to_mask too long",
        lambda t: D.lengths_to_mask(torch.tensor([2, 5]), max_len=3),
        ValueError,
        r"max_len must be >= max\(lengths\) = 5, got 3",
    ),
    (
        "scaler inf",
        lambda t: D.Scaler().fit(np.array([[1.0], [np.inf]])),
        ValueError,
        r"x contains NaN or Inf",
    ),
    (
        "batchify too few ids",
        lambda t: D.batchify([1, 2, 3], 5),
        ValueError,
        r"batch_size must leave at least 2 ids per row, got 5 for 3 ids",
    ),
]


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)
