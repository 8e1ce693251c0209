"""Config round trips and the ``config.json`` + ``model.safetensors`` folder format.

Every deeprnn module implements ``get_config() -> dict`` (JSON-serialisable constructor
arguments) and inherits ``from_config``, ``save_pretrained`` and ``from_pretrained`` from
:class:`ConfigMixin`. Nothing is pickled: weights go through safetensors, the config through
JSON, and both files are written atomically (temp file + ``os.replace``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from deeprnn._persist import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    atomic_write_text,
    build_checked,
    save_weights,
)
from deeprnn._version import __version__

_REGISTRY: dict[str, type] = {}
# classes that register themselves in an optional module, imported when a config names them
_PLUGINS = {"KerasModel": "deeprnn.interop"}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` loadable by name from a ``config.json``."""
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_classes() -> dict[str, type]:
    return dict(_REGISTRY)


class ConfigMixin:
    """``get_config``/``from_config`` and ``save_pretrained``/``from_pretrained``."""

    def get_config(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        """The constructor arguments as a JSON-able dict: ``type(m).from_config(m.get_config())``
        builds the same module (with fresh weights)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        """A new module from :meth:`get_config`'s dict (Keras' ``from_config``)."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        return cls(**config)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` (the class and :meth:`get_config`) and ``model.safetensors``
        (the weights) into ``directory``, atomically; returns the directory.
        :meth:`from_pretrained` (or ``deeprnn.load_pretrained``) reads it back.

        >>> import deeprnn, tempfile
        >>> lstm = deeprnn.LSTM(3, 4)
        >>> folder = lstm.save_pretrained(tempfile.mkdtemp())
        >>> again = deeprnn.LSTM.from_pretrained(folder)
        >>> bool((again.blocks[0].cell.weight_hh == lstm.blocks[0].cell.weight_hh).all())
        True
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_weights(self, directory / WEIGHTS_NAME)
        payload = {"class": type(self).__name__, "config": self.get_config()}
        payload["deeprnn_version"] = __version__
        atomic_write_text(directory / CONFIG_NAME, json.dumps(payload, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, *, map_location: str | torch.device = "cpu"
    ):
        """Build the module from ``config.json`` and load ``model.safetensors`` (strict).

        The module comes back in eval mode; call ``.train()`` to fine-tune it.
        """
        directory = Path(directory)
        cfg_path = directory / CONFIG_NAME
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{CONFIG_NAME} not found in {directory}")
        try:
            payload = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{cfg_path} is not valid JSON: {e}") from e
        name = payload.get("class") if isinstance(payload, dict) else None
        if isinstance(name, str) and name not in _REGISTRY and name in _PLUGINS:
            import importlib

            importlib.import_module(_PLUGINS[name])
        target = _REGISTRY.get(name) if isinstance(name, str) else None
        if target is None:
            raise ValueError(f"{cfg_path}: unknown class {name!r}; known: {sorted(_REGISTRY)}")
        if cls is not ConfigMixin and not issubclass(target, cls):
            raise ValueError(f"{cfg_path} holds a {name}, not a {cls.__name__}")
        config = payload.get("config", {})
        # built on the meta device and checked against the file's header before allocating
        module = build_checked(lambda: target.from_config(config), directory / WEIGHTS_NAME)
        return module.to(map_location).eval()  # ready for inference, as in transformers


def load_pretrained(directory: str | os.PathLike, **kwargs):
    """Load any deeprnn module saved with ``save_pretrained``."""
    return ConfigMixin.from_pretrained.__func__(ConfigMixin, directory, **kwargs)
