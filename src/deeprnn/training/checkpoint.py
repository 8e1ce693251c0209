"""Lightning checkpoint I/O: atomic writes, and ``torch.load(weights_only=True)`` on every read,
so nothing is ever unpickled."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from deeprnn._config import atomic_write_bytes


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict:
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


def load_checkpoint(path: str | Path, map_location: str = "cpu", expect: type | None = None):
    """Rebuild the task model saved in a Lightning checkpoint from its hyper-parameters.

    The model comes back in eval mode.
    """
    from deeprnn.tasks.base import TaskModule
    from deeprnn.tasks.registry import get_task, task_names

    ckpt = read_checkpoint(path, map_location)
    hp = ckpt.get("hyper_parameters") or {}
    task = ckpt.get("deeprnn_task")
    if task is None:
        raise ValueError(f"{path} was not written by deeprnn (no task name); tasks: {task_names()}")
    cls = get_task(task).module
    if expect is not None and expect is not TaskModule and not issubclass(cls, expect):
        raise ValueError(f"{path} holds a {cls.__name__}, not a {expect.__name__}")
    from deeprnn.export.folder import check_state_matches

    model = cls(**hp)
    check_state_matches(model.state_dict(), ckpt["state_dict"], str(path), "hyper_parameters")
    model.load_state_dict(ckpt["state_dict"], strict=True)
    return model.to(map_location).eval()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that never leaves a half-written ``.ckpt`` and never unpickles.

    ``save_checkpoint`` serialises the whole checkpoint in memory, writes it to a temp file in
    the checkpoint's folder, fsyncs it and ``os.replace``-s it over the target: a process killed
    at any moment leaves either the previous file or the new one, complete. (Lightning's own
    ``_atomic_save`` stages the file in the system temp folder and moves it, which is a copy, not
    an atomic rename, when that folder is on another file system.) ``load_checkpoint`` reads with
    ``torch.load(weights_only=True)`` whatever it is asked.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"storage_options is not supported, got {storage_options!r}")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return read_checkpoint(path, map_location or "cpu")


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the ``.NAME.ckpt.*.tmp`` files a killed save left behind; returns them."""
    folder = Path(folder)
    stale = sorted(folder.glob(".*.ckpt.*.tmp")) if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
