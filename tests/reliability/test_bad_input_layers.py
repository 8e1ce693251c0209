"""The bad-input catalogue, layers: a layer used in a way it does not support. The layer-call
table (shapes, dtypes, lengths, states) lives in ``tests/layers/test_bad_input.py``; the shared
runner is in ``_catalogue.py``."""

from __future__ import annotations

import torch
from _catalogue import assert_clear_error, cases

import deeprnn

# (id, call(tmp), exception type, regex on the message)
CASES = [
    # -- layers --------------------------------------------------------------------------
    (
        "stream a bidirectional layer",
        lambda t: list(deeprnn.LSTM(3, 4, bidirectional=True).stream([torch.randn(1, 2, 3)])),
        ValueError,
        r"stream needs a forward-only layer",
    ),
]


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)
