"""pad_sequences (Keras semantics), masks, the collate function and the bucketing sampler."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from deeprnn.data import (
    BucketBatchSampler,
    PadCollate,
    lengths_to_mask,
    mask_to_lengths,
    pad_collate,
    pad_sequences,
    padding_fraction,
    padding_report,
)


def reference_pad(seqs, maxlen, padding, truncating, value):
    """Plain-Python statement of Keras's pad_sequences."""
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    out = []
    for s in seqs:
        s = list(s)
        if len(s) > maxlen:
            s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        fill = [value] * (maxlen - len(s))
        out.append(fill + s if padding == "pre" else s + fill)
    return out


def test_keras_docstring_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    assert pad_sequences(seqs).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(seqs, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad_sequences(seqs, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(seqs, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]


def test_defaults_dtype_and_shapes():
    out = pad_sequences([[1, 2], []])
    assert isinstance(out, np.ndarray) and out.dtype == np.int32 and out.shape == (2, 2)
    assert out.tolist() == [[1, 2], [0, 0]]
    # the Keras int32 default truncates floats, as Keras does
    assert pad_sequences([[1.7]]).tolist() == [[1]]
    f = pad_sequences([[0.5, 1.5], [2.5]], dtype="float32", padding="post", value=np.nan)
    assert f.dtype == np.float32 and np.isnan(f[1, 1]) and f[1, 0] == 2.5
    # sample shape: sequences of vectors
    v = pad_sequences([np.ones((3, 4)), np.ones((1, 4))], dtype="float32")
    assert v.shape == (2, 3, 4) and v[1, :2].sum() == 0
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], []]).shape == (2, 0)
    s = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert s.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert pad_sequences([torch.tensor([1, 2, 3])], maxlen=2).tolist() == [[2, 3]]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"maxlen": -3}, r"maxlen must be a positive int or None, got -3"),
        ({"maxlen": 0}, r"maxlen must be a positive int or None, got 0"),
        ({"maxlen": 2.5}, r"maxlen must be a positive int or None, got 2.5"),
        ({"padding": "middle"}, r"padding must be one of \['pre', 'post'\], got 'middle'"),
        ({"truncating": "pots"}, r"truncating .* got 'pots' \(did you mean 'post'\?\)"),
        ({"value": "x"}, r"value 'x' is a string but dtype is int32"),
    ],
)
def test_pad_sequences_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences([[1, 2]], **kwargs)


def test_pad_sequences_bad_sequences():
    with pytest.raises(ValueError, match=r"sequences\[1\] must be a sequence .* got int 5"):
        pad_sequences([[1], 5])
    with pytest.raises(
        ValueError, match=r"sequences\[1\] has sample shape \(3,\), expected \(2,\)"
    ):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))], dtype="float32")
    with pytest.raises(ValueError, match="sequences must be a sequence of sequences, got str"):
        pad_sequences("abc")


@given(
    seqs=st.lists(st.lists(st.integers(-1000, 1000), max_size=12), max_size=8),
    maxlen=st.one_of(st.none(), st.integers(1, 15)),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    value=st.integers(-5, 5),
)
def test_pad_sequences_matches_reference(seqs, maxlen, padding, truncating, value):
    out = pad_sequences(seqs, maxlen, "int64", padding, truncating, value)
    expected = reference_pad(seqs, maxlen, padding, truncating, value)
    assert out.shape[0] == len(seqs)
    assert out.tolist() == expected


@given(st.lists(st.integers(0, 20), min_size=1, max_size=10), st.integers(0, 5))
def test_lengths_mask_round_trip(lengths, extra):
    t = max(lengths) + extra
    mask = lengths_to_mask(lengths, max_len=t)
    assert mask.shape == (len(lengths), t) and mask.dtype == torch.bool
    assert mask_to_lengths(mask).tolist() == lengths
    # True exactly at the first lengths[n] steps
    for row, n in zip(mask.tolist(), lengths):
        assert row == [True] * n + [False] * (t - n)


def test_mask_helpers_errors_and_inputs():
    assert lengths_to_mask(torch.tensor([2, 0])).tolist() == [[True, True], [False, False]]
    assert lengths_to_mask(np.array([1, 3])).shape == (2, 3)
    assert mask_to_lengths(np.array([[1, 1, 0], [0, 0, 0]])).tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"max_len must be >= max\(lengths\) = 3, got 2"):
        lengths_to_mask([3, 1], max_len=2)
    with pytest.raises(ValueError, match="max_len must be a non-negative int or None, got -1"):
        lengths_to_mask([1], max_len=-1)
    with pytest.raises(ValueError, match="lengths must be non-negative, got -2"):
        lengths_to_mask([-2, 1])
    with pytest.raises(TypeError, match=r"lengths must hold integers, got dtype torch\.float32"):
        lengths_to_mask(torch.tensor([1.0]))
    with pytest.raises(ValueError, match=r"mask must have shape \(N, T\), got \(3,\)"):
        mask_to_lengths(torch.ones(3))


def test_collate_sequences_and_labels():
    padded, lengths, labels = pad_collate([([1, 2, 3], 0), ([4], 1)])
    assert padded.dtype == torch.long and padded.tolist() == [[1, 2, 3], [4, 0, 0]]
    assert lengths.dtype == torch.long and lengths.tolist() == [3, 1]
    assert labels.tolist() == [0, 1]
    x, n = pad_collate([np.ones((2, 3), np.float64), np.ones((1, 3))])
    assert x.dtype == torch.float32 and x.shape == (2, 2, 3) and n.tolist() == [2, 1]
    # per-step labels (tagging) are padded with -100, cross_entropy's ignore_index
    _, _, tags = pad_collate([([1, 2, 3], [5, 6, 7]), ([4, 5], [8, 9])])
    assert tags.tolist() == [[5, 6, 7], [8, 9, -100]]
    collate = PadCollate(padding_value=-1, sequence_labels=False)
    p, _, y = collate([([1, 2], [0.5, 0.5]), ([3], [1.0, 0.0])])
    assert p.tolist() == [[1, 2], [3, -1]] and y.shape == (2, 2)
    with pytest.raises(
        ValueError, match=r"batch\[1\] must be .* tuple like batch\[0\], got tuple of length 3"
    ):
        pad_collate([([1], 0), ([2], 1, "extra")])
    with pytest.raises(ValueError, match="batch must hold at least one sample"):
        pad_collate([])
    with pytest.raises(
        ValueError, match=r"batch\[1\]: per-step labels must have the sequence's length 2"
    ):
        PadCollate(sequence_labels=True)([([1, 2, 3], [1, 2, 3]), ([1, 2], [1])])


def test_bucket_sampler_covers_every_index_once_and_groups_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=1003).tolist()
    sampler = BucketBatchSampler(lengths, batch_size=32, pool_factor=10, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1003))
    assert all(len(b) <= 32 for b in batches)
    # reproducible per (seed, epoch), different across epochs
    assert list(BucketBatchSampler(lengths, 32, pool_factor=10, seed=1)) == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches
    # within a batch the lengths are close: far less padding than random batches
    rand = [list(range(i, min(i + 32, 1003))) for i in range(0, 1003, 32)]
    assert padding_fraction(lengths, batches) < 0.25 * padding_fraction(lengths, rand)


def test_bucket_sampler_drop_last_and_sorted_mode():
    lengths = [5, 1, 4, 2, 3]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False)) == [[1, 3], [4, 2], [0]]
    s = BucketBatchSampler(lengths, 2, shuffle=False, drop_last=True)
    assert list(s) == [[1, 3], [4, 2]] and len(s) == 2
    s = BucketBatchSampler(list(range(1, 26)), 4, drop_last=True, pool_factor=2)
    batches = list(s)
    assert len(batches) == len(s) and all(len(b) == 4 for b in batches)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        BucketBatchSampler(lengths, 0)
    with pytest.raises(ValueError, match="lengths must be non-negative, got -1"):
        BucketBatchSampler([1, -1], 2)


def test_sampler_in_a_dataloader():
    data = [(list(range(n)), n % 2) for n in [3, 7, 1, 8, 2, 9, 4, 4]]
    sampler = BucketBatchSampler([len(x) for x, _ in data], batch_size=3, seed=0)
    loader = DataLoader(data, batch_sampler=sampler, collate_fn=pad_collate)
    seen = 0
    for padded, lengths, labels in loader:
        assert padded.shape == (len(lengths), int(lengths.max()))
        assert labels.shape == lengths.shape
        seen += len(lengths)
    assert seen == len(data)


def test_padding_report():
    lengths = [10] * 50 + [100] * 50
    rep = padding_report(lengths, batch_size=10, seed=0)
    assert rep.bucketed == 0.0
    assert rep.random > 0.3 and rep.saved == pytest.approx(rep.random)
    assert rep.speedup > 1.5
    assert padding_fraction([3, 3], [[0, 1]]) == 0.0
    assert padding_fraction([1, 3], [[0, 1]]) == pytest.approx(2 / 6)
