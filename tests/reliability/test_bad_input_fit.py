"""The bad-input catalogue, ``deeprnn.fit``: class ids that the model's classes cannot hold
(issue 26 item 9) are a ``ValueError`` naming the loss, the id and where it is, raised before
torch's "Target 5 is out of bounds" (a device-side assert on CUDA). The shared runner is in
``_catalogue.py``."""

from __future__ import annotations

import torch
from _catalogue import assert_clear_error, cases
from torch import nn

import deeprnn


class _Classifier(nn.Module):
    """(N, T, 2) sequences -> logits over 3 classes (N, 3), or per step (N, T, 3)."""

    def __init__(self, per_step: bool = False):
        super().__init__()
        self.rnn = deeprnn.GRU(2, 4, return_sequences=per_step)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def _fit(y, loss="sparse_categorical_crossentropy_from_logits", per_step=False, **kw):
    torch.manual_seed(0)
    x = torch.randn(len(y), 5, 2)
    model = _Classifier(per_step)
    return deeprnn.fit(model, x, torch.as_tensor(y), loss=loss, shuffle=False, verbose=0, **kw)


IDS = r"needs class ids in \[0, 2\] for the 3 classes the model predicts \(or -100 for padding\)"

# (id, call(tmp), exception type, regex on the message)
CASES = [
    (
        "fit class id = the number of classes",
        lambda t: _fit([0, 1, 2, 3, 0, 1]),
        ValueError,
        rf"loss 'sparse_categorical_crossentropy_from_logits' {IDS}, got 3 at index \(3,\) of a "
        r"batch's y \(1 out of range in that batch\)",
    ),
    (
        "fit negative class id",
        lambda t: _fit([0, 1, -1, 2], loss="sparse_categorical_crossentropy"),
        ValueError,
        rf"loss 'sparse_categorical_crossentropy' {IDS}, got -1 at index \(2,\)",
    ),
    (
        "fit class id in a later batch",
        lambda t: _fit([0, 1, 2, 0, 7, 7], batch_size=3),
        ValueError,
        rf"{IDS}, got 7 at index \(1,\) of a batch's y \(2 out of range in that batch\)",
    ),
    (
        "fit per-step class id",
        lambda t: _fit([[0, 1, 2, -100, -100], [0, 5, 1, 1, 1]], per_step=True),
        ValueError,
        rf"{IDS}, got 5 at index \(1, 1\) of a batch's y",
    ),
    (
        "fit float class id out of range",
        lambda t: _fit([0.0, 1.0, 3.0]),
        ValueError,
        rf"{IDS}, got 3 at index \(2,\)",
    ),
]


@cases(CASES)
def test_bad_input_gives_a_clear_error(tmp_path, what, call, exc, match):
    assert_clear_error(tmp_path, call, exc, match)


def test_padding_ids_are_left_out_not_refused():
    """-100 (PadCollate's label padding) stays valid: only real ids are range-checked."""
    history = _fit([[0, 1, 2, -100, -100], [0, 2, 1, 1, 1]], per_step=True)
    assert torch.isfinite(torch.tensor(history["loss"])).all()
