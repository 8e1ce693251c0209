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


def test_training_without_tensorboard_says_so_in_one_line(tmp_path, monkeypatch, caplog):
    """The base install has no tensorboard: the run keeps its CSV log and says in one line that
    the TensorBoard log was skipped and which extra installs it (it was skipped silently)."""
    import logging

    import lightning.fabric.loggers.tensorboard as tb
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from deeprnn.training import run_config_from_dict
    from deeprnn.training.runner import build_trainer

    monkeypatch.setattr(tb, "_TENSORBOARD_AVAILABLE", False)  # what Lightning checks
    monkeypatch.setattr(tb, "_TENSORBOARDX_AVAILABLE", False)
    run = run_config_from_dict({"trainer": {"tensorboard": True, "progress_bar": False}})
    with caplog.at_level(logging.WARNING, logger="deeprnn.training"):
        trainer = build_trainer(run, tmp_path)
    said = [r.getMessage() for r in caplog.records if "TensorBoard" in r.getMessage()]
    assert len(said) == 1 and "\n" not in said[0], said
    assert said[0].startswith("TensorBoard log skipped: tensorboard is not installed")
    assert "pip install 'deeprnn[tensorboard]'" in said[0]
    assert [type(lg) for lg in trainer.loggers] == [CSVLogger]
    assert not any(isinstance(lg, TensorBoardLogger) for lg in trainer.loggers)
