"""``deeprnn report RUN_DIR``: one self-contained HTML page for a run folder.

The page holds the resolved config (``config.yaml``), the model (architecture diagram, layer
list and the Keras-style summary table of the export folder ``model/``), the run's health
warnings in a box at the top (``metrics.json["warnings"]``), the test metrics of
``metrics.json`` with any baselines beside them and what each split was (``"data"``: the
file or carve-out, its size, any fallback) and how training went (``"training"``), the loss /
metric curves, every other ``*.png`` in the run folder, a confusion matrix (classify, tag) or a
forecast plot, and sample predictions (``metrics.json["samples"]`` when present, else the
model run on a few validation examples). Images are embedded as base64 PNG data URIs and the
CSS is inline: the file opens anywhere, offline, and can be mailed or attached as it is.

A section that cannot be made (no CSV log, no export folder, the data files moved) says why in
the page instead of failing the report.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path
from typing import Any

from deeprnn._run_folder import RunFolder
from deeprnn.report._parts import (  # noqa: F401 - metrics_rows, png_data_uri are public
    CSS,
    _figure,
    _note,
    _pre,
    _table,
    metrics_rows,
    png_data_uri,
    provenance_rows,
    training_line,
    warnings_box,
)


def _samples_table(samples: Any) -> str:
    if isinstance(samples, list) and samples and all(isinstance(s, dict) for s in samples):
        keys: list[str] = []
        for s in samples:
            keys += [k for k in s if k not in keys]
        return _table(keys, [[s.get(k, "") for k in keys] for s in samples])
    if isinstance(samples, list):
        return "<ol>" + "".join(f"<li>{html.escape(str(s))}</li>" for s in samples) + "</ol>"
    return _pre(json.dumps(samples, indent=2, ensure_ascii=False))


def _model_summary(model) -> str:
    from deeprnn.export.onnx import task_wrapper
    from deeprnn.summary import summary

    wrapper = task_wrapper(model)
    return summary(wrapper, input_data=tuple(model.example_input().values()), print_fn=None)


def _guard(sections: list[str], what: str, fn) -> Any:
    """Run ``fn``; on an error, add a note saying what was skipped and why."""
    try:
        return fn()
    except Exception as e:  # a report shows what it can; the reason is in the page
        sections.append(_note(f"{what} skipped: {type(e).__name__}: {e}"))
        return None


def build_report(run_dir: str | Path, *, predictions: bool = True, title: str | None = None) -> str:
    """The HTML text of the report for ``run_dir`` (see the module docstring)."""
    from deeprnn.report.predictions import load_run_data, load_run_model, predict_split
    from deeprnn.viz.architecture import architecture_text, plot_architecture
    from deeprnn.viz.confusion import plot_confusion
    from deeprnn.viz.curves import plot_curves, plot_forecast

    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"run folder not found: {run}")
    from deeprnn.report.search import build_search_sections, is_search_folder

    if is_search_folder(run):  # a deeprnn tune folder
        heading = title or f"deeprnn search: {run.resolve().name}"
        return _page(heading, "hyper-parameter search", run, build_search_sections(run))
    folder = RunFolder(run)
    if not folder.looks_like_run():
        raise ValueError(
            f"{run} is not a deeprnn run folder (no config.yaml, metrics.json, model/ or logs/)"
        )
    made: dict[str, str] = {}  # file name -> caption, for the plots made here
    # the results first; the config that made them last (the nav bar links every section)
    out: dict[str, list[str]] = {
        k: [] for k in ("Metrics", "Curves", "Model", "Predictions", "Plots", "Config")
    }
    metrics: dict = {}
    with tempfile.TemporaryDirectory(prefix="deeprnn-report-") as tmp:
        tmp_dir = Path(tmp)

        # -- config ---------------------------------------------------------------------------
        sec = out.setdefault("Config", [])
        cfg_path = folder.config
        task = "?"
        if cfg_path.is_file():
            text = cfg_path.read_text(encoding="utf-8")
            sec.append(_pre(text))
            from deeprnn._schema import load_yaml  # safe loading; bad YAML names the file

            task = str(load_yaml(cfg_path).get("task", "?"))
        else:
            sec.append(_note("no config.yaml in the run folder"))

        # -- metrics --------------------------------------------------------------------------
        sec = out.setdefault("Metrics", [])
        m_path = folder.metrics
        if m_path.is_file():
            metrics = _guard(sec, "metrics.json", lambda: json.loads(m_path.read_text("utf-8")))
            metrics = metrics if isinstance(metrics, dict) else {}
            header, rows = metrics_rows(metrics)
            if rows:
                sec.append(_table(header, rows, numeric=set(range(1, len(header)))))
            else:
                sec.append(_note("metrics.json has no numeric metrics"))
            data = provenance_rows(metrics.get("data"))
            if data:
                sec.append("<p>what each split was (the metrics above are the test split's)</p>")
                sec.append(_table(["split", "computed on", "examples"], data, numeric={2}))
            else:
                sec.append(_note("metrics.json does not say what the splits were"))
            sec.append(training_line(metrics.get("training")))
        else:
            sec.append(_note("no metrics.json in the run folder (training did not finish?)"))

        # -- curves ---------------------------------------------------------------------------
        sec = out.setdefault("Curves", [])
        path = _guard(sec, "curves", lambda: plot_curves(run, tmp_dir / "curves.png"))
        if path is not None:
            made["curves.png"] = "loss and metric curves (train solid, validation dashed)"
            sec.append(_figure(path, made["curves.png"]))

        # -- model ----------------------------------------------------------------------------
        sec = out.setdefault("Model", [])
        model = _guard(sec, "model", lambda: load_run_model(run))
        if model is None and not sec:
            sec.append(_note("no export folder (RUN_DIR/model): the model is not shown"))
        if model is not None:
            path = _guard(
                sec, "architecture diagram", lambda: plot_architecture(model, tmp_dir / "a.png")
            )
            if path is not None:
                made["architecture.png"] = "architecture"
                sec.append(_figure(path, "architecture"))
            text = _guard(sec, "layer list", lambda: architecture_text(model))
            if text:
                sec.append(_pre(text))
            text = _guard(sec, "summary table", lambda: _model_summary(model))
            if text:
                sec.append(_pre(text))

        # -- predictions ----------------------------------------------------------------------
        sec = out.setdefault("Predictions", [])
        samples = metrics.get("samples")
        if samples:
            sec.append("<p>samples from metrics.json</p>" + _samples_table(samples))
        if predictions and model is not None:

            def run_model():
                dm = load_run_data(run, model)
                return predict_split(model, dm, "test"), predict_split(model, dm, "val")

            got = _guard(sec, "predictions", run_model)
            test, val = got if got else (None, None)
            if test is not None and test.labels and test.y_true:
                path = plot_confusion(
                    test.y_true, test.y_pred, test.labels, tmp_dir / "confusion.png"
                )
                made["confusion.png"] = f"confusion matrix on the {test.split} split"
                sec.append(_figure(path, made["confusion.png"]))
            if test is not None and test.forecast is not None:
                path = plot_forecast(
                    *test.forecast, tmp_dir / "forecast.png", interval=test.interval, n=3
                )
                made["forecast.png"] = f"forecasts on the {test.split} split"
                sec.append(_figure(path, made["forecast.png"]))
            if val is not None and val.samples and not samples:
                sec.append(f"<p>the model on {val.split} examples</p>")
                sec.append(_samples_table(val.samples))
        if not sec:
            sec.append(_note("no samples in metrics.json and no predictions for this task"))

        # -- other plots in the run folder ----------------------------------------------------
        sec = out.setdefault("Plots", [])
        for png in sorted(run.glob("*.png")):
            if png.name in made:
                continue
            _guard(sec, png.name, lambda png=png: sec.append(_figure(png, png.name)))
        if not sec:
            sec.append(_note("no other *.png in the run folder"))

    heading = title or f"deeprnn run: {run.resolve().name}"
    return _page(heading, f"task {task}", run, out, warnings_box(metrics.get("warnings")))


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
        f"<p>{html.escape(kind)} · {html.escape(str(folder.resolve()))} · "
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
