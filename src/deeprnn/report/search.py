"""``deeprnn report SEARCH_DIR``: the HTML page of a ``deeprnn tune`` folder.

The page holds the trials table (``summary.md``: every trial, its state, the monitored
validation value and its parameters, the best one marked), the test metrics of the best trial
(``test_metrics.json``, evaluated once), the search plots (optimisation history, intermediate
values, parameter importances, as ``deeprnn tune`` wrote them) and the best trial's full config
(``best.yaml``, what ``deeprnn train -c best.yaml`` retrains). Self-contained like the run
report: images inline, CSS inline.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from deeprnn._run_folder import SearchFolder


def is_search_folder(folder: Path) -> bool:
    """A ``deeprnn tune`` output folder (and not a run folder)."""
    return SearchFolder(folder).is_search()


def _markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("|") and not set(line.strip()) <= set("|-: ")
    ]
    return (rows[0], rows[1:]) if rows else ([], [])


def build_search_sections(folder: Path) -> dict[str, list[str]]:
    """The sections of a search folder's page: Trials, Best trial, Plots, Best config."""
    from deeprnn.report._parts import _figure, _note, _pre, _table, metrics_rows

    out: dict[str, list[str]] = {"Trials": [], "Best trial": [], "Plots": [], "Best config": []}
    paths = SearchFolder(folder)
    summary = paths.summary_md
    if summary.is_file():
        header, rows = _markdown_table(summary.read_text(encoding="utf-8"))
        out["Trials"].append(_table(header, rows) if rows else _pre(summary.read_text("utf-8")))
    else:
        out["Trials"].append(_note("no summary.md (the search has not finished a trial?)"))
    test = paths.test_metrics
    if test.is_file():
        record = json.loads(test.read_text(encoding="utf-8"))
        header, rows = metrics_rows(record.get("metrics", {}))
        out["Best trial"].append(
            f"<p>trial {html.escape(str(record.get('trial', '?')))}, evaluated on test once</p>"
        )
        if rows:
            out["Best trial"].append(_table(header, rows, numeric=set(range(1, len(header)))))
    else:
        out["Best trial"].append(_note("the best trial was not tested (--no-test, or elsewhere)"))
    for png in sorted(folder.glob("*.png")):
        out["Plots"].append(_figure(png, png.stem.replace("_", " ")))
    if not out["Plots"]:
        out["Plots"].append(_note("no search plots in the folder"))
    best = paths.best_yaml
    out["Best config"].append(
        _pre(best.read_text(encoding="utf-8")) if best.is_file() else _note("no best.yaml")
    )
    return out
