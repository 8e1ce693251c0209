"""``deeprnn report RUN_DIR``: one self-contained HTML page for a run folder.

In the order a visitor wants it:

* **Summary**: the run's health warnings in a box above it (``metrics.json["warnings"]``); a
  headline sentence (:func:`deeprnn._headline.headline`: the model's headline test metric and
  how many times better or worse it is than each baseline), what the test split was, a small
  table of the model against every baseline on test (original and scaled metrics) and how
  training went (``metrics.json["training"]``).
* **Metrics**: every metric with its baselines and the ratios beside it; what each split was
  (``"data"``: the file or carve-out, its size, any fallback).
* **Curves**: one panel per quantity (:func:`~deeprnn.viz.curves.curve_panels`: train and
  validation together, baselines dotted), the kept (best) epoch marked.
* **Model**: the architecture diagram and layer list in the order the layers run, the summary
  table for an input as long as the data's (:mod:`deeprnn.report._model_view`).
* **Predictions**: a confusion matrix (classify, tag) or, per target, forecasts of windows
  spread over the split (named in the caption), and examples in a form a person reads.
* **Plots**: other ``*.png`` of the run folder (attention maps), when there are any.
* **Config**: what was set (the keys that differ from the task's defaults) beside the defaults
  (:mod:`deeprnn.report._config_view`); paths relative to the run folder or shortened.

Images are embedded as base64 PNG data URIs and the CSS is inline: the file opens anywhere,
offline, and can be mailed or attached as it is. A section with nothing to show is left out; a
part that cannot be made (no CSV log, no export folder, the data files moved) says why in one
plain line (the error itself goes to the log), instead of failing the report.
"""

from __future__ import annotations

import html
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from deeprnn._run_folder import RunFolder
from deeprnn.report._config_view import config_section, shorten_paths
from deeprnn.report._model_view import model_section
from deeprnn.report._parts import (  # noqa: F401 - metrics_rows, png_data_uri are public
    CSS,
    _figure,
    _note,
    _pre,
    _table,
    metrics_rows,
    png_data_uri,
    provenance_rows,
    summary_parts,
    training_line,
    warnings_box,
)
from deeprnn.report.predictions import load_run_data, load_run_model, predict_split, spread

log = logging.getLogger(__name__)


def _samples_table(samples: Any) -> str:
    if isinstance(samples, list) and samples and all(isinstance(s, dict) for s in samples):
        keys: list[str] = []
        for s in samples:
            keys += [k for k in s if k not in keys]
        return _table(keys, [[s.get(k, "") for k in keys] for s in samples])
    if isinstance(samples, list):
        return "<ol>" + "".join(f"<li>{html.escape(str(s))}</li>" for s in samples) + "</ol>"
    return _pre(json.dumps(samples, indent=2, ensure_ascii=False))


def _why(e: BaseException) -> str:
    """An exception as one plain line: its message's first line, without the class name, its
    absolute paths shortened."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return shorten_paths(text, None) or "it could not be made from this run folder"


def _guard(sections: list[str], what: str, fn) -> Any:
    """Run ``fn``; on an error, add one plain line saying what is not shown and why (the full
    error goes to the log, not into the page)."""
    try:
        return fn()
    except Exception as e:  # a report shows what it can; the reason is in the page
        log.info("report: %s not shown", what, exc_info=True)
        sections.append(_note(f"{what} not shown: {_why(e)}"))
        return None


def build_report(run_dir: str | Path, *, predictions: bool = True, title: str | None = None) -> str:
    """The HTML text of the report for ``run_dir`` (see the module docstring)."""
    from deeprnn.report.search import build_search_sections, is_search_folder

    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"run folder not found: {run}")
    if is_search_folder(run):  # a deeprnn tune folder
        heading = title or f"deeprnn search: {run.resolve().name}"
        return _page(heading, "hyper-parameter search", run, build_search_sections(run))
    folder = RunFolder(run)
    if not folder.looks_like_run():
        raise ValueError(
            f"{run} is not a deeprnn run folder (no config.yaml, metrics.json, model/ or logs/)"
        )
    # the results first; the config that made them last (the nav bar links every section)
    out: dict[str, list[str]] = {k: [] for k in SECTIONS}
    with tempfile.TemporaryDirectory(prefix="deeprnn-report-") as tmp:
        metrics, task, config = _metrics_and_config(out, run, folder)
        _curves(out["Curves"], run, metrics, Path(tmp))
        model = _guard(out["Model"], "the model", lambda: load_run_model(run))
        if model is None and not out["Model"]:
            out["Model"].append(_note("no export folder (RUN_DIR/model): the model is not shown"))
        dm = None
        if model is not None and predictions:
            dm = _guard(out["Predictions"], "predictions", lambda: load_run_data(run, model))
        if model is not None:
            model_section(out["Model"], model, dm, Path(tmp))
        _predictions(out["Predictions"], metrics, model, dm, predictions, Path(tmp))
        made = {"curves.png", "architecture.png", "confusion.png", "forecast.png"}
        for png in sorted(run.glob("*.png")):  # plots the run folder holds (attention ...)
            if png.name not in made:
                _guard(
                    out["Plots"], png.name, lambda p=png: out["Plots"].append(_figure(p, p.name))
                )
    if config is not None:
        training = metrics.get("training")
        out["Config"] += (
            _guard(out["Config"], "the config", lambda: config_section(config, run, training)) or []
        )
    out = {k: v for k, v in out.items() if any(part for part in v)}  # no empty section
    heading = title or f"deeprnn run: {run.resolve().name}"
    alert = warnings_box([shorten_paths(str(w), run) for w in metrics.get("warnings") or []])
    return _page(heading, f"task {task}", run, out, alert)


SECTIONS = ("Summary", "Metrics", "Curves", "Model", "Predictions", "Plots", "Config")


def _metrics_and_config(out: dict, run: Path, folder: RunFolder) -> tuple[dict, str, Any]:
    """metrics.json into the Summary and Metrics sections; config.yaml read (or why not)."""
    from deeprnn._schema import load_yaml  # safe loading; bad YAML names the file

    config, task = None, "?"
    if folder.config.is_file():
        config = load_yaml(folder.config)  # bad YAML stops the report, naming the file
        task = str(config.get("task", "?"))
    else:
        out["Config"].append(_note("no config.yaml in the run folder"))
    metrics: dict = {}
    if not folder.metrics.is_file():
        out["Summary"].append(_note("no metrics.json in the run folder (training did not finish?)"))
        return metrics, task, config
    got = _guard(
        out["Summary"], "metrics.json", lambda: json.loads(folder.metrics.read_text("utf-8"))
    )
    metrics = got if isinstance(got, dict) else {}
    data = metrics.get("data") if isinstance(metrics.get("data"), dict) else {}
    test = data.get("test") if isinstance(data.get("test"), dict) else {}
    source = None
    if test:
        n = test.get("examples")
        size = f" ({n:,} {test.get('unit', 'examples')})" if isinstance(n, int) else ""
        source = shorten_paths(str(test.get("source", "?")), run) + size
    out["Summary"] += summary_parts(metrics, source)
    out["Summary"].append(training_line(metrics.get("training")))
    header, rows = metrics_rows(metrics)
    sec = out["Metrics"]
    if rows:
        sec.append(_table(header, rows, numeric=set(range(1, len(header)))))
    else:
        sec.append(_note("metrics.json has no numeric metrics"))
    prov = [[s, shorten_paths(str(src), run), n] for s, src, n in provenance_rows(data)]
    if prov:
        sec.append("<p>what each split was (the metrics above are the test split's)</p>")
        sec.append(_table(["split", "computed on", "examples"], prov, numeric={2}))
    else:
        sec.append(_note("metrics.json does not say what the splits were"))
    return metrics, task, config


def _curves(sec: list[str], run: Path, metrics: dict, tmp: Path) -> None:
    from deeprnn.viz.curves import plot_curves

    training = metrics.get("training") if isinstance(metrics.get("training"), dict) else {}
    best = training.get("best_epoch")
    best = best if isinstance(best, int) and not isinstance(best, bool) and best >= 1 else None
    path = _guard(sec, "curves", lambda: plot_curves(run, tmp / "curves.png", best_epoch=best))
    if path is None:
        return
    caption = "train solid, validation dashed, baselines dotted; one panel per quantity"
    if best is not None:
        monitor = training.get("monitor", "the monitored metric")
        caption += f"; the dash-dot line marks epoch {best}, the one kept (best {monitor})"
    sec.append(_figure(path, caption))


def _predictions(sec, metrics: dict, model, dm, predictions: bool, tmp: Path) -> None:
    from deeprnn.viz.confusion import plot_confusion
    from deeprnn.viz.curves import plot_forecast

    samples = metrics.get("samples")
    if samples:
        sec.append("<p>samples from metrics.json</p>" + _samples_table(samples))
    if not predictions or model is None or dm is None:
        if not sec and model is not None and not predictions:
            sec.append(_note("predictions not shown: the report was made with --no-predictions"))
        return
    test = _guard(sec, "predictions", lambda: predict_split(model, dm, "test"))
    if test is None:
        return
    where = f"the {test.split} split" + (" (no test split)" if test.split != "test" else "")
    if test.labels and test.y_true:
        caption = f"confusion matrix on {where} ({len(test.y_true):,} predictions)"

        def confusion():
            path = plot_confusion(test.y_true, test.y_pred, test.labels, tmp / "confusion.png")
            sec.append(_figure(path, caption))

        _guard(sec, "the confusion matrix", confusion)
    pick = spread(len(test.windows), 3)  # 3 of the windows, spread over the split
    labels = [test.windows[j] for j in pick]
    for i, (target, arrays) in enumerate(test.forecasts.items()):

        def forecast(i=i, target=target, arrays=arrays):
            hist, truth, pred = (a[pick] for a in arrays)
            q = test.intervals.get(target)
            q = None if q is None else tuple(a[pick] for a in q)
            title = f"{target}: forecasts on {where}"
            path = plot_forecast(hist, truth, pred, tmp / f"forecast_{i}.png", interval=q,
                                 n=3, title=title, labels=labels)  # fmt: skip
            caption = (f"{target}: {len(pick)} windows spread over {where} ({test.total:,} "
                       "windows): " + "; ".join(labels))  # fmt: skip
            sec.append(_figure(path, caption))

        _guard(sec, f"the forecasts of {target}", forecast)
    if test.samples and not samples:
        sec.append(f"<p>the model on {len(test.samples)} examples of {html.escape(where)}</p>")
        sec.append(_samples_table(test.samples))


def _page(heading: str, kind: str, folder: Path, out: dict[str, list[str]], alert: str = "") -> str:
    """The HTML page: header, a nav bar linking every section, ``alert`` (the run's warnings
    box), the sections."""
    from deeprnn._version import __version__

    nav = "".join(f'<a href="#{_anchor(k)}">{html.escape(k)}</a>' for k in out)
    body = "".join(
        f'<section id="{_anchor(k)}"><h2>{html.escape(k)}</h2>{"".join(v)}</section>'
        for k, v in out.items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(heading)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(heading)}</h1>"
        f"<p>{html.escape(kind)} · run folder {html.escape(folder.resolve().name)} · "
        f"deeprnn {__version__}</p></header>"
        f"<nav>{nav}</nav><main>{alert}{body}</main></body></html>\n"
    )


def _anchor(name: str) -> str:
    return name.lower().replace(" ", "-")


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    predictions: bool = True,
    title: str | None = None,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``),
    atomically; returns the path. ``predictions=False`` skips running the model on the data."""
    from deeprnn._persist import atomic_write_text

    text = build_report(run_dir, predictions=predictions, title=title)
    path = Path(out) if out is not None else RunFolder(run_dir).report
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
