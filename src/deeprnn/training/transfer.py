"""Transfer learning from a trained model (ULMFiT, Howard & Ruder 2018): where the pretrained
weights come from, which vocabulary the new model must read with, and the model's layer groups
(for discriminative learning rates and gradual unfreezing).

``finetune.init_from`` names a *run folder* (``runs/imdb_lm``, whose ``model/`` is the export)
or an *export folder* (``runs/imdb_lm/model``); :func:`resolve_export` finds the export either
way. A text model started from it must read tokens with the exporter's vocabulary, since its
embedding rows are the exporter's words: :func:`vocab_path_for` gives the data section the
export's vocabulary when ``data.vocab_path`` is unset, and :func:`check_same_tokens` refuses a
model whose vocabulary or tokenisation differs from the export's.

The layer groups (for discriminative learning rates and gradual unfreezing) are
:func:`deeprnn.tasks.optim.layer_groups` / :func:`~deeprnn.tasks.optim.lr_groups`, re-exported
here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from deeprnn._persist import CONFIG_NAME, WEIGHTS_NAME
from deeprnn._run_folder import RunFolder
from deeprnn.tasks.optim import layer_groups, lr_groups

log = logging.getLogger("deeprnn")

__all__ = [
    "check_same_tokens",
    "layer_groups",
    "lr_groups",
    "resolve_export",
    "vocab_path_for",
]


def resolve_export(path: str | os.PathLike, key: str = "finetune.init_from") -> Path:
    """The export folder of ``path``: ``path`` itself when it holds ``model.safetensors``, its
    ``model/`` subfolder when ``path`` is a run folder. Raises ``ValueError`` naming ``key``."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{key}: no such run or export folder: {str(p)!r}")
    for candidate in (p, RunFolder(p).model_dir):
        if (candidate / WEIGHTS_NAME).is_file() and (candidate / CONFIG_NAME).is_file():
            return candidate
    raise ValueError(
        f"{key}: {str(p)!r} is neither an export folder ({WEIGHTS_NAME} + {CONFIG_NAME}) nor "
        f"a run folder with one in model/ (has the run finished, or was it run with "
        f"export: false?)"
    )


def vocab_path_for(data_cfg, export: Path) -> str | None:
    """The ``data.vocab_path`` a model started from ``export`` should read with: the export's
    vocabulary when the data section takes one (``vocab_path`` unset) and the export has one;
    else ``None`` (keep the data section as it is)."""
    if not hasattr(data_cfg, "vocab_path") or getattr(data_cfg, "vocab_path", None):
        return None
    return str(export) if (export / "vocab.json").is_file() else None


def check_same_tokens(artifacts: dict, export_artifacts: dict, export: Path) -> None:
    """A ``ValueError`` when the new model's tokens are not the exporter's: another vocabulary
    (the embedding rows would be copied onto other words, silently) or another tokenisation
    (``level``, ``lower``)."""
    mine, theirs = artifacts.get("vocab"), export_artifacts.get("vocab")
    if mine is None or theirs is None:
        return
    if list(mine) != list(theirs):
        raise ValueError(
            f"finetune.init_from: the model's vocabulary ({len(mine)} tokens) is not the one "
            f"of {export} ({len(theirs)} tokens), so its embedding rows would belong to other "
            "words; leave data.vocab_path unset (the export's vocabulary is then used) or set "
            f"it to {str(export)!r}"
        )
    for key in ("level", "lower"):
        if key in artifacts and key in export_artifacts and artifacts[key] != export_artifacts[key]:
            raise ValueError(
                f"finetune.init_from: data.{key} is {artifacts[key]!r} but {export} was trained "
                f"with {key}={export_artifacts[key]!r}; set data.{key}: {export_artifacts[key]!r}"
            )
