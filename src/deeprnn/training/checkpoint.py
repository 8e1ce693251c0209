"""Lightning checkpoint I/O with ``torch.load(weights_only=True)``: nothing is unpickled."""

from __future__ import annotations

from pathlib import Path

import torch


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict:
    """Load a ``.ckpt`` with ``weights_only=True``; a missing or foreign file names itself."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle.UnpicklingError, RuntimeError, EOFError ...
        raise ValueError(f"{path} is not a loadable Lightning checkpoint: {e}") from e
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
    model = cls(**hp)
    model.load_state_dict(ckpt["state_dict"], strict=True)
    return model.to(map_location).eval()
