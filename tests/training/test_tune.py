"""``deeprnn tune``: bad spaces fail before any trial, a 3-trial search writes a study whose
best.yaml retrains to the same validation metric, and a search killed with SIGKILL resumes,
while a second process works on the same SQLite study."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from deeprnn._run_folder import STUDY_DB
from deeprnn.cli import main
from deeprnn.training.search import TuneConfig, tune

EXE = Path(sys.executable).parent / "deeprnn"
SPACE = {
    "optim.lr": {"log_uniform": [1e-3, 3e-2]},
    "model.rnn": {"cell": {"choice": ["lstm", "gru"]}},  # nested sections read as dotted keys
    "model.rnn.hidden_size": {"int": [4, 12], "step": 4},
}


def base(out: Path, **extra) -> dict:
    """A classifier on synthetic sequences that trains in about a second."""
    return {
        "task": "classify",
        "seed": 0,
        "out_dir": str(out),
        "export": False,
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


def states(out: Path) -> dict[str, int]:
    con = sqlite3.connect(out / STUDY_DB, timeout=30)
    try:
        return dict(con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize(
    "space, message",
    [
        (
            {"optim.lrr": {"log_uniform": [1e-4, 1e-2]}},
            r"optim\.lrr=.*unknown key 'lrr' \(did you mean 'lr'\?\)",
        ),
        ({"optim.lr": {"log_uniform": [0, 1e-2]}}, r"optim\.lr: log_uniform needs 0 < low < high"),
        ({"optim.lr": {"uniform": [0.1, 0.01]}}, r"uniform needs low < high, got \[0\.1, 0\.01\]"),
        (
            {"optim.lr": {"loguniform": [1e-4, 1e-2]}},
            r"unknown distribution 'loguniform' \(did you mean 'log_uniform'\?\)",
        ),
        ({"model.rnn.cell": {"choice": ["lstm", "grux"]}}, r"model\.rnn\.cell='grux': .*cell"),
        ({"model.rnn.hidden_size": {"int": [8.5, 16]}}, r"int needs integer bounds"),
        ({"model.rnn.hidden_size": {"choice": []}}, r"choice needs a non-empty list"),
        (
            {"model.rnn.hidden_size": {"int": [4, 8], "stp": 2}},
            r"unknown key 'stp' \(did you mean 'step'\?\)",
        ),
        ({"model.rnn.hidden_size": {"int": [4, 13], "step": 4}}, r"multiple of step"),
        ({"optim.lr": 0.001}, r"optim\.lr: expected a distribution"),
        ({"out_dir": {"choice": ["a", "b"]}}, r"out_dir cannot be searched"),
        ({}, r"search space is empty"),
    ],
)
def test_bad_spaces_fail_before_any_trial(tmp_path, space, message):
    out = tmp_path / "search"
    with pytest.raises(ValueError, match=message):
        tune(base(out), space, TuneConfig(trials=1))
    assert not out.exists()  # nothing written, no trial run


def test_cli_reports_a_bad_space_in_one_line(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base(tmp_path / "search")))
    (tmp_path / "space.yaml").write_text("optim.lr: {log_uniform: [1.0e-2, 1.0e-4]}\n")
    rc = main(["tune", "-c", str(tmp_path / "base.yaml"), "-s", str(tmp_path / "space.yaml")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "space.yaml optim.lr: log_uniform needs low < high" in err
    with pytest.raises(ValueError, match="never on test"):
        tune(base(tmp_path / "s", trainer={"monitor": "test_loss"}), SPACE)


def test_help_shows_the_space_and_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "deeprnn tune -c" in out and "log_uniform" in out


def test_search_writes_a_study_and_best_yaml_retrains_identically(tmp_path):
    out = tmp_path / "search"
    result = tune(base(out, search=SPACE), options={"trials": 3, "pruner": "none"})
    assert states(out) == {"COMPLETE": 3}
    trials = sorted((out / "trials").iterdir())
    assert [t.name for t in trials] == ["trial_0000", "trial_0001", "trial_0002"]
    for t in trials:  # normal run folders, and the trials never looked at test
        assert (t / "config.yaml").is_file() and (t / "checkpoints" / "best.ckpt").is_file()
        assert not (t / "metrics.json").exists()
    for name in ("best.yaml", "summary.md", "optimization_history.png", "test_metrics.json"):
        assert (out / name).is_file(), name
    assert len((out / "summary.md").read_text().splitlines()) == 2 + 3
    best = result.best_trial
    tested = json.loads((out / "test_metrics.json").read_text())
    assert tested["trial"] == best.number and "test_acc" in tested["metrics"]

    best_yaml = yaml.safe_load((out / "best.yaml").read_text())
    trial_yaml = yaml.safe_load((trials[best.number] / "config.yaml").read_text())
    assert best_yaml.pop("out_dir") == str(out / "best")
    trial_yaml.pop("out_dir")
    assert best_yaml == trial_yaml and best_yaml["optim"]["lr"] == best.params["optim.lr"]

    assert main(["train", "-c", str(out / "best.yaml")]) == 0
    with open(out / "best" / "logs" / "csv" / "metrics.csv") as f:
        val = [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    assert min(val) == pytest.approx(best.value, rel=1e-6, abs=1e-7)

    assert main(["report", str(out)]) == 0  # the search's page: trials, test, plots, best.yaml
    page = (out / "report.html").read_text()
    assert "deeprnn search" in page and page.count("data:image/png;base64,") >= 1
    assert f"trial {best.number}, evaluated on test once" in page
    for t in range(3):
        assert f"<td>{t}{' *' if t == best.number else ''}</td>" in page

    stamp = (out / "test_metrics.json").stat().st_mtime_ns
    again = tune(base(out, search=SPACE), options={"trials": 3, "pruner": "none"})
    assert len(again.study.trials) == 3  # a finished search runs nothing more
    assert (out / "test_metrics.json").stat().st_mtime_ns == stamp  # test evaluated once


def test_a_pruned_trial_stops_early_and_keeps_its_run_folder(tmp_path, monkeypatch):
    import optuna

    import deeprnn.training.search.tuner as tune_module

    prune_all = optuna.pruners.ThresholdPruner(upper=0.0)  # every val_loss is above 0
    monkeypatch.setattr(tune_module, "_pruner", lambda opts: prune_all)
    out = tmp_path / "search"
    cfg = base(out, search=SPACE)
    cfg["trainer"]["max_epochs"] = 3
    with pytest.raises(ValueError, match="no trial of study 'deeprnn' completed"):
        tune(cfg, options={"trials": 2})
    assert states(out) == {"PRUNED": 2}
    for trial in ("trial_0000", "trial_0001"):  # stopped after the first of 3 epochs
        with open(out / "trials" / trial / "logs" / "csv" / "metrics.csv") as f:
            epochs = {r["epoch"] for r in csv.DictReader(f) if r.get("val_loss")}
        assert epochs == {"0"}


def wait_for(out: Path, complete: int, proc, timeout: float = 240) -> None:
    """Poll the study until it has ``complete`` COMPLETE trials (the tuner must still run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if states(out).get("COMPLETE", 0) >= complete:
                return
        except sqlite3.Error:  # not created yet, or locked for a moment
            pass
        time.sleep(0.05)
    raise AssertionError(f"tuner exited ({proc.poll()}) or timed out: {states(out)}")


def test_killed_search_resumes_and_two_processes_share_the_study(tmp_path):
    """A ``deeprnn tune`` subprocess finishes a trial; this process joins the same SQLite study
    (resuming it: the finished trial is kept) and the subprocess is killed with SIGKILL after
    the next trial finishes, mid-trial; the search completes to 4 here."""
    out = tmp_path / "search"
    cfg = tmp_path / "base.yaml"
    cfg.write_text(yaml.safe_dump(base(out, search=SPACE)))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    args = [str(EXE), "tune", "-c", str(cfg), "--trials", "4", "--pruner", "none"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(out, 1, proc)

        def kill_after_the_next_trial():
            wait_for(out, 2, proc)
            proc.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_after_the_next_trial, daemon=True)
        killer.start()
        result = tune(base(out, search=SPACE), options={"trials": 4, "pruner": "none"})
        killer.join(timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    trials = result.study.get_trials()
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4  # the killed tuner's trials were kept, the search completed to 4
    assert {t.state.name for t in trials} <= {"COMPLETE", "RUNNING", "FAIL"}
    assert len(trials) - len(complete) <= 1  # at most the trial the kill cut short
    pids = {t.user_attrs["pid"] for t in complete}
    assert pids == {proc.pid, os.getpid()}  # both processes ran trials of the one study
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # none duplicated
    # the kill may land before the cut-short trial recorded its folder; every other trial has one
    dirs = [t.user_attrs["run_dir"] for t in trials if "run_dir" in t.user_attrs]
    assert len(dirs) >= len(complete) and all("run_dir" in t.user_attrs for t in complete)
    assert len(set(dirs)) == len(dirs)
    for t in complete:  # each folder holds the run of its own trial
        run = yaml.safe_load((Path(t.user_attrs["run_dir"]) / "config.yaml").read_text())
        assert run["optim"]["lr"] == t.params["optim.lr"]
        assert run["model"]["rnn"]["cell"] == t.params["model.rnn.cell"]
        assert run["model"]["rnn"]["hidden_size"] == t.params["model.rnn.hidden_size"]
    assert result.best_trial.number in {t.number for t in complete}
    tune(base(out, search=SPACE), options={"trials": 5, "pruner": "none", "test": False})
    assert states(out)["COMPLETE"] == 5  # a finished search extends when --trials grows


def test_jobs_runs_worker_processes_on_one_study(tmp_path, capsys):
    """``--jobs 2``: this process and one spawned worker share the SQLite study; 3 trials
    complete, none twice, and both processes ran trials."""
    out = tmp_path / "search"
    cfg = tmp_path / "base.yaml"
    cfg.write_text(yaml.safe_dump(base(out, search=SPACE)))
    args = ["tune", "-c", str(cfg), "--trials", "3", "--jobs", "2", "--pruner", "none"]
    assert main(args) == 0
    assert states(out) == {"COMPLETE": 3}
    import optuna

    study = optuna.load_study(study_name="deeprnn", storage=f"sqlite:///{out / STUDY_DB}")
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert len({t.user_attrs["run_dir"] for t in trials}) == 3
    pids = {t.user_attrs["pid"] for t in trials}
    assert len(pids) == 2 and os.getpid() in pids  # this process and one spawned worker
