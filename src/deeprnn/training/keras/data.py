"""The data side of :func:`deeprnn.fit`: tensors / arrays into DataLoaders, Keras'
``validation_split``, and the batch layouts a user's DataLoader may yield.

Shapes: N samples; ``x`` (N, ...) (or a tuple of such inputs), ``y`` (N, ...), ``lengths``
(N,), ``mask`` (N, T). Batches of tensor inputs are dicts ``{"x", "y", "lengths", "mask"}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader


def is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def check_int(name: str, value: Any, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def first_output(out: Any) -> Tensor:
    """The prediction in a model's return value: ``out`` itself, or ``out[0]`` of a tuple
    ``(out, states)`` (what deeprnn layers return by default)."""
    if isinstance(out, tuple | list):
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError(
            f"the model must return a tensor or a tuple (tensor, ...), got {type(out).__name__}"
        )
    return out


def unpack_batch(batch: Any) -> tuple[Any, Tensor | None, dict[str, Any]]:
    """``(x, y, forward_kwargs)`` of one batch. A batch is ``x``; ``(x,)``; ``(x, y)``;
    ``(x, y, {"lengths": ...})``; :class:`~deeprnn.data.PadCollate`'s ``(x, lengths, y)`` (a
    3-tuple of tensors); or a dict ``{"x": ..., "y": ..., **forward_kwargs}``."""
    if isinstance(batch, dict):
        if "x" not in batch:
            raise ValueError(f"a dict batch needs an 'x' key, got keys {sorted(batch)}")
        kwargs = {k: v for k, v in batch.items() if k not in ("x", "y") and v is not None}
        return batch["x"], batch.get("y"), kwargs
    if isinstance(batch, Tensor):
        return batch, None, {}
    if isinstance(batch, tuple | list):
        if len(batch) == 1:
            return batch[0], None, {}
        if len(batch) == 2:
            return batch[0], batch[1], {}
        if len(batch) == 3 and isinstance(batch[2], dict):
            return batch[0], batch[1], dict(batch[2])
        if len(batch) == 3 and all(isinstance(b, Tensor) for b in batch):
            return batch[0], batch[2], {"lengths": batch[1]}  # PadCollate: (x, lengths, y)
    raise ValueError(
        "a batch must be x, (x, y), (x, y, {forward kwargs}), PadCollate's (x, lengths, y) or a "
        f"dict with 'x' and 'y', got {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, tuple | list) else "")
    )


def batch_size_of(x: Any) -> int:
    """N of an input (the first one of a tuple of inputs)."""
    return len(x[0]) if isinstance(x, tuple | list) else len(x)


class _Slicer:
    """``collate_fn`` over sample indices: the rows of every tensor (x may be a tuple)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def __call__(self, indices: list[int]) -> dict[str, Any]:
        return rows(self.data, torch.as_tensor(indices, dtype=torch.long))


def rows(data: dict[str, Any], index: Any) -> dict[str, Any]:
    """The samples ``index`` (a slice or an index tensor) of every tensor in ``data``."""
    return {
        k: tuple(t[index] for t in v) if isinstance(v, tuple) else v[index] for k, v in data.items()
    }


def _tensor(a: Any, name: str, float_dtype: torch.dtype) -> Tensor:
    try:
        t = a if isinstance(a, Tensor) else torch.as_tensor(np.asarray(a))
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(
            f"{name} must be a tensor or an array, got {type(a).__name__}: {e}"
        ) from None
    if t.dim() == 0:
        raise ValueError(f"{name} must have a sample dimension, got a scalar {t.item()!r}")
    if t.is_floating_point():
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            where = tuple(bad.nonzero()[0].tolist())
            raise ValueError(
                f"{name} must be finite, got {t[where].item()} at index {where} "
                f"({int(bad.sum())} non-finite values): training on them makes every weight NaN; "
                "fill missing values, or mask those steps (mask= / lengths=) and set them to 0"
            )
    return t.to(float_dtype) if t.is_floating_point() else t


def tensor_data(model: nn.Module, x, y, lengths, mask, need_y: bool) -> dict[str, Any]:
    """``{"x", "y", "lengths", "mask"}`` (those given) as tensors of one length N; float inputs
    and targets in the model's dtype, boolean targets as floats, ``lengths`` long, ``mask`` bool."""
    params = [p for p in model.parameters() if p.is_floating_point()]
    dtype = params[0].dtype if params else torch.get_default_dtype()
    if isinstance(x, tuple | list) and len(x) and not isinstance(x[0], int | float):
        xs: Any = tuple(_tensor(a, f"x[{i}]", dtype) for i, a in enumerate(x))
    else:
        xs = _tensor(x, "x", dtype)
    if y is None and need_y:
        raise ValueError("y must be given with tensor or array inputs x, got None")
    data: dict[str, Any] = {"x": xs}
    if y is not None:
        t = _tensor(y, "y", dtype)
        data["y"] = t.to(dtype) if t.dtype == torch.bool else t
    if lengths is not None:
        data["lengths"] = _tensor(lengths, "lengths", dtype).long()
    if mask is not None:
        data["mask"] = _tensor(mask, "mask", dtype).bool()
    first = "x[0]" if isinstance(xs, tuple) else "x"
    n = batch_size_of(xs)
    for name, t in data.items():
        for i, part in enumerate(t if isinstance(t, tuple) else (t,)):
            if len(part) != n:
                label = f"{name}[{i}]" if isinstance(t, tuple) else name
                raise ValueError(
                    f"{label} must have as many samples as {first} ({n}), got {len(part)}"
                )
    return data


def loader(data: dict[str, Any], batch_size: int, shuffle: bool) -> DataLoader:
    """Batches of ``data``'s rows (reshuffled every epoch with ``shuffle``)."""
    n = batch_size_of(data["x"])
    return DataLoader(range(n), batch_size=batch_size, shuffle=shuffle, collate_fn=_Slicer(data))


def inputs(model, x, y, lengths, mask, batch_size: int, shuffle: bool, need_y: bool) -> DataLoader:
    """A DataLoader from tensors / arrays, or ``x`` itself when it is one."""
    if isinstance(x, DataLoader):
        for name, value in (("y", y), ("lengths", lengths), ("mask", mask)):
            if value is not None:
                raise ValueError(
                    f"{name} must be None when x is a DataLoader (its batches carry it), "
                    f"got {type(value).__name__}"
                )
        return x
    return loader(tensor_data(model, x, y, lengths, mask, need_y), batch_size, shuffle)


def train_val_loaders(
    model, x, y, lengths, mask, *, validation_split, validation_data, batch_size, shuffle
) -> tuple[DataLoader, DataLoader | None]:
    """The training loader and the validation one (or None): ``validation_split`` holds out the
    LAST ``N - int(N * (1 - validation_split))`` samples, before shuffling, as Keras does."""
    if isinstance(x, DataLoader) and validation_split:
        raise ValueError(
            f"validation_split={validation_split!r} needs tensor inputs; with a DataLoader x "
            "pass validation_data"
        )
    val = None
    if isinstance(x, DataLoader):
        train = inputs(model, x, y, lengths, mask, batch_size, shuffle, need_y=True)
    else:
        data = tensor_data(model, x, y, lengths, mask, need_y=True)
        if validation_split:
            n = batch_size_of(data["x"])
            split_at = int(n * (1 - validation_split))
            if split_at in (0, n):
                raise ValueError(
                    f"validation_split={validation_split!r} of {n} samples leaves {split_at} "
                    f"for training and {n - split_at} for validation; both need one"
                )
            data, held = rows(data, slice(0, split_at)), rows(data, slice(split_at, n))
            val = loader(held, batch_size, shuffle=False)
        train = loader(data, batch_size, shuffle)
    if validation_data is not None:
        val = validation_loader(model, validation_data, batch_size)
    return train, val


def validation_loader(model, validation_data: Any, batch_size: int) -> DataLoader:
    """A DataLoader for ``validation_data``: ``(x, y)``, ``(x, y, {"lengths"|"mask": ...})``, a
    dict like a batch, or a DataLoader (returned as it is)."""
    if isinstance(validation_data, DataLoader):
        return validation_data
    try:
        x, y, kwargs = unpack_batch(validation_data)
    except ValueError:
        x, y, kwargs = None, None, {}
    unknown = sorted(set(kwargs) - {"lengths", "mask"})
    if y is None or unknown:
        raise ValueError(
            "validation_data must be (x_val, y_val), (x_val, y_val, {'lengths'|'mask': ...}), a "
            f"dict with 'x' and 'y' or a DataLoader, got {type(validation_data).__name__}"
            + (f" with keys {unknown}" if unknown else "")
        )
    data = tensor_data(model, x, y, kwargs.get("lengths"), kwargs.get("mask"), need_y=True)
    return loader(data, batch_size, shuffle=False)
