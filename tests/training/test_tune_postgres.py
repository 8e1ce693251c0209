"""The documented multi-machine search (docs/tuning.md): ``deeprnn tune --storage
postgresql://... --study-name NAME`` started on several machines works on one study. Here two
workers (processes) against a real PostgreSQL server started for the test: one study, every
trial number once, both workers ran trials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from _services import postgres_server, unavailable

EXE = Path(sys.executable).parent / "deeprnn"


@pytest.fixture(scope="module")
def postgres_url():
    try:
        import psycopg  # noqa: F401  (SQLAlchemy 2.1 driver for postgresql:// URLs)
    except ImportError:
        unavailable("psycopg is not installed (pip install 'deeprnn[postgres]')")
    with postgres_server() as url:
        yield url


def test_two_workers_share_one_postgres_study(tmp_path, postgres_url):
    import optuna
    from test_tune import SPACE, base  # the same tiny classifier search

    cfg = tmp_path / "base.yaml"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    procs = []
    for worker in ("a", "b"):  # each "machine" writes its runs into its own folder
        cfg_w = tmp_path / f"{worker}.yaml"
        cfg_w.write_text(yaml.safe_dump(base(tmp_path / worker, search=SPACE)))
        args = [str(EXE), "tune", "-c", str(cfg_w), "--trials", "4", "--pruner", "none",
                "--storage", postgres_url, "--study-name", "shared"]  # fmt: skip
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    for p in procs:
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    assert not cfg.exists()
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.get_trials()
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) >= 4
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # no trial twice
    assert len({t.user_attrs["pid"] for t in complete}) == 2  # both workers ran trials
    assert len({t.user_attrs["run_dir"] for t in complete}) == len(complete)
