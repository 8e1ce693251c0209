"""Predictions from a plain module folder (``save_pretrained``: ``config.json`` with a ``class``
and ``model.safetensors``), such as the one ``deeprnn import model.keras --out DIR`` writes.

A task export knows its raw inputs (text, a CSV history); a module knows only tensors, so its
records carry arrays: ``{"x": [[0.1, 2.0], [0.3, 1.0]]}`` for one (T, F) sequence, or
``{"inputs": [a, b]}`` for a model with several inputs. Records of the same shapes are batched;
the output of record i is ``{"y": ...}`` (``{"outputs": [...]}`` for several outputs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeprnn._persist import CONFIG_NAME
from deeprnn._validation import RecordError


def is_module_folder(directory: str | os.PathLike) -> bool:
    """True for a ``save_pretrained`` folder (its config names a ``class``, not a ``task``)."""
    path = Path(directory) / CONFIG_NAME
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and "class" in payload and "task" not in payload


class ModulePredictor:
    """``predict_raw(records)`` for a module loaded with :func:`deeprnn.load_pretrained`.

    The inputs' dtypes and shapes come from the module's ``input_specs`` where it has them (an
    imported Keras model does: token ids for an input that feeds an embedding, else float32);
    a record that does not fit is a :class:`RecordError` naming the record, the input and both
    shapes, raised before the model runs.
    """

    task_name = "module"

    def __init__(self, module: torch.nn.Module):
        self.module = module.eval()
        self.specs = getattr(module, "input_specs", None) or [
            {"name": "x", "shape": None, "dtype": "float32"}
        ]

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ModulePredictor:
        from deeprnn._config import load_pretrained

        return cls(load_pretrained(directory))

    def _arrays(self, index: int, record: Any) -> list[np.ndarray]:
        if not isinstance(record, dict):
            raise RecordError(
                index, f"expected a JSON object with 'x', got {type(record).__name__}"
            )
        n = len(self.specs)
        if "inputs" in record:
            values = record["inputs"]
            if not isinstance(values, list) or len(values) != n:
                got = len(values) if isinstance(values, list) else type(values).__name__
                raise RecordError(index, f"'inputs' must list the model's {n} inputs, got {got}")
        elif "x" in record and n == 1:
            values = [record["x"]]
        else:
            need = "'x'" if n == 1 else f"'inputs' (a list of {n} arrays)"
            raise RecordError(index, f"needs {need}; keys: {sorted(record)}")
        out = []
        for spec, v in zip(self.specs, values):
            integer = str(spec.get("dtype", "float32")).startswith(("int", "uint"))
            try:
                a = np.asarray(v, dtype=np.int64 if integer else np.float32)
            except (TypeError, ValueError) as e:
                raise RecordError(
                    index, f"input {spec['name']!r} is not a numeric array: {e}"
                ) from None
            if integer and not np.array_equal(a, np.asarray(v, dtype=np.float64)):
                raise RecordError(index, f"input {spec['name']!r} takes integer token ids")
            shape = spec.get("shape")
            if shape is not None and (
                a.ndim != len(shape)
                or any(s is not None and s != d for s, d in zip(shape, a.shape))
            ):
                want = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ")"
                raise RecordError(
                    index, f"input {spec['name']!r} must have shape {want}, got {a.shape}"
                )
            out.append(a)
        return out

    @torch.no_grad()
    def predict_raw(self, records: list, batch_size: int = 64) -> list[dict]:
        arrays = [self._arrays(i, r) for i, r in enumerate(records)]
        results: list[dict | None] = [None] * len(records)
        groups: dict[tuple, list[int]] = {}
        for i, a in enumerate(arrays):  # equal shapes share a batch
            groups.setdefault(tuple(x.shape for x in a), []).append(i)
        for idx in groups.values():
            for s in range(0, len(idx), batch_size):
                part = idx[s : s + batch_size]
                xs = [torch.as_tensor(np.stack([arrays[i][k] for i in part])) for k in
                      range(len(self.specs))]  # fmt: skip
                y = self.module(*xs)
                outs = list(y) if isinstance(y, (list, tuple)) else [y]
                outs = [o.detach().cpu().float().numpy() for o in outs]
                for j, i in enumerate(part):
                    vals = [o[j].tolist() for o in outs]
                    results[i] = {"y": vals[0]} if len(vals) == 1 else {"outputs": vals}
        return results  # type: ignore[return-value]
