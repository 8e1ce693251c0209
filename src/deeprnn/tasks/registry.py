"""The task registry: one entry per task family, looked up by name from a run config.

A task is four classes: the LightningModule, its model config, its data module and the data
config. Registering is all a new task (the seq2seq task, say) needs to be trained, evaluated,
exported and served by ``deeprnn train | evaluate | predict | export``::

    register_task("seq2seq", Seq2Seq, Seq2SeqConfig, Seq2SeqData, Seq2SeqDataConfig)

The built-in tasks are registered by :mod:`deeprnn.tasks` itself, which Python imports before
this module. A task that is not registered yet is looked up by importing, in order,
``deeprnn.tasks.NAME``, ``deeprnn.NAME.task`` and ``deeprnn.NAME`` — a plugin module that
registers the task when imported.

A Lightning checkpoint is read back through the registry (:func:`load_checkpoint`): the task
name saved in it picks the class, and its hyper-parameters rebuild the model. Nothing here
imports the training side.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from deeprnn._persist import check_state_matches, meta_state, read_checkpoint
from deeprnn._validation import close_key_hint

_TASKS: dict[str, TaskSpec] = {}


@dataclass(frozen=True)
class TaskSpec:
    name: str
    module: type  # a deeprnn.tasks.base.TaskModule subclass
    model_config: type
    datamodule: type  # a deeprnn.tasks.base.TaskData subclass
    data_config: type


def register_task(name: str, module, model_config, datamodule, data_config) -> TaskSpec:
    """Make a task available to run configs (``task: NAME``) and the CLI."""
    spec = TaskSpec(name, module, model_config, datamodule, data_config)
    _TASKS[name] = spec
    module.task_name = name
    return spec


def _import_plugin(name: str) -> None:
    """Import the module that registers task ``name``, if there is one."""
    if not name.isidentifier():
        return
    for module in (f"deeprnn.tasks.{name}", f"deeprnn.{name}.task", f"deeprnn.{name}"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is None or not module.startswith(e.name):
                raise  # the module exists but an import inside it failed
            continue
        if name in _TASKS:
            return


def get_task(name) -> TaskSpec:
    """The registered task called ``name``; an unknown name lists the known ones."""
    if isinstance(name, str) and name not in _TASKS:
        _import_plugin(name)
    if not isinstance(name, str) or name not in _TASKS:
        hint = close_key_hint(name, _TASKS) if isinstance(name, str) else ""
        raise ValueError(f"task must be one of {sorted(_TASKS)}, got {name!r}{hint}")
    return _TASKS[name]


def task_names() -> list[str]:
    return sorted(_TASKS)


def task_for_module(cls_name: str) -> TaskSpec:
    """The task whose LightningModule class is called ``cls_name`` (for export folders)."""
    for spec in _TASKS.values():
        if spec.module.__name__ == cls_name:
            return spec
    raise ValueError(
        f"no registered task model is called {cls_name!r}; known: "
        f"{sorted(s.module.__name__ for s in _TASKS.values())}"
    )


def load_checkpoint(path, map_location: str = "cpu", expect: type | None = None):
    """Rebuild the task model saved in a Lightning checkpoint from its hyper-parameters.

    The checkpoint is read with ``torch.load(weights_only=True)``; the model is built on the
    ``meta`` device first and its parameter names and shapes compared with the checkpoint's, so
    a checkpoint whose hyper-parameters disagree with its weights is a one-line error before
    anything is allocated. The model comes back in eval mode.
    """
    ckpt = read_checkpoint(path, map_location)
    hp = ckpt.get("hyper_parameters") or {}
    task = ckpt.get("deeprnn_task")
    if task is None:
        raise ValueError(f"{path} was not written by deeprnn (no task name); tasks: {task_names()}")
    cls = get_task(task).module
    if expect is not None and not issubclass(cls, expect):
        raise ValueError(f"{path} holds a {cls.__name__}, not a {expect.__name__}")
    state = ckpt["state_dict"]
    expected = meta_state(lambda: cls.from_saved(**hp), str(path), "hyper_parameters")
    check_state_matches(expected, state, str(path), "hyper_parameters")
    model = cls.from_saved(**hp)
    model.load_state_dict(state, strict=True)
    return model.to(map_location).eval()
