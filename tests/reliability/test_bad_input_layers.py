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
    (
        "hidden size no machine can hold",
        lambda t: deeprnn.LSTM(4, 10**9),
        ValueError,
        r"hidden_size=1000000000 needs [\d,.]+ GiB for the weights of one LSTMCell .*more than "
        r"this machine's [\d,.]+ GiB of memory",
    ),
    (
        "input size no machine can hold",
        lambda t: deeprnn.GRUCell(10**9, 3),
        ValueError,
        r"input_size=1000000000 needs [\d,.]+ GiB for the weights of one GRUCell",
    ),
    (
        "embedding id out of range",
        lambda t: deeprnn.Embedding(10, 4)(torch.tensor([[1, 3], [2, 12]])),
        ValueError,
        r"ids must be in \[0, 9\] \(num_embeddings=10\), got 12 at index \(1, 1\)",
    ),
    (
        "negative embedding id",
        lambda t: deeprnn.Embedding(10, 4)(torch.tensor([[-1, 3]])),
        ValueError,
        r"ids must be in \[0, 9\].*got -1 at index \(0, 0\)",
    ),
    (
        "truncated Keras weights",
        lambda t: deeprnn.interop._reader.read_weights(_truncated_h5(t)),
        ValueError,
        r"t\.weights\.h5: not a readable Keras weights file \(HDF5\): .*truncated",
    ),
]


def _truncated_h5(tmp):
    import h5py
    import numpy as np

    path = tmp / "w.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/lstm/cell/vars/0", data=np.zeros((4, 16)))
    data = path.read_bytes()
    (tmp / "t.weights.h5").write_bytes(data[: len(data) // 2])
    return str(tmp / "t.weights.h5")


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)
