"""Helpers shared by the subcommands: ``--key value`` overrides, configs, finding models."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


class CLIError(ValueError):
    """A user error the CLI reports in one line (exit status 2)."""


TASK_HELP = "the task (classify, tag, forecast, lm, or any registered), when not in the config"


def formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def quiet() -> None:
    """Silence library chatter that is not about the user's run."""
    from deeprnn._warnings import ignore_chatter

    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    ignore_chatter()


def parse_overrides(tokens: list[str]) -> list[tuple[str, object]]:
    """``["--trainer.max_epochs", "3", "--seed=1"]`` -> ``[("trainer.max_epochs", 3), ...]``."""
    from deeprnn.training import parse_value

    out = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or tok == "--":
            raise CLIError(f"unexpected argument {tok!r}; overrides look like --section.key VALUE")
        key = tok[2:]
        if "=" in key:
            key, _, text = key.partition("=")
            i += 1
        else:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise CLIError(f"--{key} needs a value")
            text = tokens[i + 1]
            i += 2
        out.append((key.replace("-", "_") if "." not in key else key, parse_value(text)))
    return out


def load_run(config: str | None, overrides: list[tuple[str, object]], task: str | None = None):
    """The RunConfig from a YAML file (optional) plus overrides; errors name the file/key."""
    from deeprnn.training import apply_overrides, load_yaml, run_config_from_dict

    data = load_yaml(config) if config else {}
    if task is not None:
        data["task"] = task
    data = apply_overrides(data, overrides)
    return run_config_from_dict(data, where=str(config) if config else "config")


def find_model(path: str | Path, ckpt: str | None = None):
    """A trained model from a run folder, a ``.ckpt``, an export folder or a module folder
    (``save_pretrained``, ``deeprnn import``: served by :class:`ModulePredictor`).

    Returns ``(model, run_config_dict | None)``; the model is in eval mode.
    """
    import yaml

    from deeprnn.export import load_exported
    from deeprnn.tasks import load_checkpoint

    path = Path(path)
    run_yaml = None
    if ckpt is not None:
        model = load_checkpoint(ckpt)
        run_yaml = path / "config.yaml" if path.is_dir() else None
    elif path.is_file() and path.suffix == ".ckpt":
        model = load_checkpoint(path)
        run_yaml = path.parent.parent / "config.yaml"
    elif (path / "config.json").is_file():
        from deeprnn.export.modules import ModulePredictor, is_module_folder

        if is_module_folder(path):  # save_pretrained / deeprnn import: a module, not a task
            return ModulePredictor.load(path), None
        model = load_exported(path)
        run_yaml = path / "run.yaml"
    elif (path / "config.yaml").is_file():
        run_yaml = path / "config.yaml"
        for cand in ("checkpoints/best.ckpt", "checkpoints/last.ckpt"):
            if (path / cand).is_file():
                model = load_checkpoint(path / cand)
                break
        else:
            if not (path / "model" / "config.json").is_file():
                raise CLIError(f"{path}: a run folder without checkpoints or an export folder")
            model = load_exported(path / "model")
    else:
        raise CLIError(
            f"{path} is not a run folder (config.yaml), an export folder (config.json) "
            "or a .ckpt file"
        )
    run = None
    if run_yaml is not None and run_yaml.is_file():
        run = yaml.safe_load(run_yaml.read_text(encoding="utf-8"))
    return model, run
