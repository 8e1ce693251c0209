"""The bad-input catalogue, checkpoints and export folders: missing, truncated or foreign
checkpoints, export and pretrained folders, each error naming the file. The shared runner and
the helpers that build the bad files are in ``_catalogue.py``."""

from __future__ import annotations

from _catalogue import (
    _ckpt_bytes,
    _pretrained_without_weights,
    _torch_bytes,
    _w,
    assert_clear_error,
    cases,
)

import deeprnn
from deeprnn.export import load_exported
from deeprnn.training import load_checkpoint, read_checkpoint

# (id, call(tmp), exception type, regex on the message)
CASES = [
    # -- checkpoints and export folders --------------------------------------------------------
    (
        "checkpoint missing",
        lambda t: read_checkpoint(t / "none.ckpt"),
        ValueError,
        r"checkpoint not found: .*none\.ckpt",
    ),
    (
        "checkpoint truncated",
        lambda t: read_checkpoint(_w(t, "x.ckpt", _ckpt_bytes()[:200])),
        ValueError,
        r"x\.ckpt is not a loadable Lightning checkpoint",
    ),
    (
        "checkpoint without state_dict",
        lambda t: read_checkpoint(_w(t, "x.ckpt", _torch_bytes({"a": 1}))),
        ValueError,
        r"x\.ckpt is not a Lightning checkpoint \(no state_dict\)",
    ),
    (
        "checkpoint not deeprnn's",
        lambda t: load_checkpoint(_w(t, "x.ckpt", _ckpt_bytes())),
        ValueError,
        r"x\.ckpt was not written by deeprnn \(no task name\)",
    ),
    (
        "export folder missing",
        lambda t: load_exported(t / "nomodel"),
        ValueError,
        r"export folder not found: .*nomodel",
    ),
    (
        "export config.json not json",
        lambda t: load_exported(_w(t, "m/config.json", "{").parent),
        ValueError,
        r"m/config\.json:1: not valid JSON",
    ),
    (
        "pretrained weights missing",
        lambda t: deeprnn.load_pretrained(_pretrained_without_weights(t)),
        FileNotFoundError,
        r"weights file not found: .*model\.safetensors",
    ),
]


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)
