"""A feature whose optional package is missing says which extra installs it (issue 26 item 12):
one line from the CLI, a MissingExtraError from the API, never a bare ModuleNotFoundError."""

from __future__ import annotations

import sys

import pytest
import torch

import deeprnn
from deeprnn._validation import EXTRAS, MissingExtraError, require
from deeprnn.cli import main as cli_main


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_require_names_the_extra(module, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import of it now fails
    extra = EXTRAS[module][0]
    with pytest.raises(MissingExtraError, match=rf"pip install 'deeprnn\[{extra}\]'"):
        require(module, "this feature")


def test_cli_import_without_h5py_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "h5py", None)
    import json
    import zipfile

    model = tmp_path / "m.keras"
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}
    with zipfile.ZipFile(model, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    code = cli_main(["import", str(model), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'deeprnn[keras]'" in err and len(err.strip().splitlines()) == 1


def test_onnx_export_without_onnx_names_the_extra(tmp_path, monkeypatch):
    from deeprnn.export.onnx import export_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError, match=r"deeprnn\[onnx\]"):
        export_onnx(torch.nn.Identity(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_to_keras_without_keras_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(MissingExtraError, match=r"deeprnn\[keras\]"):
        deeprnn.interop.to_keras(deeprnn.LSTM(3, 4))
