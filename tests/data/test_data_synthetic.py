"""Synthetic tasks: Géron's sine series, adding, copy memory, first-last product."""

import numpy as np
import pytest
import torch

from deeprnn.data import adding_problem, copy_memory_task, first_last_product, generate_time_series


def geron_generate_time_series(batch_size, n_steps):
    """Verbatim from Hands-On Machine Learning (2nd ed.), chapter 15."""
    freq1, freq2, offsets1, offsets2 = np.random.rand(4, batch_size, 1)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))  #   wave 1
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))  # + wave 2
    series += 0.1 * (np.random.rand(batch_size, n_steps) - 0.5)  # + noise
    return series[..., np.newaxis].astype(np.float32)


def test_generate_time_series_is_the_books():
    np.random.seed(42)
    expected = geron_generate_time_series(64, 51)
    np.testing.assert_array_equal(generate_time_series(64, 51, generator=42), expected)
    np.random.seed(42)
    np.testing.assert_array_equal(generate_time_series(64, 51), expected)
    out = generate_time_series(8, 20, generator=np.random.default_rng(0))
    assert out.shape == (8, 20, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(
        out, generate_time_series(8, 20, generator=np.random.default_rng(0))
    )
    assert np.abs(out).max() <= 0.75
    with pytest.raises(ValueError, match="n_steps must be a positive int, got 0"):
        generate_time_series(4, 0)
    with pytest.raises(TypeError, match="generator must be None, an int seed"):
        generate_time_series(4, 5, generator="seed")


def test_adding_problem():
    x, y = adding_problem(256, 100, generator=torch.Generator().manual_seed(0))
    assert x.shape == (256, 100, 2) and y.shape == (256, 1)
    markers = x[..., 1]
    assert markers.sum(1).eq(2).all()
    assert markers[:, :50].sum(1).eq(1).all() and markers[:, 50:].sum(1).eq(1).all()
    torch.testing.assert_close(y[:, 0], (x[..., 0] * markers).sum(1))
    x2, _ = adding_problem(256, 100, generator=0)
    assert torch.equal(x, x2)  # an int seed equals a generator seeded with it
    # predicting the mean gives MSE about 1/6
    assert abs(float(((y - 1.0) ** 2).mean()) - 1 / 6) < 0.03
    with pytest.raises(ValueError, match="seq_len must be an int >= 2, got 1"):
        adding_problem(4, 1)


def test_copy_memory_task():
    x, y = copy_memory_task(16, delay=100, copy_length=10, n_symbols=8, generator=1)
    assert x.shape == y.shape == (16, 120) and x.dtype == torch.long
    assert torch.equal(y[:, -10:], x[:, :10])
    assert x[:, :10].min() >= 1 and x[:, :10].max() <= 8
    assert (x[:, 109] == 9).all() and x[:, 10:109].eq(0).all() and x[:, 110:].eq(0).all()
    assert y[:, :110].eq(0).all()
    with pytest.raises(ValueError, match="delay must be a positive int, got 0"):
        copy_memory_task(2, delay=0)


def test_first_last_product_long_sequences():
    x, y = first_last_product(32, 2000, generator=3)
    assert x.shape == (32, 2000, 1) and y.shape == (32, 1)
    torch.testing.assert_close(y, x[:, 0] * x[:, -1])
    assert x.min() >= -1 and x.max() < 1
    x2, _ = first_last_product(32, 2000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x, x2)
    a, _ = first_last_product(4, 10, low=0.0, high=0.5)
    assert a.min() >= 0 and a.max() < 0.5
    with pytest.raises(ValueError, match=r"low must be < high, got low=1\.0, high=0\.0"):
        first_last_product(4, 10, low=1.0, high=0.0)
    with pytest.raises(
        TypeError, match=r"generator must be a torch\.Generator, an int seed or None"
    ):
        first_last_product(4, 10, generator=np.random.default_rng(0))
