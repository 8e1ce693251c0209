"""The task registry: one entry per task family, looked up by name from a run config.

A task is four classes: the LightningModule, its model config, its data module and the data
config. Registering is all a new task (the seq2seq task, say) needs to be trained, evaluated,
exported and served by ``deeprnn train | evaluate | predict | export``::

    register_task("seq2seq", Seq2Seq, Seq2SeqConfig, Seq2SeqData, Seq2SeqDataConfig)

A task that is not registered yet is looked up by importing, in order, ``deeprnn.tasks.NAME``,
``deeprnn.NAME.task`` and ``deeprnn.NAME`` — a module that registers the task when imported
(so ``deeprnn/seq2seq/task.py`` calling ``register_task("seq2seq", ...)`` is all it takes).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

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


def _load_builtin() -> None:
    import deeprnn.seq2seq.task  # the encoder-decoder task registers itself
    import deeprnn.tasks  # noqa: F401  (registers the built-in tasks)


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
    _load_builtin()
    if isinstance(name, str) and name not in _TASKS:
        _import_plugin(name)
    if not isinstance(name, str) or name not in _TASKS:
        hint = close_key_hint(name, _TASKS) if isinstance(name, str) else ""
        raise ValueError(f"task must be one of {sorted(_TASKS)}, got {name!r}{hint}")
    return _TASKS[name]


def task_names() -> list[str]:
    _load_builtin()
    return sorted(_TASKS)


def task_for_module(cls_name: str) -> TaskSpec:
    """The task whose LightningModule class is called ``cls_name`` (for export folders)."""
    _load_builtin()
    for spec in _TASKS.values():
        if spec.module.__name__ == cls_name:
            return spec
    raise ValueError(
        f"no registered task model is called {cls_name!r}; known: "
        f"{sorted(s.module.__name__ for s in _TASKS.values())}"
    )
