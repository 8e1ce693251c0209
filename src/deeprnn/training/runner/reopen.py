"""A trained run reopened: its model, the run config that trained it, its task's data rebuilt
and the model evaluated on it. What ``deeprnn evaluate`` / ``predict`` / ``summary`` /
``export``, the report and the search's final test all do with a run that is on disk.

::

    saved = open_run("runs/imdb")            # best checkpoint, else last, else the export folder
    saved.evaluate([("data.test_path", "other.csv")])   # test metrics, data keys overridden
    saved.datamodule()                       # the run's data module, prepared

``open_run`` takes a run folder, a ``.ckpt`` (its run folder's ``config.yaml`` beside it), an
export folder (its ``run.yaml``) or a module folder (``save_pretrained``: a
:class:`~deeprnn.export.modules.ModulePredictor`, no config); the file names are
:mod:`deeprnn._run_folder`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeprnn._persist import CONFIG_NAME
from deeprnn._run_folder import (
    CKPT,
    CONFIG,
    RunFolder,
    export_run_config,
    is_export,
    run_of_checkpoint,
)
from deeprnn._schema import apply_overrides, load_yaml, to_dict
from deeprnn.training.runner.config import RunConfig, run_config_from_dict
from deeprnn.training.runner.run import build_datamodule, evaluate_model


@dataclass
class SavedRun:
    """A trained model and the run config that trained it.

    Attributes:
        model: the task model in eval mode (a ``ModulePredictor`` for a module folder).
        config: the run config as saved (a dict read from YAML), a :class:`RunConfig`, or
            ``None`` when none was found (then only the task is known: its default data).
        where: how errors in ``config`` name it (``"config"``, or the YAML file's path).
    """

    model: Any
    config: dict | RunConfig | None = None
    where: str = "config"

    def run_config(self, overrides: Sequence[tuple[str, Any]] = ()) -> RunConfig:
        """The run config, with ``overrides`` (``[("data.test_path", "x.csv")]``) applied."""
        if isinstance(self.config, RunConfig) and not overrides:
            return self.config
        data = to_dict(self.config) if isinstance(self.config, RunConfig) else self.config
        if data is None:
            data = {"task": self.model.task_name}
        return run_config_from_dict(apply_overrides(data, list(overrides)), where=self.where)

    def datamodule(self, overrides: Sequence[tuple[str, Any]] = ()):
        """The run's data module (the model's artifacts: vocabulary, scaler ...), prepared."""
        return build_datamodule(self.run_config(overrides), self.model.artifacts).prepare()

    def evaluate(self, overrides: Sequence[tuple[str, Any]] = ()) -> dict:
        """The model's test metrics on the run's data (see :func:`evaluate_model`)."""
        run = self.run_config(overrides)
        dm = build_datamodule(run, self.model.artifacts).prepare()
        return evaluate_model(self.model, dm, baselines=run.baselines)


def _read_yaml(path: Path) -> dict:
    """A run's saved config, read with safe loading: a Python tag (``!!python/object``) is an
    error naming the file, never run; so is bad YAML or text that is not UTF-8."""
    return load_yaml(path)


def open_run(path: str | Path, ckpt: str | Path | None = None) -> SavedRun:
    """The trained model of a run folder (its best checkpoint, else the last one, else its
    export folder), of a ``.ckpt`` file, of an export folder or of a module folder, with the
    run config found beside it. ``ckpt`` replaces the run folder's own checkpoint.

    Raises:
        ValueError: ``path`` is none of those, or a run folder with no model in it.
    """
    from deeprnn.export import load_exported
    from deeprnn.tasks import load_checkpoint

    path = Path(path)
    folder = RunFolder(path)
    config_file = None
    if ckpt is not None:
        model = load_checkpoint(ckpt)
        config_file = folder.config if path.is_dir() else None
    elif path.is_file() and path.suffix == CKPT:
        model = load_checkpoint(path)
        config_file = run_of_checkpoint(path).config
    elif is_export(path):
        from deeprnn.export.modules import ModulePredictor, is_module_folder

        if is_module_folder(path):  # save_pretrained / deeprnn import: a module, not a task
            return SavedRun(ModulePredictor.load(path))
        model = load_exported(path)
        config_file = export_run_config(path)
    elif folder.is_run():
        config_file = folder.config
        best = folder.checkpoint()
        if best is not None:
            model = load_checkpoint(best)
        elif folder.has_export():
            model = load_exported(folder.model_dir)
        else:
            raise ValueError(f"{path}: a run folder without checkpoints or an export folder")
    else:
        raise ValueError(
            f"{path} is not a run folder ({CONFIG}), an export folder ({CONFIG_NAME}) "
            f"or a {CKPT} file"
        )
    config = _read_yaml(config_file) if config_file is not None and config_file.is_file() else None
    return SavedRun(model, config)


def open_export(run_dir: str | Path) -> SavedRun | None:
    """The model of a run's export folder (``RUN_DIR/model``) with the run's config (``None``
    when the run has no config); ``None`` when the run has no export folder."""
    from deeprnn.export import load_exported

    folder = RunFolder(run_dir)
    if not folder.has_export():
        return None
    config = _read_yaml(folder.config) if folder.is_run() else None
    return SavedRun(load_exported(folder.model_dir), config, where=str(folder.config))


def run_datamodule(run_dir: str | Path, model):
    """The data module of the run in ``run_dir`` for ``model`` (its artifacts), prepared, from
    the run's ``config.yaml``.

    Raises:
        ValueError: the folder has no ``config.yaml`` (the run's data is unknown).
    """
    folder = RunFolder(run_dir)
    if not folder.is_run():
        raise ValueError(f"{run_dir}: no {CONFIG}, so the run's data is unknown")
    run = run_config_from_dict(_read_yaml(folder.config), where=str(folder.config))
    return SavedRun(model, run).datamodule()
