"""The export folder: everything ``deeprnn predict`` needs, nothing pickled, written atomically.

::

    model/
      config.json        {"class", "task", "config" (the model config), "artifacts" (scalars),
                          "files" (artifact name -> file), "deeprnn_version"}
      model.safetensors  the weights
      vocab.json, labels.json, scaler.json, ...   one JSON file per list/dict artifact
      run.yaml           the resolved run config that trained it (when known)

``load_exported(folder)`` rebuilds the task model in eval mode; ``init_from_export(model,
folder)`` copies the weights whose names and shapes match (transfer learning).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from deeprnn._persist import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    atomic_write_bytes,
    atomic_write_text,
    build_checked,
    load_weights,
)
from deeprnn._run_folder import export_run_config
from deeprnn._schema import dump_yaml, to_dict
from deeprnn._version import __version__
from deeprnn.tasks.registry import get_task


def _save_state(model: torch.nn.Module, path: Path) -> None:
    """safetensors of the state dict; tied weights (an LM's embedding and decoder) are stored
    under both names, as copies, since safetensors refuses shared memory."""
    from safetensors.torch import save

    tensors, seen = {}, set()
    for k, v in model.state_dict().items():
        t = v.detach().cpu().contiguous()
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        tensors[k] = t.clone() if key in seen else t
        seen.add(key)
    atomic_write_bytes(path, save(tensors, metadata={"format": "pt"}))


def export_folder(model, directory: str | os.PathLike, *, run=None) -> Path:
    """Write ``model`` (a :class:`~deeprnn.tasks.base.TaskModule`) to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scalars, files = {}, {}
    for key, value in model.artifacts.items():
        if isinstance(value, (list, dict)):
            files[key] = f"{key}.json"
            atomic_write_text(directory / files[key], json.dumps(value, ensure_ascii=False) + "\n")
        else:
            scalars[key] = value
    _save_state(model, directory / WEIGHTS_NAME)
    if run is not None:
        atomic_write_text(export_run_config(directory), dump_yaml(to_dict(run)))
    payload = {
        "class": type(model).__name__,
        "task": model.task_name,
        "config": to_dict(model.config),
        "artifacts": scalars,
        "files": files,
        "deeprnn_version": __version__,
    }
    # config.json last: a folder with a config.json is complete
    atomic_write_text(directory / CONFIG_NAME, json.dumps(payload, indent=2) + "\n")
    return directory


def _read_json(path: Path):
    """A JSON file of the export; bad bytes or bad JSON name the file (and line)."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not valid UTF-8 (byte offset {e.start})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None


def read_export_config(directory: str | os.PathLike) -> dict:
    """``config.json`` of an export folder, with the artifact files read back in."""
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not directory.is_dir():
        raise ValueError(f"export folder not found: {directory}")
    if not path.is_file():
        raise ValueError(f"{directory} is not an export folder: {CONFIG_NAME} is missing")
    payload = _read_json(path)
    if not isinstance(payload, dict) or "task" not in payload or "config" not in payload:
        raise ValueError(f"{path} is not a deeprnn task export (no 'task' / 'config')")
    for key, kind in (
        ("config", dict),
        ("artifacts", (dict, type(None))),
        ("files", (dict, type(None))),
    ):
        if not isinstance(payload.get(key), kind):
            got = type(payload.get(key)).__name__
            raise ValueError(f"{path}: {key!r} must be a JSON object, got {got}")
    artifacts = dict(payload.get("artifacts") or {})
    for key, name in (payload.get("files") or {}).items():
        file = directory / str(name)
        if not file.is_file():
            raise ValueError(f"{directory}: artifact file {name} is missing")
        artifacts[key] = _read_json(file)
    payload["artifacts"] = artifacts
    return payload


def load_exported(directory: str | os.PathLike, map_location: str = "cpu"):
    """Rebuild the task model of an export folder (eval mode).

    The model is first built on the ``meta`` device and compared with the safetensors header
    (names, shapes, dtype kinds), so a ``config.json`` that disagrees with the weights (hand
    edited, or hostile: a hidden size of 10^9) is a one-line error naming the tensor and both
    shapes, raised before anything is allocated.
    """
    payload = read_export_config(directory)
    spec = get_task(payload["task"])
    model = build_checked(
        lambda: spec.module.from_saved(payload["config"], payload["artifacts"]),
        Path(directory) / WEIGHTS_NAME,
    )
    return model.to(map_location).eval()


def init_from_export(model: torch.nn.Module, directory: str | os.PathLike) -> list[str]:
    """Copy every weight of the export whose name and shape match ``model``'s; returns the names.

    Raises when nothing matches (a wrong folder is an error, not a silent fresh start).
    """
    directory = Path(directory)
    if not (directory / WEIGHTS_NAME).is_file():
        raise ValueError(f"finetune.init_from: {directory / WEIGHTS_NAME} not found")
    state = load_weights(directory / WEIGHTS_NAME)
    own = model.state_dict()
    copied = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    if not copied:
        raise ValueError(
            f"finetune.init_from: no weight of {directory} matches the model by name and shape"
        )
    with torch.no_grad():
        for k in copied:
            own[k].copy_(state[k])
    return copied
