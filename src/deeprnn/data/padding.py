"""Padding and masks: Keras-style ``pad_sequences``, lengths <-> masks, and a collate function.

Shape symbols: N batch size, T padded length (time steps), ``*`` any trailing feature shape.
A mask is ``True`` at real steps and ``False`` at padding, as everywhere in deeprnn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from deeprnn._validation import check_choice

__all__ = ["PadCollate", "lengths_to_mask", "mask_to_lengths", "pad_collate", "pad_sequences"]


def pad_sequences(
    sequences: Sequence,
    maxlen: int | None = None,
    dtype: str | np.dtype | type = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float | str = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to one length, with the semantics of Keras ``pad_sequences``.

    Sequences longer than ``maxlen`` lose values at the start (``truncating="pre"``) or the end
    (``"post"``); shorter ones are filled with ``value`` before (``padding="pre"``) or after
    (``"post"``). Each sequence may hold scalars or arrays of one shape (the sample shape ``*``
    is taken from the first non-empty sequence).

    Args:
        sequences: N sequences (lists, NumPy arrays or CPU tensors) of lengths ``L_n``.
        maxlen: the padded length T; ``None`` takes the longest sequence.
        dtype: dtype of the result (``"int32"`` by default, as in Keras; use ``"float32"`` for
            real values or ``object``/``str`` for strings).
        padding: ``"pre"`` or ``"post"``: where the padding goes.
        truncating: ``"pre"`` or ``"post"``: which end loses values when ``L_n > maxlen``.
        value: the padding value.

    Returns:
        A NumPy array of shape ``(N, T, *)``.

    Example:
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
        [[2, 3], [0, 4]]
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(
            f"sequences must be a sequence of sequences, got {type(sequences).__name__}"
        )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen <= 0
    ):
        raise ValueError(f"maxlen must be a positive int or None, got {maxlen!r}")
    check_choice("padding", padding, ("pre", "post"))
    check_choice("truncating", truncating, ("pre", "post"))
    dtype = np.dtype(dtype)
    is_str_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype.kind != "O" and not is_str_dtype:
        raise ValueError(
            f"value {value!r} is a string but dtype is {dtype}; use dtype=object or a str dtype"
        )

    lengths = []
    sample_shape: tuple[int, ...] = ()
    found_shape = False
    for i, s in enumerate(sequences):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
            raise ValueError(
                f"sequences[{i}] must be a sequence (list, array or tensor), got "
                f"{type(s).__name__} {s!r}"
            )
        lengths.append(len(s))
        if not found_shape and len(s) > 0:
            sample_shape = np.asarray(s).shape[1:]
            found_shape = True
    num = len(lengths)
    if maxlen is None:
        maxlen = max(lengths, default=0)

    x = np.full((num, maxlen, *sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        try:
            trunc = np.asarray(trunc, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"sequences[{i}] cannot be converted to dtype {dtype}: {e}") from None
        if trunc.shape[1:] != sample_shape:
            raise ValueError(
                f"sequences[{i}] has sample shape {trunc.shape[1:]}, expected {sample_shape} "
                f"(the shape of the first non-empty sequence)"
            )
        if padding == "post":
            x[i, : len(trunc)] = trunc
        else:
            x[i, maxlen - len(trunc) :] = trunc
    return x


def lengths_to_mask(lengths, max_len: int | None = None) -> Tensor:
    """Lengths to a boolean mask that is ``True`` at the first ``lengths[n]`` steps.

    Args:
        lengths: (N,) non-negative integers (tensor, array or list).
        max_len: T; ``None`` takes ``max(lengths)``. Must be at least ``max(lengths)``.

    Returns:
        (N, T) bool tensor on the device of ``lengths``.
    """
    lengths = _as_lengths(lengths)
    longest = int(lengths.max()) if lengths.numel() else 0
    if max_len is None:
        max_len = longest
    elif isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 0:
        raise ValueError(f"max_len must be a non-negative int or None, got {max_len!r}")
    elif max_len < longest:
        raise ValueError(f"max_len must be >= max(lengths) = {longest}, got {max_len}")
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]  # (N, T)


def mask_to_lengths(mask) -> Tensor:
    """The number of real (``True``/non-zero) steps in each row of a (N, T) mask.

    Returns:
        (N,) LongTensor. For a post-padded mask this inverts :func:`lengths_to_mask`.
    """
    if not isinstance(mask, Tensor):
        mask = torch.as_tensor(np.asarray(mask))
    if mask.dim() != 2:
        raise ValueError(f"mask must have shape (N, T), got {tuple(mask.shape)}")
    return (mask != 0).sum(dim=1, dtype=torch.long)


def _as_lengths(lengths) -> Tensor:
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(np.asarray(lengths))
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (N,), got shape {tuple(lengths.shape)}")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        if lengths.numel():
            raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
        lengths = lengths.long()
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError(f"lengths must be non-negative, got {int(lengths.min())}")
    return lengths.long()


def _to_tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"cannot batch a sequence of {type(x[0]).__name__} values")
    return torch.as_tensor(arr)


class PadCollate:
    """A picklable ``collate_fn`` for :class:`torch.utils.data.DataLoader` that post-pads.

    Each sample is a sequence (list, array or tensor of shape (L, *)) or a tuple
    ``(sequence, label)`` (a tuple always means a pair). A label may be a scalar (classification), a vector, or a sequence of
    per-step labels (tagging), which is padded with ``label_padding_value`` (``-100`` by
    default: the ``ignore_index`` of :func:`torch.nn.functional.cross_entropy`).

    Args:
        padding_value: value of the padded steps of the inputs.
        label_padding_value: value of the padded steps of per-step labels.
        sequence_labels: whether the labels are per-step sequences; ``None`` decides from the
            first sample (a label with the same length as its sequence counts as per-step).

    Returns (from a call on a list of samples):
        ``(padded, lengths)`` or ``(padded, lengths, labels)``: ``padded`` (N, T, *), a
        LongTensor for integer inputs and a FloatTensor (float32) for real ones; ``lengths``
        (N,) LongTensor; ``labels`` (N, ...) or (N, T) for per-step labels.
    """

    def __init__(
        self,
        padding_value: float = 0,
        label_padding_value: int = -100,
        sequence_labels: bool | None = None,
    ):
        self.padding_value = padding_value
        self.label_padding_value = label_padding_value
        self.sequence_labels = sequence_labels

    def __call__(self, batch: Sequence):
        if len(batch) == 0:
            raise ValueError("batch must hold at least one sample, got an empty batch")
        paired = isinstance(batch[0], tuple)
        for i, b in enumerate(batch):
            if isinstance(b, tuple) != paired or (paired and len(b) != 2):
                raise ValueError(
                    f"batch[{i}] must be a sequence (list, array, tensor) or a (sequence, label) "
                    f"tuple like batch[0], got {type(b).__name__}"
                    + (f" of length {len(b)}" if isinstance(b, tuple) else "")
                )
        seqs = [_to_tensor(b[0] if paired else b) for b in batch]
        for i, s in enumerate(seqs):
            if s.dim() == 0:
                raise ValueError(f"batch[{i}] must be a sequence, got a scalar")
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        if any(s.is_floating_point() for s in seqs):
            seqs = [s.float() for s in seqs]
        else:
            seqs = [s.long() for s in seqs]
        padded = pad_sequence(seqs, batch_first=True, padding_value=self.padding_value)
        if not paired:
            return padded, lengths
        labels = [_to_tensor(b[1]) for b in batch]
        per_step = self.sequence_labels
        if per_step is None:
            first = labels[0]
            per_step = first.dim() >= 1 and len(first) == len(seqs[0]) and len(seqs[0]) > 1
        if per_step:
            for i, (lab, n) in enumerate(zip(labels, lengths.tolist())):
                if lab.dim() == 0 or len(lab) != n:
                    raise ValueError(
                        f"batch[{i}]: per-step labels must have the sequence's length {n}, "
                        f"got shape {tuple(lab.shape)}"
                    )
            labels_t = pad_sequence(
                [lab.long() if not lab.is_floating_point() else lab for lab in labels],
                batch_first=True,
                padding_value=self.label_padding_value,
            )
        else:
            labels_t = torch.stack(labels)
        return padded, lengths, labels_t

    def __repr__(self) -> str:
        return (
            f"PadCollate(padding_value={self.padding_value!r}, "
            f"label_padding_value={self.label_padding_value!r}, "
            f"sequence_labels={self.sequence_labels!r})"
        )


def pad_collate(batch: Sequence):
    """:class:`PadCollate` with its defaults (padding value 0, per-step labels padded with -100).

    Example:
        >>> padded, lengths, labels = pad_collate([([1, 2, 3], 0), ([4], 1)])
        >>> padded.tolist(), lengths.tolist(), labels.tolist()
        ([[1, 2, 3], [4, 0, 0]], [3, 1], [0, 1])
    """
    return _DEFAULT_COLLATE(batch)


_DEFAULT_COLLATE = PadCollate()
