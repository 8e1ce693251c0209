"""One switch for reproducible runs."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_deterministic(seed: int = 0, *, enabled: bool = True) -> None:
    """Seed Python, NumPy and torch and make torch pick deterministic algorithms.

    With it, two runs of the same program give bitwise-identical weights on CPU (a test checks
    this for every kernel). On GPU, cuDNN's RNN kernels are deterministic once
    ``cudnn.deterministic`` is set; ops without a deterministic CUDA kernel raise an error
    instead of silently varying (``torch.use_deterministic_algorithms``).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and torch.backends.cudnn.benchmark
