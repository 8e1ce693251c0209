"""Shared set-up for the seed ports.

Lightning's import, the first ``fit`` and the first call of deeprnn's fused kernel are paid
once, at collection, so no single test carries them; and each test runs torch on one thread
(tiny models on a shared machine are faster that way), restored afterwards.
"""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

import deeprnn
import deeprnn.viz


def _warm_up() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = nn.Sequential(deeprnn.LSTM(1, 2, return_state=False), nn.Linear(2, 1))
        deeprnn.fit(
            model,
            torch.zeros(4, 2, 1),
            torch.zeros(4, 2, 1),
            epochs=1,
            seed=0,
            verbose=False,
            accelerator="cpu",
            validation_split=0.5,
        )
        fused = deeprnn.LSTM(1, 2, return_state=False, impl="fused")
        fused(torch.zeros(1, 2, 1)).sum().backward()
    finally:
        torch.set_num_threads(threads)


_warm_up()


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
