"""The run folder's names (deeprnn._run_folder) are what a run writes, and a run on disk reopens
(open_run / SavedRun) to the metrics it was tested with."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from deeprnn._run_folder import FoldsFolder, RunFolder, SearchFolder
from deeprnn.training import fit_run, open_run, run_config_from_dict


def tiny(out: Path, **extra) -> dict:
    """A classifier on synthetic sequences that trains in about a second."""
    return {
        "task": "classify",
        "seed": 0,
        "out_dir": str(out),
        "data": {"source": "synthetic", "num_examples": 120},
        "model": {"rnn": {"hidden_size": 8}},
        "trainer": {
            "max_epochs": 2,
            "batch_size": 32,
            "progress_bar": False,
            "tensorboard": False,
            "num_threads": 1,
            "log_every_n_steps": 1,
        },
        **extra,
    }


def test_the_names_of_a_run_and_its_neighbours():
    run = RunFolder("runs/x")
    assert run == RunFolder(Path("runs/x"))
    assert [p.relative_to("runs/x").as_posix() for p in (
        run.config, run.metrics, run.model_dir, run.best_checkpoint, run.last_checkpoint,
        run.interrupted_checkpoint, run.csv_log, run.report, run.attention_figure(2),
    )] == [
        "config.yaml", "metrics.json", "model", "checkpoints/best.ckpt", "checkpoints/last.ckpt",
        "checkpoints/interrupted.ckpt", "logs/csv/metrics.csv", "report.html", "attention_2.png",
    ]  # fmt: skip
    folds = FoldsFolder("out")
    assert folds.fold(3) == RunFolder("out/fold_3") and folds.summary_json.name == "summary.json"
    search = SearchFolder("s")
    assert search.trial(7) == RunFolder("s/trials/trial_0007")
    assert search.best_run == RunFolder("s/best")
    assert [p.name for p in (search.study_db, search.best_yaml, search.summary_md)] == [
        "study.db",
        "best.yaml",
        "summary.md",
    ]


def test_a_search_folder_is_not_a_run_folder(tmp_path):
    assert not RunFolder(tmp_path).looks_like_run() and not SearchFolder(tmp_path).is_search()
    SearchFolder(tmp_path).summary_md.write_text("| trial |\n")
    assert SearchFolder(tmp_path).is_search()
    RunFolder(tmp_path).config.write_text("task: classify\n")
    assert RunFolder(tmp_path).is_run() and not SearchFolder(tmp_path).is_search()


def test_a_run_writes_what_its_folder_names_and_reopens_to_its_metrics(tmp_path):
    result = fit_run(run_config_from_dict(tiny(tmp_path / "run")))
    run = RunFolder(result.run_dir)
    for path in (run.config, run.metrics, run.best_checkpoint, run.last_checkpoint, run.csv_log):
        assert path.is_file(), path
    assert run.has_export() and result.best_checkpoint == run.best_checkpoint
    assert run.checkpoint() == run.best_checkpoint

    written = json.loads(run.metrics.read_text())
    for where in (run.path, run.best_checkpoint, run.model_dir):  # folder, .ckpt, export folder
        saved = open_run(where)
        assert saved.config["task"] == "classify"
        metrics = saved.evaluate()
        assert metrics["test_acc"] == pytest.approx(written["test_acc"]), where
    assert open_run(run.path).run_config([("data.num_examples", 60)]).data.num_examples == 60


def test_open_run_names_what_it_cannot_open(tmp_path):
    with pytest.raises(ValueError, match=r"is not a run folder \(config.yaml\), an export folder"):
        open_run(tmp_path)
    RunFolder(tmp_path).config.write_text("task: classify\n")
    with pytest.raises(ValueError, match="a run folder without checkpoints or an export folder"):
        open_run(tmp_path)


@pytest.mark.parametrize(
    "old, new, name",
    [
        ("deeprnn.training.tune", "deeprnn.training.search", "tune"),
        ("deeprnn.training.keras_fit", "deeprnn.training.keras", "fit"),
    ],
)
def test_moved_modules_warn_and_still_work(old, new, name, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated; import from {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
