"""Synthetic sequence tasks, generated in memory from a seed (no files).

* :func:`generate_time_series`: noisy sums of two sines, the generator of Géron's *Hands-On
  Machine Learning*, chapter 15 (the seeds' forecasting example).
* :func:`adding_problem`: sum the two marked values of a long sequence (Hochreiter &
  Schmidhuber 1997; the variant of Le et al. 2015 and Arjovsky et al. 2016).
* :func:`copy_memory_task`: recall symbols seen ``delay`` steps earlier (Arjovsky et al. 2016).
* :func:`first_last_product`: ``y = x_first * x_last``, a dependency across the whole sequence.

Shape symbols: N batch size, T time steps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from deeprnn._validation import check_positive_int

__all__ = ["adding_problem", "copy_memory_task", "first_last_product", "generate_time_series"]


def _torch_gen(generator) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise TypeError(
        f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}"
    )


def generate_time_series(batch_size: int, n_steps: int, generator=None) -> np.ndarray:
    """Noisy sums of two sine waves with random frequencies and phases (Géron, ch. 15).

    ``0.5 sin((t - o1)(10 f1 + 10)) + 0.2 sin((t - o2)(20 f2 + 20)) + 0.1 (u - 0.5)`` with
    ``t`` on ``linspace(0, 1, n_steps)`` and ``f1, f2, o1, o2, u ~ U[0, 1)``. The draws are
    made in the book's order, so ``np.random.seed(42)`` followed by this function (or
    ``generator=42``) gives the book's exact series.

    Args:
        batch_size: N series.
        n_steps: T steps per series (the book uses ``n_steps + 1`` for a one-step target or
            ``n_steps + 10`` for ten steps ahead).
        generator: ``None`` uses NumPy's global legacy random state (as the book does); an int
            seeds a ``np.random.RandomState`` (the book's stream); a ``np.random.Generator`` or
            ``RandomState`` is used as given.

    Returns:
        (N, T, 1) float32 array.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("n_steps", n_steps)
    if generator is None:
        rand = np.random.rand
    elif isinstance(generator, int) and not isinstance(generator, bool):
        rand = np.random.RandomState(generator).rand
    elif isinstance(generator, np.random.RandomState):
        rand = generator.rand
    elif isinstance(generator, np.random.Generator):

        def rand(*shape):
            return generator.random(shape)
    else:
        raise TypeError(
            "generator must be None, an int seed, np.random.Generator or RandomState, got "
            f"{type(generator).__name__}"
        )
    freq1, freq2, offsets1, offsets2 = rand(4, batch_size, 1)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))  # wave 1
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))  # + wave 2
    series += 0.1 * (rand(batch_size, n_steps) - 0.5)  # + noise
    return series[..., np.newaxis].astype(np.float32)  # (N, T, 1)


def adding_problem(
    batch_size: int, seq_len: int, generator: torch.Generator | int | None = None
) -> tuple[Tensor, Tensor]:
    """The adding problem: output the sum of the two marked values.

    Channel 0 holds values ``~ U[0, 1)``; channel 1 is 0 except for two 1s, one at a random
    step in the first half and one in the second half. Predicting the mean (1.0) gives MSE
    about 0.167; "solved" usually means MSE well below that (e.g. < 0.01).

    Args:
        batch_size: N.
        seq_len: T (at least 2).
        generator: a ``torch.Generator``, an int seed, or ``None`` (torch's global RNG).

    Returns:
        ``(x, y)``: x (N, T, 2) float32, y (N, 1) float32.
    """
    check_positive_int("batch_size", batch_size)
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"seq_len must be an int >= 2, got {seq_len!r}")
    g = _torch_gen(generator)
    values = torch.rand(batch_size, seq_len, generator=g)  # (N, T)
    half = seq_len // 2
    first = torch.randint(0, half, (batch_size,), generator=g)
    second = torch.randint(half, seq_len, (batch_size,), generator=g)
    markers = torch.zeros(batch_size, seq_len)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (N, T, 2)
    y = (values[rows, first] + values[rows, second]).unsqueeze(-1)  # (N, 1)
    return x, y


def copy_memory_task(
    batch_size: int,
    delay: int,
    copy_length: int = 10,
    n_symbols: int = 8,
    generator: torch.Generator | int | None = None,
) -> tuple[Tensor, Tensor]:
    """The copy memory task: reproduce ``copy_length`` symbols after ``delay`` blank steps.

    Input: ``copy_length`` symbols from ``1..n_symbols``, ``delay - 1`` blanks (0), the
    delimiter ``n_symbols + 1``, then ``copy_length`` blanks. Target: blanks for the first
    ``delay + copy_length`` steps, then the symbols. The memoryless baseline (predict blanks,
    then uniform symbols) has cross-entropy ``copy_length * ln(n_symbols) / T``.

    Args:
        batch_size: N.
        delay: the number of steps between the last symbol and the delimiter, plus one
            (Arjovsky et al.'s T; 100 to 1000+ for long memory).
        copy_length: symbols to copy.
        n_symbols: alphabet size (classes are ``n_symbols + 2`` with blank and delimiter).
        generator: a ``torch.Generator``, an int seed, or ``None``.

    Returns:
        ``(x, y)``: both (N, delay + 2 * copy_length) int64.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("delay", delay)
    check_positive_int("copy_length", copy_length)
    check_positive_int("n_symbols", n_symbols)
    g = _torch_gen(generator)
    total = delay + 2 * copy_length
    symbols = torch.randint(1, n_symbols + 1, (batch_size, copy_length), generator=g)
    x = torch.zeros(batch_size, total, dtype=torch.long)
    y = torch.zeros(batch_size, total, dtype=torch.long)
    x[:, :copy_length] = symbols
    x[:, copy_length + delay - 1] = n_symbols + 1  # delimiter: start recalling now
    y[:, -copy_length:] = symbols
    return x, y


def first_last_product(
    batch_size: int,
    seq_len: int,
    generator: torch.Generator | int | None = None,
    low: float = -1.0,
    high: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Long-term dependency: the target is the product of the first and the last input.

    Every step holds a value ``~ U[low, high)``; only the first and last matter, so the model
    must carry the first value across all T steps (T = 1000+ is cheap to generate). With the
    default range, predicting 0 gives MSE 1/9.

    Args:
        batch_size: N.
        seq_len: T (at least 2).
        generator: a ``torch.Generator``, an int seed, or ``None``.
        low, high: the range of the values.

    Returns:
        ``(x, y)``: x (N, T, 1) float32, y (N, 1) float32 with ``y = x[:, 0] * x[:, -1]``.
    """
    check_positive_int("batch_size", batch_size)
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"seq_len must be an int >= 2, got {seq_len!r}")
    if not low < high:
        raise ValueError(f"low must be < high, got low={low!r}, high={high!r}")
    g = _torch_gen(generator)
    x = torch.rand(batch_size, seq_len, 1, generator=g) * (high - low) + low  # (N, T, 1)
    return x, x[:, 0] * x[:, -1]
