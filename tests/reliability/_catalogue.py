"""The bad-input catalogue's shared parts: the table-driven runners and the helpers that
build the bad files. The catalogue is one table per family of what users feed deeprnn by
mistake and the error each must give at the boundary — exception type, and a message naming the
argument or file (and the line, where there is one) and the value: ``test_bad_input_layers.py``,
``test_bad_input_readers.py`` (data readers, padding and vocabularies), ``test_bad_input_configs.py``,
``test_bad_input_records.py`` (``predict_raw`` records), ``test_bad_input_checkpoints.py``
(checkpoints, export folders, pretrained folders) and ``test_bad_input_cli.py`` (the command line:
exit status 2, one line on stderr, no partial output file). Layer-call cases live in
``tests/layers/test_bad_input.py``.

A private helper module (not collected): the test files import it as ``_catalogue``, found on
``sys.path`` through ``tests/reliability/conftest.py``, which also has pytest rewrite its asserts.

A call table's rows are ``(id, call(tmp), exception type, regex on the message)``; the command
line's are ``(id, argv(tmp, trained), regex on the one stderr line)``."""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

import deeprnn
from deeprnn import data as D
from deeprnn.cli import main as cli_main

CASE_FIELDS = ("what", "call", "exc", "match")
CLI_CASE_FIELDS = ("what", "argv", "match")


def cases(table: list):
    """Parametrize a test over a call table, one test id per row."""
    return pytest.mark.parametrize(CASE_FIELDS, table, ids=[c[0] for c in table])


def cli_cases(table: list):
    """Parametrize a test over a command-line table, one test id per row."""
    return pytest.mark.parametrize(CLI_CASE_FIELDS, table, ids=[c[0] for c in table])


def assert_clear_error(tmp_path, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)  # one line, fit for the CLI's one-line report


def assert_cli_exits_2_with_one_line(tmp_path, trained, capsys, argv, match):
    args = argv(tmp_path, trained)
    capsys.readouterr()
    assert cli_main(args) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"deeprnn {args[0]}: error: ")
    assert __import__("re").search(match, lines[0]), lines[0]
    assert not (tmp_path / "OUT").exists()  # no partial output
    assert not list(tmp_path.glob(".*.tmp"))


# -- bad files ----------------------------------------------------------------------------------


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


# -- models, checkpoints and export folders -------------------------------------------------


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


def _copy_run(tmp: Path, trained: Path, append_to_config: str = "") -> str:
    """A copy of the trained run folder, ``append_to_config`` added to its config.yaml."""
    import shutil

    dst = tmp / "run_copy"
    shutil.copytree(trained / "run", dst)
    with (dst / "config.yaml").open("a", encoding="utf-8") as f:
        f.write(append_to_config)
    return str(dst)


def empty_splits() -> dict:
    """A ``data.reader`` whose splits hold no example (``_catalogue:empty_splits``)."""
    return {"train": [], "val": []}
