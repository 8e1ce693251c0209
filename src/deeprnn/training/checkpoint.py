"""Lightning checkpoint I/O for training: atomic writes, and ``torch.load(weights_only=True)`` on
every read, so nothing is ever unpickled.

Reading a checkpoint back into a task model goes through the task registry
(:func:`deeprnn.tasks.load_checkpoint`); the weights-only read itself is
:func:`deeprnn._persist.read_checkpoint`."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from deeprnn._persist import atomic_write_bytes, read_checkpoint


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
