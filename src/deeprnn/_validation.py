"""Boundary checks shared by every module: errors name the argument and the value received."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_nonneg_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def check_probability(name: str, value) -> float:
    """A dropout-like rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, choices, n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
        raise ValueError(f"{name} must be one of {choices}, got {value!r}{hint}")
    return value


def check_float_tensor(name: str, x, ndim: int | tuple[int, ...]) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if x.dim() not in ndims:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, ndims))} dimensions, got shape {tuple(x.shape)}"
        )
    return x


def check_same_dtype(name: str, x: Tensor, module: torch.nn.Module) -> torch.dtype:
    """``x`` must have the dtype of ``module``'s parameters (checked on the first one: O(1)).

    Skipped under ``torch.autocast`` for ``x``'s device, where a difference is legitimate.
    Returns the parameters' dtype (``x.dtype`` for a module without parameters).
    """
    param = next(module.parameters(), None)
    if param is None or x.dtype == param.dtype:
        return x.dtype
    if autocast_enabled(x.device.type):
        return param.dtype
    want = param.dtype
    to_double = " / .double()" if x.dtype == torch.float64 else ""
    raise TypeError(
        f"{name} has dtype {x.dtype} but the {type(module).__name__}'s parameters are {want}; "
        f"convert the input with {name}.to({want}) or the layer with .to({x.dtype}){to_double}"
    )


def autocast_enabled(device_type: str) -> bool:
    """True inside ``torch.autocast`` for ``device_type`` ("cpu", "cuda", ...)."""
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4: no device argument
        if device_type == "cpu":
            return bool(torch.is_autocast_cpu_enabled())
        return device_type == "cuda" and bool(torch.is_autocast_enabled())


def check_lengths(lengths, batch: int, steps: int, device) -> Tensor:
    """Validate ``lengths`` (N,) integers in [0, T]; returns a LongTensor on ``device``."""
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(
                f"lengths must be a 1-D integer tensor, got {type(lengths).__name__}"
            ) from e
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must be an integer tensor, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if batch and not is_compiling():  # a value check would break a torch.compile graph
        bad = (lengths < 0) | (lengths > steps)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"lengths must be in [0, {steps}], got {int(lengths[i])} at batch index {i}"
            )
    return lengths.to(device=device, dtype=torch.long)


def check_mask(mask, batch: int, steps: int, device) -> Tensor:
    """Validate a (N, T) mask (True = real step); returns a bool tensor on ``device``."""
    if not isinstance(mask, Tensor):
        raise TypeError(
            f"mask must be a torch.Tensor of shape ({batch}, {steps}), got {type(mask).__name__}"
        )
    if mask.shape != (batch, steps):
        raise ValueError(f"mask must have shape ({batch}, {steps}) (N, T), got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if not is_compiling() and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must be boolean (or 0/1 valued), got other values")
        mask = mask != 0
    return mask.to(device)


def check_finite(name: str, x: Tensor) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf values")


class RecordError(ValueError):
    """A raw record given to ``predict_raw`` is unusable; ``index`` is its position in the list
    (the CLI reports it as ``--input record index + 1``) and ``detail`` says why."""

    def __init__(self, index: int, detail: str):
        super().__init__(f"records[{index}]: {detail}")
        self.index = index
        self.detail = detail


def check_record_fields(
    index: int, record, task: str, *, any_of: Iterable[str] = (), all_of: Iterable[str] = ()
) -> None:
    """A dict ``record`` must hold one of ``any_of`` and all of ``all_of`` (other kinds pass)."""
    if not isinstance(record, dict):
        return
    any_of, all_of = tuple(any_of), tuple(all_of)
    have = sorted(map(str, record))
    if any_of and not any(f in record for f in any_of):
        raise RecordError(
            index,
            f"a {task} model reads the field {' or '.join(map(repr, any_of))}, got fields {have}",
        )
    missing = [f for f in all_of if f not in record]
    if missing:
        raise RecordError(
            index,
            f"a {task} model reads the fields {list(all_of)}, missing {missing}, got fields {have}",
        )


def close_key_hint(key: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_compiling() -> bool:
    """True while torch.compile traces (data-dependent checks are skipped then)."""
    fn = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return bool(fn()) if fn is not None else False


class MissingExtraError(ImportError):
    """An optional package a feature needs is not installed; the message names the extra."""


# optional package -> (the extra of deeprnn that installs it, the PyPI name)
EXTRAS = {
    "h5py": ("keras", "h5py"),
    "keras": ("keras", "keras"),
    "pyarrow": ("parquet", "pyarrow"),
    "onnx": ("onnx", "onnx"),
    "onnxscript": ("onnx", "onnxscript"),
    "onnxruntime": ("onnx", "onnxruntime"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "aeon": ("baselines", "aeon"),
    "statsforecast": ("baselines", "statsforecast"),
}


def require(module: str, purpose: str):
    """Import the optional package ``module`` for ``purpose``, or raise
    :class:`MissingExtraError` naming the extra to install (``pip install 'deeprnn[keras]'``)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        extra, dist = EXTRAS[module]
        raise MissingExtraError(
            f"{purpose} needs the {dist} package, which the base install leaves out: "
            f"pip install 'deeprnn[{extra}]'"
        ) from e


def _first_existing(path: Path) -> Path | None:
    """``path`` or the nearest of its parents that exists (``None`` when none does)."""
    for p in (path, *path.parents):
        if p.exists():
            return p
    return None


def check_out_folder(name: str, path) -> Path:
    """``path`` names a folder to write into: a folder, or nothing yet below a folder. A file
    there (or above it) is an error naming ``name``, raised before any work is done."""
    path = Path(path)
    found = _first_existing(path)
    if found is not None and not found.is_dir():
        where = "which is a file" if found == path else f"inside {found}, which is a file"
        raise ValueError(f"{name} must name a folder, got {str(path)!r}, {where}")
    return path


def check_out_file(name: str, path) -> Path:
    """``path`` names a file to write: a file, or nothing yet below a folder. A folder there
    (or a file above it) is an error naming ``name``, raised before any work is done."""
    path = Path(path)
    found = _first_existing(path)
    if found == path and path.is_dir():
        raise ValueError(f"{name} must name a file, got {str(path)!r}, which is a folder")
    if found is not None and found != path and not found.is_dir():
        raise ValueError(
            f"{name} must name a file in a folder, got {str(path)!r}: {found} is a file"
        )
    return path


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (``None`` where the OS does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_fits_in_memory(name: str, value, n_values: int, what: str, itemsize: int = 4) -> None:
    """A size argument whose tensors could never be allocated here is an error that names the
    argument and the memory it would need, raised before torch's allocator is reached."""
    need = n_values * itemsize
    have = physical_memory()
    if have is not None and need > have:
        raise ValueError(
            f"{name}={value!r} needs {need / 2**30:,.1f} GiB for {what} "
            f"({n_values:,} float32 values), more than this machine's "
            f"{have / 2**30:,.1f} GiB of memory"
        )
