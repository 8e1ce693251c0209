"""Smoke tests of the ``deeprnn`` console script: train -> evaluate -> predict -> export ->
summary -> plot, the demo, --help everywhere, and clear errors for bad configs and paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _tiny import tiny_config

from deeprnn.cli import main

EXE = Path(sys.executable).parent / "deeprnn"


def deeprnn(*args, cwd=None, input=None, timeout=300):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(EXE), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=input,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tiny_config("classify", tmp / "data", tmp / "run", max_epochs=3)
    cfg["trainer"]["max_epochs"] = 1  # overridden on the command line below
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = deeprnn("train", "-c", path, "--trainer.max_epochs", "3", "--optim.lr=0.02", cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, proc


def test_train_writes_the_run_folder(trained):
    tmp, proc = trained
    run = tmp / "run"
    for name in ("config.yaml", "metrics.json", "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    assert (run / "logs" / "csv" / "metrics.csv").is_file()
    assert (run / "model" / "model.safetensors").is_file()
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["trainer"]["max_epochs"] == 3 and resolved["optim"]["lr"] == 0.02
    assert resolved["optim"]["scheduler"]["name"] == "plateau"  # defaults are filled in
    lines = proc.stdout.splitlines()  # one line per epoch (stdout is a pipe), then the metrics
    assert [line.split(" - ")[0] for line in lines[:3]] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    printed = "\n".join(lines[3:])
    assert "test_acc" in json.loads(printed[: printed.rindex("}") + 1])


def test_evaluate_predict_export_summary_plot(trained):
    tmp, _ = trained
    run = tmp / "run"
    proc = deeprnn("evaluate", run, "--out", tmp / "eval.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp / "eval.json").read_text())
    assert metrics["test_acc"] == pytest.approx(
        json.loads((run / "metrics.json").read_text())["test_acc"]
    )

    proc = deeprnn("predict", run / "model", input="the film was great\nawful plot\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    (tmp / "in.csv").write_text("text\ngreat actors\nbad film\n")
    proc = deeprnn("predict", run / "model", "-i", tmp / "in.csv", "-o", tmp / "out.csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (tmp / "out.csv").read_text().splitlines()
    assert lines[0].startswith("label,probs_") and len(lines) == 3

    proc = deeprnn("export", run / "checkpoints" / "last.ckpt", "--out", tmp / "exported")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp / "exported" / "vocab.json").is_file()

    proc = deeprnn("summary", tmp / "exported")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Total params" in proc.stdout and "LSTM" in proc.stdout

    proc = deeprnn("plot", run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "curves.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "command", ["train", "evaluate", "predict", "summary", "export", "plot", "demo"]
)
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"deeprnn {command}" in out


def test_top_level_help_and_bench_passthrough():
    proc = deeprnn("--help")
    assert proc.returncode == 0 and "examples:" in proc.stdout
    for command in ("train", "predict", "bench", "demo"):
        assert command in proc.stdout
    proc = deeprnn("bench", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower()


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["train", "--task", "classify", "--trainer.max_epoch", "2"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'max_epoch' (did you mean 'max_epochs'?)" in err and "valid keys:" in err
    assert "Traceback" not in err
    assert main(["train", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    assert (
        main(["train", "--task", "classify", "--data.source", "csv", "--data.path", str(missing)])
        == 2
    )
    assert f"data.path: file not found: {missing}" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["train", "--task", "classify", "stray"]) == 2
    assert "unexpected argument 'stray'" in capsys.readouterr().err


def test_demo_runs_end_to_end(tmp_path):
    proc = deeprnn("demo", "--epochs", "2", "--num-series", "600", "--out", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "naive last-value MSE" in proc.stdout
    for name in ("loss_curve.png", "forecast.png", "metrics.json", "model/config.json"):
        assert (tmp_path / "demo" / name).is_file(), name
        assert f"wrote {tmp_path / 'demo'}" in proc.stdout


def test_seq2seq_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "s2s"
    proc = deeprnn("demo", "--task", "seq2seq", "--epochs", "1", "--seconds", "15", "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test exact match" in proc.stdout and " -> " in proc.stdout
    for name in ("loss_curve.png", "attention_0.png", "metrics.json", "model/config.json"):
        assert (out / name).is_file(), name


EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_configs_are_valid(path):
    from deeprnn.training import load_yaml, run_config_from_dict, to_dict

    run = run_config_from_dict(load_yaml(path), where=str(path))
    assert run_config_from_dict(to_dict(run)) == run
