"""Shipping trained task models: the safetensors export folder and ONNX."""

from deeprnn.export.folder import export_folder, init_from_export, load_exported, read_export_config

__all__ = ["export_folder", "init_from_export", "load_exported", "read_export_config"]
