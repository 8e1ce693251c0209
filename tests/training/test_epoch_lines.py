"""What a user sees while a model trains (issue 26, part 4): one line per epoch when the
progress bar is off or stdout is not a terminal (Keras' verbose=2), epochs counted from 1 in
everything printed, as Keras counts them."""

from __future__ import annotations

import re

import pytest
import torch
from _tiny import tiny_config

import deeprnn
from deeprnn.training import fit_run, run_config_from_dict
from deeprnn.training.keras import trainer as keras_trainer
from deeprnn.training.progress import epoch_line, epoch_values

LINE = re.compile(r"^epoch (\d+)/(\d+) - \d+\.\ds( - [a-z_0-9]+ [-+.e0-9na]+)+$")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("epoch ")]


def test_epoch_line_format():
    values = {"train_loss": 0.51234, "val_loss": 0.498, "val_acc": 0.81}
    line = epoch_line(3, 20, 1.23, values)
    assert line == "epoch 3/20 - 1.2s - train_loss 0.5123 - val_loss 0.498 - val_acc 0.81"
    assert LINE.match(line)


def test_epoch_values_keep_the_epochs_numbers_training_first():
    logged = {
        "val_loss": torch.tensor(0.4),
        "train_loss_step": torch.tensor(9.0),
        "train_loss": torch.tensor(0.7),
        "train_loss_epoch": torch.tensor(0.5),
        "grad_norm": torch.tensor(3.0),
        "lr-Adam": 0.001,
        "train_acc": torch.tensor(0.75),
    }
    got = epoch_values(logged)
    assert list(got) == ["train_loss", "train_acc", "val_loss"]
    assert got["train_loss"] == pytest.approx(0.5) and got["val_loss"] == pytest.approx(0.4)


def test_a_run_without_progress_bar_prints_one_line_per_epoch(tmp_path, capsys):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=3)
    assert cfg["trainer"]["progress_bar"] is False
    fit_run(run_config_from_dict(cfg))
    lines = _lines(capsys.readouterr().out)
    assert [line.split(" - ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    for line in lines:
        assert LINE.match(line), line
        names = [part.split(" ")[0] for part in line.split(" - ")[2:]]
        assert names[:2] == ["train_loss", "train_acc"] and "val_loss" in names
        assert "val_acc" in names and not any(n.endswith(("_step", "_epoch")) for n in names)


def test_a_run_with_its_progress_bar_on_a_pipe_prints_lines_instead(tmp_path, capsys):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=2)
    cfg["trainer"]["progress_bar"] = True  # stdout is captured here: not a terminal
    fit_run(run_config_from_dict(cfg))
    captured = capsys.readouterr()
    assert [line.split(" - ")[0] for line in _lines(captured.out)] == ["epoch 1/2", "epoch 2/2"]
    assert "it/s" not in captured.out + captured.err  # no bar redrawn into a file


def test_a_run_on_a_terminal_shows_its_bar_counting_epochs_from_1(tmp_path, capsys, monkeypatch):
    from deeprnn.training.runner import run as runner

    monkeypatch.setattr(runner, "stdout_is_terminal", lambda: True)
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=2)
    cfg["trainer"]["progress_bar"] = True
    fit_run(run_config_from_dict(cfg))
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "Epoch 1/2" in shown and "Epoch 2/2" in shown and "Epoch 0" not in shown
    assert not _lines(captured.out)


def _data(n=40):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 5, 1, generator=g), torch.randn(n, 1, generator=g)


class _Last(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = deeprnn.LSTM(1, 4, return_sequences=False)
        self.out = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.out(self.rnn(x)[0])


@pytest.mark.parametrize("verbose", [2, 1, True])
def test_keras_fit_prints_a_line_per_epoch_counted_from_1(verbose, capsys):
    x, y = _data()
    deeprnn.fit(_Last(), x, y, epochs=2, validation_split=0.25, metrics=["mae"], verbose=verbose)
    lines = _lines(capsys.readouterr().out)
    assert [line.split(" - ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    names = [part.split(" ")[0] for part in lines[0].split(" - ")[2:]]
    assert names == ["loss", "mae", "val_loss", "val_mae"]


def test_keras_fit_silent_and_a_bad_verbose(capsys):
    x, y = _data()
    deeprnn.fit(_Last(), x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or a bool, got 3"):
        deeprnn.fit(_Last(), x, y, epochs=1, verbose=3)


def test_keras_fit_progress_bar_counts_epochs_from_1(capsys, monkeypatch):
    monkeypatch.setattr(keras_trainer, "stdout_is_terminal", lambda: True)
    x, y = _data()
    deeprnn.fit(_Last(), x, y, epochs=2, validation_split=0.25, verbose=1)
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "Epoch 1/2" in shown and "Epoch 2/2" in shown
    assert "Epoch 0" not in shown and not _lines(captured.out)  # the bar, not the lines
