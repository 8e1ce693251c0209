"""A plain ``pip install deeprnn`` (no extras) runs the documented commands, or names the extra
a command needs (issue 26 item 12). ``make base-install`` runs it; ``.ci/run`` after ``make test``.

It makes a fresh virtual environment, installs PyTorch (``$TORCH``, the Makefile's pin) and then
this checkout without extras, checks that no extra's package came along, and in a scratch folder
runs ``deeprnn --version``; ``train --task classify`` (synthetic data, one epoch), which must say
in one line that the TensorBoard log was skipped and name ``deeprnn[tensorboard]``; ``evaluate``,
``predict`` (JSON lines that a strict parser reads), ``summary``, ``plot``, ``report`` and
``export`` (safetensors) of that run; and ``export --format onnx`` / ``import``, which must end
with status 2 and one line on stderr naming ``deeprnn[onnx]`` / ``deeprnn[keras]``.
About three minutes on two cores, most of it pip (a stdlib-only script: run it with any
Python 3.10+; ``--keep DIR`` leaves the environment and the run in DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("onnx", "onnxruntime", "onnxscript", "keras", "h5py", "pyarrow", "tensorboard",
          "tensorboardX", "psycopg", "triton", "aeon", "statsforecast")  # fmt: skip


def run(argv: list, cwd: Path, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    print("$", " ".join(map(str, argv)), flush=True)
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, input=stdin, capture_output=True, text=True
    )


def expect(ok: bool, what: str, proc: subprocess.CompletedProcess | None = None) -> None:
    if not ok:
        tail = (
            ""
            if proc is None
            else f"\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
        sys.exit(f"base install: FAILED: {what}{tail}")


def one_error_line(proc, command: str, extra: str) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    expect(proc.returncode == 2, f"deeprnn {command} without its extra: exit status 2", proc)
    expect(len(lines) == 1, f"deeprnn {command} without its extra: one line on stderr", proc)
    expect(lines[0].startswith(f"deeprnn {command}: error: "), f"{command}: the error line", proc)
    expect(f"pip install 'deeprnn[{extra}]'" in lines[0], f"{command} names deeprnn[{extra}]", proc)


def strict_json(line: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def check(work: Path) -> None:
    venv = work / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # the compiled kernels' build is the suite's to check (tests/layers/test_compiled_build.py);
    # off here, it neither adds a minute nor rebuilds the shared cache against this torch
    env["DEEPRNN_COMPILED"] = "0"
    py, deeprnn = venv / "bin" / "python", venv / "bin" / "deeprnn"
    torch = os.environ.get("TORCH", "torch==2.13.0")
    for argv in (
        [sys.executable, "-m", "venv", venv],
        [py, "-m", "pip", "install", "--quiet", torch],
        [py, "-m", "pip", "install", "--quiet", ROOT],  # the base install: no extras
    ):
        proc = run(argv, work, env)
        expect(proc.returncode == 0, " ".join(map(str, argv)), proc)
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    proc = run([py, "-c", probe, *EXTRAS], work, env)
    expect(proc.stdout.strip() == "[]", f"no extra's package in the base install: {proc.stdout}")

    scratch = work / "scratch"
    scratch.mkdir()
    proc = run([deeprnn, "--version"], scratch, env)
    expect(proc.returncode == 0 and proc.stdout.startswith("deeprnn "), "--version", proc)

    argv = [deeprnn, "train", "--task", "classify", "--trainer.max_epochs", "1"]
    proc = run([*argv, "--trainer.progress_bar", "false", "--out_dir", "runs/x"], scratch, env)
    expect(proc.returncode == 0, "deeprnn train --task classify", proc)
    said = [ln for ln in proc.stderr.splitlines() if "TensorBoard" in ln]
    expect(len(said) == 1, "train says once that the TensorBoard log was skipped", proc)
    expect("skipped" in said[0] and "deeprnn[tensorboard]" in said[0], "... naming the extra", proc)
    expect((scratch / "runs/x/logs/csv/metrics.csv").is_file(), "the CSV log is written")
    said = [ln for ln in proc.stderr.splitlines() if "minirocket" in ln]
    expect(
        len(said) == 1 and "deeprnn[baselines]" in said[0],
        "train says once that the MiniRocket baseline needs deeprnn[baselines]",
        proc,
    )
    expect("than majority class" in proc.stdout, "train prints the headline line", proc)

    proc = run([deeprnn, "evaluate", "runs/x"], scratch, env)
    expect(proc.returncode == 0 and "test_loss" in proc.stdout, "deeprnn evaluate", proc)

    history = json.dumps({"x": [[0.1 * i, -0.2 * i] for i in range(12)]})
    (scratch / "in.jsonl").write_text(f"{history}\n{history}\n", encoding="utf-8")
    proc = run([deeprnn, "predict", "runs/x/model", "-i", "in.jsonl"], scratch, env)
    expect(proc.returncode == 0, "deeprnn predict", proc)
    rows = [strict_json(line) for line in proc.stdout.splitlines() if line.strip()]
    expect(len(rows) == 2 and all("label" in r for r in rows), "predict: two JSON lines", proc)

    for argv, made in (
        (["summary", "runs/x"], None),
        (["plot", "runs/x"], "runs/x/curves.png"),
        (["report", "runs/x"], "runs/x/report.html"),
        (["export", "runs/x", "--out", "exported"], "exported/model.safetensors"),
    ):
        proc = run([deeprnn, *argv], scratch, env)
        expect(proc.returncode == 0, f"deeprnn {' '.join(argv)}", proc)
        expect(made is None or (scratch / made).is_file(), f"deeprnn {argv[0]} wrote {made}")

    proc = run([deeprnn, "export", "runs/x", "--format", "onnx", "--out", "m.onnx"], scratch, env)
    one_error_line(proc, "export", "onnx")
    expect(not (scratch / "m.onnx").exists(), "no partial m.onnx")

    with zipfile.ZipFile(scratch / "m.keras", "w") as z:  # a .keras file: its weights need h5py
        config = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    proc = run([deeprnn, "import", "m.keras", "--out", "imported"], scratch, env)
    one_error_line(proc, "import", "keras")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deeprnn-base-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        check(work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("base install: every documented command ran, and the missing extras were named")


if __name__ == "__main__":
    main()
