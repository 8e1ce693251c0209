"""Helpers for the seed ports: Keras' parameter formulas and a quick, seeded ``deeprnn.fit``.

The formulas are Keras' own (``layer.count_params()``), so each port checks that the deeprnn
model has exactly the parameters the seed's ``model.summary()`` would print.
"""

from __future__ import annotations

import re

import torch
from torch import nn

import deeprnn


def simple_rnn(units: int, inputs: int) -> int:
    return units * (units + inputs + 1)


def lstm(units: int, inputs: int) -> int:
    return 4 * units * (units + inputs + 1)


def gru(units: int, inputs: int) -> int:  # reset_after=True, Keras 2+ default: two biases
    return 3 * units * (units + inputs + 2)


def dense(inputs: int, units: int) -> int:
    return inputs * units + units


def embedding(vocab: int, dim: int) -> int:
    return vocab * dim


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def summary_total(model: nn.Module, **kwargs) -> int:
    """``Total params`` of ``deeprnn.summary`` (the table is built, not printed)."""
    text = deeprnn.summary(model, print_fn=None, **kwargs)
    return int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))


def fit_falls(model: nn.Module, x, y, *, epochs: int = 6, lr: float = 0.01, **kwargs):
    """``deeprnn.fit`` on CPU, seeded and quiet; asserts the training loss fell."""
    kwargs.setdefault("batch_size", 64)  # one step per epoch: quick
    history = deeprnn.fit(
        model, x, y, epochs=epochs, lr=lr, seed=0, verbose=False, accelerator="cpu", **kwargs
    )
    losses = history["loss"]
    assert len(losses) == epochs
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0], losses
    assert_uses_its_input(model, x, y)
    return history


def assert_uses_its_input(model: nn.Module, x, y) -> None:
    """The trained model's loss on its inputs is below its loss on the same inputs moved one
    row along (each target paired with another example's input): a model that ignores its
    input (fitting the targets' mean or prior, which also makes the loss fall) scores the two
    the same."""
    first = x[0] if isinstance(x, (tuple, list)) else x
    moved = torch.roll(torch.as_tensor(first), 1, dims=0)
    x_moved = (moved, *x[1:]) if isinstance(x, (tuple, list)) else moved
    kw = dict(batch_size=256, accelerator="cpu", return_dict=True)
    aligned = deeprnn.evaluate(model, x, y, **kw)["loss"]
    misaligned = deeprnn.evaluate(model, x_moved, y, **kw)["loss"]
    assert aligned < misaligned, (aligned, misaligned)
