"""Read a Keras 3 model without Keras: ``config.json`` with :mod:`json`, the weights with
``h5py``. A ``.keras`` file is a zip; it is read member by member in memory (nothing is
extracted to disk), nothing is unpickled and no layer's code is ever run."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"


class KerasImportError(ValueError):
    """A Keras layer with no deeprnn equivalent (its name and class are in the message)."""


def _h5py():
    from deeprnn._validation import require

    return require("h5py", "reading Keras weights (.keras, .weights.h5)")


def read_weights(source) -> dict[str, dict[str, np.ndarray]]:
    """``{layer name: {"cell/vars/0": array, ...}}`` from a ``.weights.h5`` file (a path or a
    file-like object), the variables under ``layers/<name>/``."""
    h5py = _h5py()
    out: dict[str, dict[str, np.ndarray]] = {}
    try:
        handle = h5py.File(source, "r")
    except OSError as e:  # truncated, not HDF5, unreadable: HDF5's own words, on one line
        name = getattr(source, "name", source)
        raise ValueError(f"{name}: not a readable Keras weights file (HDF5): {e}") from None
    with handle as f:
        if "layers" not in f:
            return out
        for name, group in f["layers"].items():
            found: dict[str, np.ndarray] = {}

            def visit(path, obj, found=found):
                if isinstance(obj, h5py.Dataset):
                    found[path] = np.asarray(obj[()])

            group.visititems(visit)
            out[name] = found
    return out


def read_keras_file(path: str | os.PathLike) -> tuple[dict[str, Any], dict]:
    """``(config, weights)`` from a ``.keras`` zip."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Keras file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras file (a zip holding config.json)")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if CONFIG_MEMBER not in names:
            raise ValueError(f"{path} has no {CONFIG_MEMBER}")
        config = _parse_json(z.read(CONFIG_MEMBER), f"{path}:{CONFIG_MEMBER}")
        weights = {}
        if WEIGHTS_MEMBER in names:
            weights = read_weights(io.BytesIO(z.read(WEIGHTS_MEMBER)))
    return config, weights


def read_config(config) -> dict[str, Any]:
    """A model config given as a dict, a JSON string (``model.to_json()``) or a JSON file."""
    if isinstance(config, dict):
        return config
    if isinstance(config, (str, os.PathLike)) and Path(config).is_file():
        return _parse_json(Path(config).read_bytes(), str(config))
    if isinstance(config, str):
        return _parse_json(config.encode(), "config")
    raise TypeError(f"config must be a dict, a JSON string or a path, got {type(config).__name__}")


def _parse_json(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{where} is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise ValueError(f"{where} must hold a JSON object, got {type(value).__name__}")
    return value
