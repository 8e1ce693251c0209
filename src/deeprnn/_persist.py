"""Every file deeprnn writes or reads back: atomic writes, safetensors weights, checkpoints.

* Writes go through a temp file in the target's folder, ``fsync`` and ``os.replace``: a process
  killed at any moment leaves the previous file or the new one, complete, never half of one.
* Weights are safetensors. :func:`read_safetensors_header` reads only the file's JSON header
  (names, dtypes, shapes), so a loader can compare what a ``config.json`` describes with what the
  file holds *before* it builds a model from that config: :func:`check_header_matches` does that
  against a model built on the ``meta`` device (which allocates nothing), and a hand-edited or
  hostile config (``hidden_size: 1000000000``) is a one-line error naming the tensor and both
  shapes instead of a 16 GB allocation.
* Lightning checkpoints are read with ``torch.load(weights_only=True)`` (:func:`read_checkpoint`):
  nothing a user hands us is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# safetensors dtype names -> the kind a torch dtype must have to load them
_KINDS = {"F64": "float", "F32": "float", "F16": "float", "BF16": "float", "F8_E4M3": "float",
          "F8_E5M2": "float", "I64": "int", "I32": "int", "I16": "int", "I8": "int", "U8": "int",
          "U16": "int", "U32": "int", "U64": "int", "BOOL": "bool"}  # fmt: skip
_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the header


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8 (``\\n`` line ends as given)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_weights(module: torch.nn.Module, path: str | os.PathLike) -> None:
    """The module's state dict as safetensors (written atomically)."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    atomic_write_bytes(path, save(tensors, metadata={"format": "pt"}))


def read_safetensors_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` from a safetensors file's header, without reading the tensors.

    A file too short, a header length past the end of the file, or a header that is not the
    documented JSON is a ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or n > min(_MAX_HEADER, size - 8):
            raise ValueError(
                f"{path} is not a valid safetensors file (header length {n}, file size {size})"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a valid safetensors file (header: {e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a valid safetensors file (header is not an object)")
    out, end = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        ok = isinstance(info, dict) and isinstance(info.get("dtype"), str)
        shape = info.get("shape") if ok else None
        if not ok or not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            raise ValueError(f"{path} is not a valid safetensors file (bad entry {name!r})")
        out[name] = (info["dtype"], tuple(shape))
        offsets = info.get("data_offsets")
        if (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
        ):
            end = max(end, offsets[1])
    if end > size - 8 - n:
        raise ValueError(
            f"{path} is not a valid safetensors file (truncated: its header needs "
            f"{8 + n + end} bytes, the file has {size})"
        )
    return out


def _kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    return "float" if dtype.is_floating_point or dtype.is_complex else "int"


def check_header_matches(
    expected: Mapping[str, torch.Tensor], header: Mapping, source: str, against: str
) -> None:
    """Raise one ``ValueError`` naming ``source`` when the tensors in a safetensors ``header``
    (:func:`read_safetensors_header`) differ from ``expected`` (a state dict, typically of a
    ``meta``-device model) in names, shapes, or dtype kind (float / int / bool; float widths may
    differ: the weights are cast on load, as ``load_state_dict`` does)."""
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    wrong = []
    for k in expected:
        if k not in header:
            continue
        dtype, shape = header[k]
        want = tuple(expected[k].shape)
        if shape != want:
            wrong.append(f"{k}: {against} says {want}, file has {shape}")
        elif _KINDS.get(dtype) != _kind(expected[k].dtype):
            wrong.append(f"{k}: {against} says {expected[k].dtype}, file has {dtype}")
    if missing or unexpected or wrong:
        raise ValueError(
            f"{source} does not match its {against}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, shape mismatch {wrong[:5]}"
        )


def check_state_matches(expected: Mapping, state: Mapping, source: str, against: str) -> None:
    """:func:`check_header_matches` for an already loaded ``state`` dict of tensors."""
    check_header_matches(
        expected,
        {k: (_dtype_name(v.dtype), tuple(v.shape)) for k, v in state.items()},
        source,
        against,
    )


def _dtype_name(dtype: torch.dtype) -> str:
    return {"float": "F32", "int": "I64", "bool": "BOOL"}[_kind(dtype)]


def load_weights(
    path: str | os.PathLike,
    expected: Mapping[str, torch.Tensor] | None = None,
    against: str = CONFIG_NAME,
) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a corrupt or non-safetensors file gives a clear error.

    With ``expected`` (a state dict, e.g. of a ``meta``-device model) the header is checked
    against it first (:func:`check_header_matches`), before any tensor is read.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    header = read_safetensors_header(path)
    if expected is not None:
        check_header_matches(expected, header, str(path), against)
    try:
        return load(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ValueError(f"{path} is not a valid safetensors file ({e})") from e


class _ShapesOnly(TorchFunctionMode):
    """Inside ``torch.device("meta")``: a factory call for a tensor too large for even a meta
    tensor's size arithmetic (``(4 * 10**9, 10**9)`` overflows int64 bytes) returns a zero-stride
    meta tensor of that shape, so the skeleton is built and its shapes can be compared."""

    _FACTORIES = frozenset(
        {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full}
    )
    _LIMIT = 2**31  # elements; anything larger is represented by its shape alone

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._FACTORIES and args:
            size = args[0] if isinstance(args[0], (tuple, list, torch.Size)) else args
            if func is torch.full:
                size = args[0]
            if all(isinstance(s, int) for s in size) and math.prod(size) > self._LIMIT:
                dtype = kwargs.get("dtype") or torch.get_default_dtype()
                return torch.empty_strided(
                    tuple(size), (0,) * len(size), dtype=dtype, device="meta"
                )
        return func(*args, **kwargs)


def meta_state(build, source: str, against: str) -> dict[str, torch.Tensor]:
    """The state dict of ``build()`` run on the ``meta`` device: names, shapes and dtypes, with
    nothing allocated whatever sizes the config asks for. A config that cannot be built at all
    is a ``ValueError`` naming ``source`` and ``against``."""
    try:
        with torch.device("meta"), _ShapesOnly():
            return build().state_dict()
    except (RuntimeError, ValueError, TypeError, OverflowError) as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise ValueError(
            f"{source} does not match its {against}: the model it describes cannot be built "
            f"({type(e).__name__}: {first})"
        ) from None


def build_checked(build, weights: str | os.PathLike, against: str = CONFIG_NAME):
    """``build()`` a module whose weights are in the safetensors file ``weights``, safely.

    ``build`` runs first on the ``meta`` device (:func:`meta_state`) and the result is compared
    with the file's header; only when names, shapes and dtype kinds agree is the module built
    for real and the weights loaded (strict).
    """
    header = read_safetensors_header(weights)
    check_header_matches(meta_state(build, str(weights), against), header, str(weights), against)
    state = load_weights(weights)
    module = build()
    module.load_state_dict(state, strict=True)
    return module


def read_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> dict:
    """Load a ``.ckpt`` with ``weights_only=True``; a missing or foreign file names itself."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch's note on the pickle protocol of foreign files
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # UnpicklingError (weights_only refused), RuntimeError, EOFError ...
        if type(e).__name__ == "UnpicklingError":  # by name: no pickle import here at all
            why = "it holds pickled objects other than tensors and plain containers, which are never unpickled"
        else:
            why = (str(e).strip().splitlines() or [""])[0]
        raise ValueError(
            f"{path} is not a loadable Lightning checkpoint ({type(e).__name__}: {why})"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a Lightning checkpoint (no state_dict)")
    return ckpt
