"""The bad-input catalogue, the command line and the files around a run (issue 26 item 9): a run
folder whose config.yaml carries a YAML Python tag, an output path that names a file where a
folder is wanted (or the reverse), and data files with a header and no rows or no text at all.
Each exits with status 2 and one line on stderr naming the file, before any training; the
shared runner is in ``_catalogue.py``, the trained run in ``conftest.py``."""

from __future__ import annotations

import json
import math

import pytest
from _catalogue import _copy_run, _w, assert_cli_exits_2_with_one_line, cli_cases

from deeprnn.cli import main as cli_main


def _tag(t) -> str:
    """A YAML Python tag that, were it ever run, would make the file ``t/RAN``."""
    return f'evil: !!python/object/apply:os.system ["touch {t / "RAN"}"]\n'


TAG = (
    r"config file .*run_copy/config\.yaml is not valid YAML: line \d+, column \d+: could not "
    r"determine a constructor for the tag 'tag:yaml\.org,2002:python/object/apply:os\.system'$"
)


def _train(t, task: str, data: dict) -> list[str]:
    """``deeprnn train --task TASK --data.KEY VALUE ... --out_dir t/OUT``."""
    keys = [a for k, v in data.items() for a in (f"--data.{k}", str(v))]
    return ["train", "--task", task, *keys, "--out_dir", str(t / "OUT")]


def _empty_class_folders(t):
    for name in ("neg", "pos"):
        (t / "docs" / name).mkdir(parents=True)
    return t / "docs"


# (id, argv(tmp, trained), regex on the one stderr line); OUT must not exist afterwards
CLI_CASES = [
    # -- a run folder's config.yaml with a Python tag: safe loading refuses it, naming the file
    (
        "evaluate run config with a python tag",
        lambda t, r: ["evaluate", _copy_run(t, r, _tag(t)), "--out", str(t / "OUT")],
        TAG,
    ),
    (
        "predict run config with a python tag",
        lambda t, r: [
            "predict",
            _copy_run(t, r, _tag(t)),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        TAG,
    ),
    (
        "report run config with a python tag",
        lambda t, r: ["report", _copy_run(t, r, _tag(t)), "--out", str(t / "OUT")],
        TAG,
    ),
    # -- an output path naming a file where a folder is wanted, or a folder where a file is
    (
        "train out_dir is a file",
        lambda t, r: ["train", "-c", str(r / "cfg.yaml"), "--out_dir", str(_w(t, "f", "x"))],
        r"deeprnn train: error: out_dir must name a folder, got '.*/f', which is a file$",
    ),
    (
        "train out_dir inside a file",
        lambda t, r: ["train", "-c", str(r / "cfg.yaml"), "--out_dir", str(_w(t, "f", "x") / "r")],
        r"out_dir must name a folder, got '.*/f/r', inside .*/f, which is a file$",
    ),
    (
        "tune out_dir is a file",
        lambda t, r: ["tune", "-c", str(r / "cfg.yaml"), "--out_dir", str(_w(t, "f", "x"))],
        r"deeprnn tune: error: out_dir must name a folder, got '.*/f', which is a file$",
    ),
    (
        "export --out is a file",
        lambda t, r: ["export", str(r / "run"), "--out", str(_w(t, "f", "x"))],
        r"--out must name a folder, got '.*/f', which is a file$",
    ),
    (
        "export onnx --out is a folder",
        lambda t, r: ["export", str(r / "run"), "--format", "onnx", "--out", str(r / "run")],
        r"--out must name a file, got '.*/run', which is a folder$",
    ),
    (
        "evaluate --out is a folder",
        lambda t, r: ["evaluate", str(r / "run"), "--out", str(r / "run")],
        r"--out must name a file, got '.*/run', which is a folder$",
    ),
    (
        "predict --output inside a file",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(_w(t, "f", "x") / "p.jsonl"),
        ],
        r"--output must name a file in a folder, got '.*/f/p\.jsonl': .*/f is a file$",
    ),
    (
        "report --out is a folder",
        lambda t, r: ["report", str(r / "run"), "--out", str(r / "run")],
        r"--out must name a file, got '.*/run', which is a folder$",
    ),
    (
        "plot --out-dir is a file",
        lambda t, r: ["plot", str(r / "run"), "--out-dir", str(_w(t, "f", "x"))],
        r"--out-dir must name a folder, got '.*/f', which is a file$",
    ),
    (
        "import --out is a file",
        lambda t, r: ["import", str(t / "m.keras"), "--out", str(_w(t, "f", "x"))],
        r"--out must name a folder, got '.*/f', which is a file$",
    ),
    (
        "demo --out is a file",
        lambda t, r: ["demo", "--out", str(_w(t, "f", "x"))],
        r"--out must name a folder, got '.*/f', which is a file$",
    ),
    # -- empty data sets: a header and no rows, no text, no example
    (
        "train classify csv with a header only",
        lambda t, r: _train(
            t, "classify", {"source": "csv", "path": _w(t, "e.csv", "text,label\n")}
        ),
        r"data\.path: .*e\.csv is empty: the file holds a header but no rows$",
    ),
    (
        "train classify val file with a header only",
        lambda t, r: _train(
            t,
            "classify",
            {
                "source": "csv",
                "train_path": r / "data/reviews.csv",
                "val_path": _w(t, "v.csv", "text,label\n"),
            },
        ),
        r"data\.val_path: .*v\.csv is empty: the file holds a header but no rows$",
    ),
    (
        "train classify folder of empty class folders",
        lambda t, r: _train(
            t,
            "classify",
            {"source": "folder", "path": _empty_class_folders(t)},
        ),
        r"class folder .*docs/neg holds no document \(\.txt file\)",
    ),
    (
        "train tag empty file",
        lambda t, r: _train(t, "tag", {"path": _w(t, "n.txt", "")}),
        r"n\.txt: empty corpus: no sentences found$",
    ),
    (
        "train lm text file without text",
        lambda t, r: _train(t, "lm", {"path": _w(t, "e.txt", "\n \n")}),
        r"data\.path: .*e\.txt is empty \(no text\)$",
    ),
    (
        "train forecast csv with a header only",
        lambda t, r: _train(
            t,
            "forecast",
            {"source": "csv", "targets": "[value]", "path": _w(t, "s.csv", "value,temp\n")},
        ),
        r"s\.csv: data\.path is empty: the file holds a header but no rows$",
    ),
    (
        "train regress reader with an empty train split",
        lambda t, r: _train(
            t, "regress", {"source": "reader", "reader": "_catalogue:empty_splits"}
        ),
        r"data\.reader: _catalogue:empty_splits returned an empty 'train' split \(no examples\)$",
    ),
]


@cli_cases(CLI_CASES)
def test_cli_bad_file_exits_2_with_one_line(tmp_path, trained, capsys, what, argv, match):
    assert_cli_exits_2_with_one_line(tmp_path, trained, capsys, argv, match)


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary", "export", "report"])
def test_a_python_tag_in_a_run_config_is_never_run(tmp_path, trained, capsys, command):
    """Safe loading: the tag is refused, in one line naming the file, and nothing it names
    runs (it would create tmp/RAN)."""
    run = _copy_run(tmp_path, trained, _tag(tmp_path))
    extra = {"predict": ["-i", str(_w(tmp_path, "in.txt", "good\n"))]}.get(command, [])
    if command == "export":
        extra = ["--out", str(tmp_path / "exported")]
    capsys.readouterr()
    assert cli_main([command, run, *extra]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"deeprnn {command}: error: config file ")
    assert "python/object/apply:os.system" in lines[0]
    assert not (tmp_path / "RAN").exists()


def _strict(line: str):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(line, parse_constant=refuse)


def test_predict_writes_null_for_a_nan_prediction(tmp_path, trained, capsys):
    """A model whose weights are NaN predicts NaN probabilities: the JSON lines hold ``null``
    there (``NaN`` is not JSON; strict parsers refuse the file) and stderr says so."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    model = tmp_path / "nan_model"
    shutil.copytree(trained / "run" / "model", model)
    weights = load_file(model / "model.safetensors")
    save_file(
        {k: torch.full_like(v, math.nan) for k, v in weights.items()}, model / "model.safetensors"
    )
    out = tmp_path / "p.jsonl"
    args = ["predict", str(model), "-i", str(_w(tmp_path, "in.txt", "good\nbad\n")), "-o", str(out)]
    capsys.readouterr()
    assert cli_main(args) == 0
    rows = [_strict(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2
    assert all(v is None for row in rows for v in row["probs"].values())
    err = capsys.readouterr().err
    assert "prediction value(s) are NaN or Inf (written as null)" in err
    assert cli_main([*args[:-1], str(tmp_path / "p.csv")]) == 0  # CSV: empty cells
    assert "nan" not in (tmp_path / "p.csv").read_text(encoding="utf-8").lower()
