"""The bad-input catalogue: one table of what users feed deeprnn by mistake and the error each
must give at the boundary — exception type, and a message naming the argument or file (and the
line, where there is one) and the value. Layer-call cases live in ``tests/layers/test_bad_input.py``;
this table covers data readers, padding and vocabularies, configs, checkpoints, export folders
and the command line (exit status 2, one line on stderr, no partial output file)."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from _tiny import tiny_config

import deeprnn
from deeprnn import data as D
from deeprnn._validation import RecordError
from deeprnn.cli import main as cli_main
from deeprnn.cli.predict import read_records
from deeprnn.data import DataFormatError
from deeprnn.export import export_folder
from deeprnn.export.folder import load_exported
from deeprnn.training.checkpoint import load_checkpoint, read_checkpoint
from deeprnn.training.config import load_yaml, run_config_from_dict

TS_HEAD = "@problemName x\n@timeStamps false\n@univariate true\n@classLabel true a b\n@data\n"


def _w(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _idx(dims: list[int], payload: bytes, code: int = 8) -> bytes:
    head = struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    return gzip.compress(head + payload)


def _names(tmp: Path, files: dict[str, bytes]) -> Path:
    for name, raw in files.items():
        _w(tmp / "names", name, raw)
    (tmp / "names").mkdir(exist_ok=True)
    return tmp / "names"


def _truncated_tarball(tmp: Path) -> Path:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(20):
            raw = "".join(rng.choice(list("abcdefgh "), 4000)).encode()
            info = tarfile.TarInfo(f"aclImdb/train/pos/{i}_9.txt")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    data = buf.getvalue()
    return _w(tmp, "aclImdb_v1.tar.gz", data[: len(data) // 2])


def _truncated_parquet(tmp: Path) -> Path:
    import pandas as pd

    path = tmp / "s.parquet"
    pd.DataFrame({"t": range(50), "v": np.arange(50.0)}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:300])
    return path


def _mismatched_vocab(tmp: Path) -> Path:
    d = D.Vocab.build([["a", "b"]]).to_dict()
    return _w(tmp, "v.json", json.dumps(d).replace('"b"', '"a"'))


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
    (
        "stream a bidirectional layer",
        lambda t: list(deeprnn.LSTM(3, 4, bidirectional=True).stream([torch.randn(1, 2, 3)])),
        ValueError,
        r"stream needs a forward-only layer",
    ),
    # -- configs -------------------------------------------------------------------------
    (
        "yaml truncated",
        lambda t: load_yaml(_w(t, "c.yaml", "trainer:\n  max_epochs: [3,\n")),
        ValueError,
        r"config file .*c\.yaml is not valid YAML: line 3, column 1: expected the node content, "
        r"but found '<stream end>'",
    ),
    (
        "yaml bad indentation",
        lambda t: load_yaml(_w(t, "c.yaml", "trainer:\n  max_epochs: 3\n   seed: 1\n")),
        ValueError,
        r"config file .*c\.yaml is not valid YAML: line 3, column 8: mapping values are not "
        r"allowed here",
    ),
    (
        "yaml non-utf8",
        lambda t: load_yaml(_w(t, "c.yaml", b"trainer:\n  max_epochs: 3\n  x: b\xffd\n")),
        ValueError,
        r"config file .*c\.yaml:3: not valid UTF-8 \(byte 0xff at offset 31\)",
    ),
    (
        "yaml not a mapping",
        lambda t: load_yaml(_w(t, "c.yaml", "- 1\n- 2\n")),
        ValueError,
        r"config file .*c\.yaml must hold a mapping at the top, got \[1, 2\]",
    ),
    (
        "yaml missing",
        lambda t: load_yaml(t / "none.yaml"),
        ValueError,
        r"config file not found: .*none\.yaml",
    ),
    (
        "config unknown key",
        lambda t: run_config_from_dict({"trainer": {"max_epoch": 3}}),
        ValueError,
        r"config\.trainer has unknown key 'max_epoch' \(did you mean 'max_epochs'\?\)",
    ),
    (
        "config wrong type",
        lambda t: run_config_from_dict({"trainer": {"max_epochs": "3"}}),
        ValueError,
        r"config\.trainer\.max_epochs must be an int, got '3'",
    ),
    (
        "config nonfinite choice",
        lambda t: run_config_from_dict({"trainer": {"nonfinite": "ignore"}}),
        ValueError,
        r"config\.trainer\.nonfinite must be one of \['stop', 'skip'\], got 'ignore'",
    ),
    (
        "config NaN lr",
        lambda t: run_config_from_dict({"optim": {"lr": float("nan")}}),
        ValueError,
        r"config\.optim\.lr must be a finite number, got nan",
    ),
    (
        "config inf lr",
        lambda t: run_config_from_dict({"optim": {"lr": float("inf")}}),
        ValueError,
        r"config\.optim\.lr must be a finite number, got inf",
    ),
    (
        "config NaN beta",
        lambda t: run_config_from_dict({"optim": {"betas": [0.9, float("nan")]}}),
        ValueError,
        r"config\.optim\.betas must be two numbers in \[0, 1\), got \[0\.9, nan\]",
    ),
    (
        "config inf clip norm",
        lambda t: run_config_from_dict({"trainer": {"gradient_clip_norm": float("inf")}}),
        ValueError,
        r"config\.trainer\.gradient_clip_norm must be a finite number, got inf",
    ),
    (
        "config NaN clip value",
        lambda t: run_config_from_dict({"trainer": {"gradient_clip_value": float("nan")}}),
        ValueError,
        r"config\.trainer\.gradient_clip_value must be a finite number, got nan",
    ),
    (
        "config inf max_time",
        lambda t: run_config_from_dict({"trainer": {"max_time": float("inf")}}),
        ValueError,
        r"config\.trainer\.max_time must be a finite number, got inf",
    ),
    (
        "config section not a mapping",
        lambda t: run_config_from_dict({"trainer": 3}),
        ValueError,
        r"config\.trainer must be a mapping of keys to values, got 3",
    ),
    (
        "config model key",
        lambda t: run_config_from_dict({"model": {"rnn": {"hiden_size": 3}}}),
        ValueError,
        r"config\.model\.rnn has unknown key 'hiden_size' \(did you mean 'hidden_size'",
    ),
    (
        "config unknown task",
        lambda t: run_config_from_dict({"task": "clasify"}),
        ValueError,
        r"task must be one of \[.*'classify'.*\], got 'clasify' \(did you mean 'classify'\?\)",
    ),
    (
        "config negative penalty",
        lambda t: run_config_from_dict({"regularizers": {"input_l2": -1}}),
        ValueError,
        r"config\.regularizers\.input_l2 must be >= 0, got -1",
    ),
    (
        "config NaN penalty",
        lambda t: run_config_from_dict({"regularizers": {"recurrent_l2": float("nan")}}),
        ValueError,
        r"config\.regularizers\.recurrent_l2 must be a finite number, got nan",
    ),
    (
        "config inf penalty",
        lambda t: run_config_from_dict({"regularizers": {"bias_l1": float("inf")}}),
        ValueError,
        r"config\.regularizers\.bias_l1 must be a finite number, got inf",
    ),
    # -- predict_raw records (tasks/tag.py, lm.py, forecast.py) -------------------------------
    (
        "tag record without tokens",
        lambda t: _raw_model("tag").predict_raw(["a b", {"words": "a b"}]),
        RecordError,
        r"records\[1\]: a tag model reads the field 'tokens' or 'text', got fields \['words'\]",
    ),
    (
        "tag record not text",
        lambda t: _raw_model("tag").predict_raw([{"tokens": [1, 2]}]),
        RecordError,
        r"records\[0\]: a tag model reads a sentence or a list of token strings, got \[1, 2\]",
    ),
    (
        "lm record without prompt",
        lambda t: _raw_model("lm").predict_raw([{"prompt": "ab"}, {"start": "a"}]),
        RecordError,
        r"records\[1\]: a lm model reads the field 'prompt' or 'text', got fields \['start'\]",
    ),
    (
        "forecast csv without the target column",
        lambda t: _raw_model("forecast").predict_raw(
            read_records(str(_w(t, "h.csv", "x,c\n" + "1,0\n" * 6)), None)
        ),
        RecordError,
        r"records\[0\]: a forecast model reads the fields \['y', 'c'\], missing \['y'\], "
        r"got fields \['c', 'x'\]",
    ),
    (
        "forecast future row without covariate",
        lambda t: _raw_model("forecast").predict_raw([{"y": 10.0, "c": 0.0}] * 5 + [{"y": None}]),
        RecordError,
        r"records\[5\]: a forecast model reads the fields \['c'\], missing \['c'\]",
    ),
    (
        "forecast record not a row",
        lambda t: _raw_model("forecast").predict_raw(["10,0.1"]),
        RecordError,
        r"records\[0\]: a forecast model reads rows with columns \['y', 'c'\], got '10,0\.1'",
    ),
    # -- checkpoints and export folders --------------------------------------------------------
    (
        "checkpoint missing",
        lambda t: read_checkpoint(t / "none.ckpt"),
        ValueError,
        r"checkpoint not found: .*none\.ckpt",
    ),
    (
        "checkpoint truncated",
        lambda t: read_checkpoint(_w(t, "x.ckpt", _ckpt_bytes()[:200])),
        ValueError,
        r"x\.ckpt is not a loadable Lightning checkpoint",
    ),
    (
        "checkpoint without state_dict",
        lambda t: read_checkpoint(_w(t, "x.ckpt", _torch_bytes({"a": 1}))),
        ValueError,
        r"x\.ckpt is not a Lightning checkpoint \(no state_dict\)",
    ),
    (
        "checkpoint not deeprnn's",
        lambda t: load_checkpoint(_w(t, "x.ckpt", _ckpt_bytes())),
        ValueError,
        r"x\.ckpt was not written by deeprnn \(no task name\)",
    ),
    (
        "export folder missing",
        lambda t: load_exported(t / "nomodel"),
        ValueError,
        r"export folder not found: .*nomodel",
    ),
    (
        "export config.json not json",
        lambda t: load_exported(_w(t, "m/config.json", "{").parent),
        ValueError,
        r"m/config\.json:1: not valid JSON",
    ),
    (
        "pretrained weights missing",
        lambda t: deeprnn.load_pretrained(_pretrained_without_weights(t)),
        FileNotFoundError,
        r"weights file not found: .*model\.safetensors",
    ),
]


VOCAB = ["[PAD]", "[UNK]", "<bos>", "<eos>", *"abcdefgh"]


def _raw_model(task: str):
    """An untrained tag / lm / forecast model with the artifacts predict_raw needs."""
    from deeprnn.tasks import Forecast, LanguageModel, Tag

    torch.manual_seed(0)
    if task == "tag":
        return Tag(
            {"input": {"embedding_dim": 4}, "rnn": {"hidden_size": 4}},
            {
                "vocab": VOCAB,
                "chars": VOCAB,
                "labels": ["B-PER", "O"],
                "lower": False,
                "max_word_length": 10,
            },
        )
    if task == "lm":
        art = {"vocab": VOCAB, "level": "char", "add_bos": True, "add_eos": True}
        return LanguageModel({"input": {"embedding_dim": 4}, "rnn": {"hidden_size": 4}}, art)
    art = {
        "targets": ["y"],
        "covariates": ["c"],
        "input_window": 5,
        "horizon": 2,
        "seasonality": 1,
        "scaler": {
            "kind": "standard",
            "columns": ["y", "c"],
            "shift": [10.0, 0.0],
            "scale": [2.0, 1.0],
        },
    }
    return Forecast({"rnn": {"hidden_size": 4}}, art)


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _ckpt_bytes() -> bytes:
    return _torch_bytes({"state_dict": {"w": torch.zeros(100)}, "epoch": 0})


def _pretrained_without_weights(tmp: Path) -> Path:
    deeprnn.GRU(3, 4).save_pretrained(tmp / "p")
    (tmp / "p" / "model.safetensors").unlink()
    return tmp / "p"


@pytest.mark.parametrize(("what", "call", "exc", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)  # one line, fit for the CLI's one-line report


# -- the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny trained classify run (config.yaml, checkpoints/, model/)."""
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tiny_config("classify", tmp / "data", tmp / "run", max_epochs=1)
    (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["train", "-c", str(tmp / "cfg.yaml")]) == 0
    return tmp


def _copy_model(tmp: Path, trained: Path, drop: str | None = None, edit=None) -> str:
    import shutil

    dst = tmp / "model_copy"
    shutil.copytree(trained / "run" / "model", dst)
    if drop:
        (dst / drop).unlink()
    if edit:
        edit(dst)
    return str(dst)


def _shrink_hidden(d: Path) -> None:
    cfg = d / "config.json"
    cfg.write_text(cfg.read_text().replace('"hidden_size": 16', '"hidden_size": 8'))


# (id, argv(tmp, trained), regex on the one stderr line); every run passes --output OUT
# (predict) or --out_dir OUT (train) where it writes, and OUT must not exist afterwards
CLI_CASES = [
    (
        "train missing config",
        lambda t, r: ["train", "-c", str(t / "none.yaml")],
        r"deeprnn train: error: config file not found: .*none\.yaml",
    ),
    (
        "train unknown override",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--trainer.max_epoch",
            "2",
        ],
        r"trainer has unknown key 'max_epoch' \(did you mean 'max_epochs'\?\)",
    ),
    (
        "train wrong value type",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--trainer.batch_size",
            "many",
        ],
        r"trainer\.batch_size must be an int, got 'many'",
    ),
    (
        "train inf clip norm",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--trainer.gradient_clip_norm",
            ".inf",
        ],
        r"trainer\.gradient_clip_norm must be a finite number, got inf",
    ),
    (
        "train non-utf8 config",
        lambda t, r: ["train", "-c", str(_w(t, "c.yaml", b"task: classify\nout_dir: r\xe9s\n"))],
        r"deeprnn train: error: config file .*c\.yaml:2: not valid UTF-8 \(byte 0xe9 at offset 25\)",
    ),
    (
        "train yaml error in one line",
        lambda t, r: ["train", "-c", str(_w(t, "c.yaml", "task: classify\n trainer: 3\n"))],
        r"c\.yaml is not valid YAML: line 2, column 9: mapping values are not allowed here$",
    ),
    (
        "train resume missing",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--resume",
            str(t / "none.ckpt"),
        ],
        r"deeprnn train: error: checkpoint not found: .*none\.ckpt",
    ),
    (
        "train resume truncated",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--resume",
            str(_w(t, "cut.ckpt", (r / "run/checkpoints/last.ckpt").read_bytes()[:1000])),
        ],
        r"cut\.ckpt is not a loadable Lightning checkpoint",
    ),
    (
        "predict missing model",
        lambda t, r: ["predict", str(t / "nomodel")],
        r"nomodel is not a run folder \(config\.yaml\), an export folder",
    ),
    (
        "predict missing input",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(t / "x.txt"),
            "-o",
            str(t / "OUT"),
        ],
        r"--input: file not found: .*x\.txt",
    ),
    (
        "predict non-utf8 input",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", b"good\nb\xffd\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"in\.txt:2: not valid utf-8 text \(byte 0xff",
    ),
    (
        "predict bad json line",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.jsonl", '{"text": "a"}\n{oops\n')),
            "-o",
            str(t / "OUT"),
        ],
        r"--input line 2 is not JSON",
    ),
    (
        "predict empty input",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", "\n\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"no input examples \(empty input\)",
    ),
    (
        "predict wrong csv column",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.csv", "review\nnice\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"--input record 1: a classify model reads the field 'text' or 'x', got fields \['review'\]",
    ),
    (
        "predict tag record, later batch",
        lambda t, r: [
            "predict",
            str(export_folder(_raw_model("tag"), t / "tag_model")),
            "-i",
            str(_w(t, "in.jsonl", '{"text": "a b"}\n{"tokens": ["c"]}\n{"words": "a"}\n')),
            "--batch-size",
            "1",
            "-o",
            str(t / "OUT"),
        ],
        r"--input record 3: a tag model reads the field 'tokens' or 'text', got fields \['words'\]",
    ),
    (
        "predict forecast csv without target",
        lambda t, r: [
            "predict",
            str(export_folder(_raw_model("forecast"), t / "fc_model")),
            "-i",
            str(_w(t, "h.csv", "value,c\n" + "1,0\n" * 6)),
            "-o",
            str(t / "OUT"),
        ],
        r"--input record 1: a forecast model reads the fields \['y', 'c'\], missing \['y'\], "
        r"got fields \['c', 'value'\]",
    ),
    (
        "predict batch size",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "--batch-size",
            "0",
            "-o",
            str(t / "OUT"),
        ],
        r"--batch-size must be a positive int, got 0",
    ),
    (
        "export without weights",
        lambda t, r: [
            "predict",
            _copy_model(t, r, drop="model.safetensors"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"weights file not found: .*model_copy/model\.safetensors",
    ),
    (
        "export without vocab",
        lambda t, r: [
            "predict",
            _copy_model(t, r, drop="vocab.json"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy: artifact file vocab\.json is missing",
    ),
    (
        "export truncated vocab",
        lambda t, r: [
            "predict",
            _copy_model(t, r, edit=lambda d: (d / "vocab.json").write_text('["a", ')),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy/vocab\.json:1: not valid JSON",
    ),
    (
        "export non-utf8 config",
        lambda t, r: [
            "predict",
            _copy_model(t, r, edit=lambda d: (d / "config.json").write_bytes(b"{\xff}")),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy/config\.json is not valid UTF-8 \(byte offset 1\)",
    ),
    (
        "export config not an object",
        lambda t, r: [
            "predict",
            _copy_model(
                t,
                r,
                edit=lambda d: (d / "config.json").write_text('{"task": "classify", "config": 3}'),
            ),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy/config\.json: 'config' must be a JSON object, got int",
    ),
    (
        "export config does not match",
        lambda t, r: [
            "predict",
            _copy_model(t, r, edit=_shrink_hidden),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model\.safetensors does not match its config\.json: .*shape mismatch .*says \(32, 16\), "
        r"file has \(64, 16\)",
    ),
    (
        "evaluate missing model",
        lambda t, r: ["evaluate", str(t / "nomodel"), "--out", str(t / "OUT")],
        r"deeprnn evaluate: error: .*nomodel is not a run folder",
    ),
    (
        "evaluate unknown key",
        lambda t, r: ["evaluate", str(r / "run"), "--data.pth", "x", "--out", str(t / "OUT")],
        r"config\.data has unknown key 'pth' \(did you mean 'path'\?\)",
    ),
    (
        "evaluate missing ckpt",
        lambda t, r: [
            "evaluate",
            str(r / "run"),
            "--ckpt",
            str(t / "no.ckpt"),
            "--out",
            str(t / "OUT"),
        ],
        r"checkpoint not found: .*no\.ckpt",
    ),
]


@pytest.mark.parametrize(("what", "argv", "match"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, trained, capsys, what, argv, match):
    args = argv(tmp_path, trained)
    capsys.readouterr()
    assert cli_main(args) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"deeprnn {args[0]}: error: ")
    assert __import__("re").search(match, lines[0]), lines[0]
    assert not (tmp_path / "OUT").exists()  # no partial output
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_reports_a_type_error_in_one_line(tmp_path, trained, capsys, monkeypatch):
    """A TypeError from a boundary check (here a layer's bool flag) is one line and status 2;
    DEEPRNN_DEBUG=1 re-raises it."""
    argv = [
        "train",
        "-c",
        str(trained / "cfg.yaml"),
        "--out_dir",
        str(tmp_path / "run"),
        "--model.rnn.layers",
        "[{cell: lstm, hidden_size: 4, bidirectional: maybe}]",
    ]
    capsys.readouterr()
    assert cli_main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == [
        "deeprnn train: error: layers[0].bidirectional must be a bool, got str 'maybe'"
    ]
    monkeypatch.setenv("DEEPRNN_DEBUG", "1")
    with pytest.raises(TypeError, match="bidirectional must be a bool"):
        cli_main(argv)


def test_the_catalogue_has_at_least_40_cases_beyond_the_layer_table():
    assert len(CASES) + len(CLI_CASES) >= 40
