"""The bad-input catalogue, the command line: ``deeprnn train | predict | evaluate`` on bad
configs, overrides, inputs, checkpoints and export folders exit with status 2, print one line
on stderr and leave no partial output file. The shared runner and helpers are in
``_catalogue.py``."""

from __future__ import annotations

import importlib

import pytest
from _catalogue import (
    _copy_model,
    _raw_model,
    _shrink_hidden,
    _w,
    assert_cli_exits_2_with_one_line,
    cli_cases,
)

from deeprnn.cli import main as cli_main
from deeprnn.export import export_folder

# the call tables of the other families (test_bad_input_FAMILY.py), counted with this one
FAMILIES = ("layers", "readers", "configs", "records", "checkpoints", "fit")


# (id, argv(tmp, trained), regex on the one stderr line); every run passes --output OUT
# (predict) or --out_dir OUT (train) where it writes, and OUT must not exist afterwards
CLI_CASES = [
    (
        "train missing config",
        lambda t, r: ["train", "-c", str(t / "none.yaml")],
        r"deeprnn train: error: config file not found: .*none\.yaml",
    ),
    (
        "train unknown override",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--trainer.max_epoch",
            "2",
        ],
        r"trainer has unknown key 'max_epoch' \(did you mean 'max_epochs'\?\)",
    ),
    (
        "train wrong value type",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--trainer.batch_size",
            "many",
        ],
        r"trainer\.batch_size must be an int( or null)?, got 'many'",
    ),
    (
        "train inf clip norm",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--trainer.gradient_clip_norm",
            ".inf",
        ],
        r"trainer\.gradient_clip_norm must be a finite number, got inf",
    ),
    (
        "train non-utf8 config",
        lambda t, r: ["train", "-c", str(_w(t, "c.yaml", b"task: classify\nout_dir: r\xe9s\n"))],
        r"deeprnn train: error: config file .*c\.yaml:2: not valid UTF-8 \(byte 0xe9 at offset 25\)",
    ),
    (
        "train yaml error in one line",
        lambda t, r: ["train", "-c", str(_w(t, "c.yaml", "task: classify\n trainer: 3\n"))],
        r"c\.yaml is not valid YAML: line 2, column 9: mapping values are not allowed here$",
    ),
    (
        "train resume missing",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--resume",
            str(t / "none.ckpt"),
        ],
        r"deeprnn train: error: checkpoint not found: .*none\.ckpt",
    ),
    (
        "train resume truncated",
        lambda t, r: [
            "train",
            "-c",
            str(r / "cfg.yaml"),
            "--out_dir",
            str(t / "OUT"),
            "--resume",
            str(_w(t, "cut.ckpt", (r / "run/checkpoints/last.ckpt").read_bytes()[:1000])),
        ],
        r"cut\.ckpt is not a loadable Lightning checkpoint",
    ),
    (
        "predict missing model",
        lambda t, r: ["predict", str(t / "nomodel")],
        r"nomodel is not a run folder \(config\.yaml\), an export folder",
    ),
    (
        "predict missing input",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(t / "x.txt"),
            "-o",
            str(t / "OUT"),
        ],
        r"--input: file not found: .*x\.txt",
    ),
    (
        "predict non-utf8 input",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", b"good\nb\xffd\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"in\.txt:2: not valid utf-8 text \(byte 0xff",
    ),
    (
        "predict bad json line",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.jsonl", '{"text": "a"}\n{oops\n')),
            "-o",
            str(t / "OUT"),
        ],
        r"--input line 2 is not JSON",
    ),
    (
        "predict empty input",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", "\n\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"no input examples \(empty input\)",
    ),
    (
        "predict wrong csv column",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.csv", "review\nnice\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"--input record 1: a classify model reads the field 'text' or 'x', got fields \['review'\]",
    ),
    (
        "predict tag record, later batch",
        lambda t, r: [
            "predict",
            str(export_folder(_raw_model("tag"), t / "tag_model")),
            "-i",
            str(_w(t, "in.jsonl", '{"text": "a b"}\n{"tokens": ["c"]}\n{"words": "a"}\n')),
            "--batch-size",
            "1",
            "-o",
            str(t / "OUT"),
        ],
        r"--input record 3: a tag model reads the field 'tokens' or 'text', got fields \['words'\]",
    ),
    (
        "predict forecast csv without target",
        lambda t, r: [
            "predict",
            str(export_folder(_raw_model("forecast"), t / "fc_model")),
            "-i",
            str(_w(t, "h.csv", "value,c\n" + "1,0\n" * 6)),
            "-o",
            str(t / "OUT"),
        ],
        r"--input record 1: a forecast model reads the fields \['y', 'c'\], missing \['y'\], "
        r"got fields \['c', 'value'\]",
    ),
    (
        "predict batch size",
        lambda t, r: [
            "predict",
            str(r / "run/model"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "--batch-size",
            "0",
            "-o",
            str(t / "OUT"),
        ],
        r"--batch-size must be a positive int, got 0",
    ),
    (
        "export without weights",
        lambda t, r: [
            "predict",
            _copy_model(t, r, drop="model.safetensors"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"weights file not found: .*model_copy/model\.safetensors",
    ),
    (
        "export without vocab",
        lambda t, r: [
            "predict",
            _copy_model(t, r, drop="vocab.json"),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy: artifact file vocab\.json is missing",
    ),
    (
        "export truncated vocab",
        lambda t, r: [
            "predict",
            _copy_model(t, r, edit=lambda d: (d / "vocab.json").write_text('["a", ')),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy/vocab\.json:1: not valid JSON",
    ),
    (
        "export non-utf8 config",
        lambda t, r: [
            "predict",
            _copy_model(t, r, edit=lambda d: (d / "config.json").write_bytes(b"{\xff}")),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy/config\.json is not valid UTF-8 \(byte offset 1\)",
    ),
    (
        "export config not an object",
        lambda t, r: [
            "predict",
            _copy_model(
                t,
                r,
                edit=lambda d: (d / "config.json").write_text('{"task": "classify", "config": 3}'),
            ),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model_copy/config\.json: 'config' must be a JSON object, got int",
    ),
    (
        "export config does not match",
        lambda t, r: [
            "predict",
            _copy_model(t, r, edit=_shrink_hidden),
            "-i",
            str(_w(t, "in.txt", "good\n")),
            "-o",
            str(t / "OUT"),
        ],
        r"model\.safetensors does not match its config\.json: .*shape mismatch .*says \(32, 16\), "
        r"file has \(64, 16\)",
    ),
    (
        "evaluate missing model",
        lambda t, r: ["evaluate", str(t / "nomodel"), "--out", str(t / "OUT")],
        r"deeprnn evaluate: error: .*nomodel is not a run folder",
    ),
    (
        "evaluate unknown key",
        lambda t, r: ["evaluate", str(r / "run"), "--data.pth", "x", "--out", str(t / "OUT")],
        r"config\.data has unknown key 'pth' \(did you mean 'path'\?\)",
    ),
    (
        "evaluate missing ckpt",
        lambda t, r: [
            "evaluate",
            str(r / "run"),
            "--ckpt",
            str(t / "no.ckpt"),
            "--out",
            str(t / "OUT"),
        ],
        r"checkpoint not found: .*no\.ckpt",
    ),
]


@cli_cases(CLI_CASES)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, trained, capsys, what, argv, match):
    assert_cli_exits_2_with_one_line(tmp_path, trained, capsys, argv, match)


def test_cli_reports_a_type_error_in_one_line(tmp_path, trained, capsys, monkeypatch):
    """A TypeError from a boundary check (here a layer's bool flag) is one line and status 2;
    DEEPRNN_DEBUG=1 re-raises it."""
    argv = [
        "train",
        "-c",
        str(trained / "cfg.yaml"),
        "--out_dir",
        str(tmp_path / "run"),
        "--model.rnn.layers",
        "[{cell: lstm, hidden_size: 4, bidirectional: maybe}]",
    ]
    capsys.readouterr()
    assert cli_main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == [
        "deeprnn train: error: layers[0].bidirectional must be a bool, got str 'maybe'"
    ]
    monkeypatch.setenv("DEEPRNN_DEBUG", "1")
    with pytest.raises(TypeError, match="bidirectional must be a bool"):
        cli_main(argv)


def test_the_catalogue_has_at_least_40_cases_beyond_the_layer_table():
    CASES = [c for f in FAMILIES for c in importlib.import_module(f"test_bad_input_{f}").CASES]
    cli = CLI_CASES + importlib.import_module("test_bad_input_cli_files").CLI_CASES
    assert len(CASES) + len(cli) >= 40
