"""The key tables of the task pages (``docs/tasks/*.md``), read as the docs-driven contract test
(``test_docs_contract.py``) needs them: every documented key with its documented default, and
the ``data.source`` values a page lists.

A table row is ``| `key` | default | meaning |``; a row may name several keys
(``| `train_path`, `val_path`, `test_path` | `null` | ... |``), with one default for all of them
or one per key (``| `src_lang`, `tgt_lang` | `en`, `de` | ... |``). A default cell left empty
(``| `input` | | ... |``) documents no default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tasks"
TASKS = ("classify", "forecast", "lm", "regress", "seq2seq", "tag")
NO_DEFAULT = object()  # a default cell left empty

_HEADING = re.compile(r"^#{2,3} (.+?)\s*$")
_CODE = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Row:
    key: str
    default: object  # the documented default, read as YAML; NO_DEFAULT when the cell is empty
    text: str  # the default cell as written
    line: int  # where the row is (1-based), for messages


def page(name: str) -> str:
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")


def sections(text: str) -> dict[str, list[tuple[int, str]]]:
    """Every ``##`` / ``###`` heading's lines (numbered from 1), until the next heading."""
    out: dict[str, list[tuple[int, str]]] = {}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        m = _HEADING.match(line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current is not None:
            out[current].append((number, line))
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _split_defaults(cell: str, n: int) -> list[str]:
    """One default cell for ``n`` keys: one value for all, or ``n`` comma-separated code spans."""
    spans = _CODE.findall(cell)
    if n > 1 and len(spans) == n and re.fullmatch(r"\s*`[^`]*`(\s*,\s*`[^`]*`)*\s*", cell):
        return spans
    return [spans[0] if len(spans) == 1 and cell.startswith("`") else cell] * n


def _read(text: str) -> object:
    if text == "":
        return NO_DEFAULT
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def table(text: str, heading: str) -> list[Row]:
    """The rows of the key table under ``heading`` (``"`data` keys"``)."""
    found = sections(text).get(heading)
    if found is None:
        raise KeyError(f"no section {heading!r}")
    rows: list[Row] = []
    for number, line in found:
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue  # the header and its rule
        keys = _CODE.findall(cells[0])
        for key, default in zip(keys, _split_defaults(cells[1], len(keys))):
            rows.append(Row(key, _read(default), default, number))
    return rows


def data_keys(task: str) -> list[Row]:
    return table(page(task), "`data` keys")


def model_keys(task: str) -> list[Row]:
    return table(page(task), "`model` keys")


def shared_keys(heading: str) -> list[Row]:
    """A table of docs/tasks/index.md: ``"`model.input`: the input layer"``, ``"`trainer`"`` ..."""
    return table(page("index"), heading)


SHARED = {  # section of a run config -> its heading in docs/tasks/index.md
    "": "Top-level keys",
    "model.input": "`model.input`: the input layer",
    "model.rnn": "`model.rnn`: the recurrent body",
    "optim": "`optim`",
    "regularizers": "`regularizers`",
    "trainer": "`trainer`",
    "finetune": "`finetune`",
}


def sources(task: str) -> list[str]:
    """The ``data.source`` values a page documents: the bullets of its "Data sources" section
    (``* `csv`: ...`` / ``* `csv` — ...``); a page without one (regress) lists them in the
    ``source`` row of its ``data`` table."""
    found = sections(page(task)).get("Data sources (`data.source`)")
    if found:
        return [m.group(1) for _, line in found if (m := re.match(r"^\* `([^`]+)`", line))]
    (row,) = [r for r in data_keys(task) if r.key == "source"]
    cell = next(line for n, line in enumerate(page(task).splitlines(), 1) if n == row.line)
    return _CODE.findall(_cells(cell)[2])
