"""The run's config in the report: "what you set" (the keys whose value differs from the task's
defaults) beside the defaults, paths shown relative to the run folder or shortened.

A run folder keeps the resolved config only (``config.yaml``: every default filled in), so what
the user set is found by comparing it with the config the task has when nothing is given
(``run_config_from_dict({"task": task})``).
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

from deeprnn.report._parts import _note, _table

#: an absolute POSIX or Windows path inside a text (up to a space, quote, comma or colon+space)
_ABS_PATH = re.compile(r"(?<![\w.~/])(?:/|[A-Za-z]:[\\/])[^\s,;:'\"()\[\]{}]+")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values).

    >>> flatten({"task": "lm", "trainer": {"max_epochs": 3, "devices": [0, 1]}})
    {'task': 'lm', 'trainer.max_epochs': 3, 'trainer.devices': [0, 1]}
    """
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def short_path(path: str, run: Path | None) -> str:
    """An absolute path as a person reads it here: ``.`` for the run folder, relative to it
    when close (``../data/series.csv``), else ``…/`` and its last two parts (always so
    without a ``run``).

    >>> short_path("/home/me/runs/a", Path("/home/me/runs/a"))
    '. (this run folder)'
    >>> short_path("/home/me/runs/data/x.csv", Path("/home/me/runs/a"))
    '../data/x.csv'
    >>> short_path("/srv/big/corpora/imdb/train.csv", Path("/home/me/runs/a"))
    '…/imdb/train.csv'
    """
    p = Path(path)
    try:
        rel = None if run is None else os.path.relpath(p, run)
    except ValueError:  # another drive (Windows)
        rel = None
    if rel == ".":
        return ". (this run folder)"
    if rel is not None and rel.count("..") <= 2:
        return Path(rel).as_posix()
    parts = p.parts[-2:]
    return "…/" + "/".join(parts)


def shorten_paths(text: str, run: Path | None) -> str:
    """Every absolute path in ``text`` through :func:`short_path`."""
    return _ABS_PATH.sub(lambda m: short_path(m.group(0), run), text)


def _value(v: Any, run: Path) -> str:
    if isinstance(v, str):
        return shorten_paths(v, run) if _ABS_PATH.search(v) else v
    text = json.dumps(v, ensure_ascii=False)
    return shorten_paths(text, run) if isinstance(v, list | dict) else text


def task_defaults(task: str) -> dict[str, Any]:
    """The flattened config a run of ``task`` has when nothing is set."""
    from deeprnn._schema import to_dict
    from deeprnn.training import run_config_from_dict

    return flatten(to_dict(run_config_from_dict({"task": task})))


def config_section(config: dict, run: Path, training: Any = None) -> list[str]:
    """The HTML of the Config section: what was set (key, value, default) beside the defaults.

    ``training`` (``metrics.json["training"]``) marks a batch size chosen automatically as
    such rather than as set."""
    task = str(config.get("task", "?"))
    resolved = flatten(config)
    try:
        defaults = task_defaults(task)
    except (ValueError, KeyError, TypeError) as e:  # an unknown task: show everything as set
        defaults = {}
        why = str(e).splitlines()[0] if str(e) else "unknown task"
        lead = _note(f"the defaults of task {task!r} are unknown ({why}): every key is listed")
    else:
        lead = ""
    auto = isinstance(training, dict) and training.get("batch_size_auto")
    set_rows, default_rows = [], []
    for key, value in resolved.items():
        shown = _value(value, run)
        if key == "trainer.batch_size" and auto:
            default_rows.append([key, f"{shown} (chosen automatically: batch_size null)"])
        elif key == "out_dir":
            set_rows.append([key, short_path(str(value), run), _value(defaults.get(key), run)])
        elif key not in defaults or defaults[key] != value:
            default = _value(defaults[key], run) if key in defaults else "(no default)"
            set_rows.append([key, shown, default])
        else:
            default_rows.append([key, shown])
    where = (
        "keys of config.yaml whose value differs from the task's defaults "
        "(the config file and command-line overrides the run was given)"
    )
    left = (
        f"<div><h3>what you set</h3><p>{html.escape(where)}</p>"
        + _table(["key", "value", "default"], set_rows)
        + "</div>"
    )
    right = (
        f"<div><h3>defaults</h3><details><summary>the other {len(default_rows)} keys, "
        "left at the task's defaults</summary>"
        + _table(["key", "value"], default_rows)
        + "</details></div>"
    )
    return [lead, f'<div class="pair">{left}{right}</div>']
