"""``deeprnn report RUN_DIR``: one self-contained HTML page for a run folder.

The page holds the resolved config (``config.yaml``), the model (architecture diagram, layer
list and the Keras-style summary table of the export folder ``model/``), the test metrics of
``metrics.json`` with any baselines beside them, the loss / metric curves, every other ``*.png``
in the run folder, a confusion matrix (classify, tag) or a forecast plot, and sample
predictions (``metrics.json["samples"]`` when present, else the model run on a few validation
examples). Images are embedded as base64 PNG data URIs and the CSS is inline: the file opens
anywhere, offline, and can be mailed or attached as it is.

A section that cannot be made (no CSV log, no export folder, the data files moved) says why in
the page instead of failing the report.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from pathlib import Path
from typing import Any

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #222; background: #f6f7f9; }
header { background: #24425f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; opacity: .85; }
nav { padding: 8px 32px; background: #e8edf2; font-size: 13px; }
nav a { margin-right: 14px; color: #24425f; }
main { padding: 8px 32px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; margin: 16px 0;
          padding: 8px 20px 16px; }
h2 { font-size: 17px; border-bottom: 1px solid #eee; padding-bottom: 4px; }
pre { background: #f3f5f7; padding: 10px; overflow-x: auto; font-size: 12px;
      border-radius: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d7dce2; padding: 4px 10px; text-align: left; }
th { background: #eef2f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 12px 0; } figcaption { font-size: 12px; color: #666; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.note { color: #8a5a00; font-style: italic; }
.better { color: #1a7f37; } .worse { color: #b3261e; }
"""

BASELINES = {"naive_": "naive", "snaive_": "seasonal naive"}
#: metrics where lower is better (the "x better" column divides baseline by model)
LOWER_IS_BETTER = ("loss", "mae", "mse", "rmse", "mase", "ppl", "bpc", "nll", "smape", "mape")


def png_data_uri(path: str | Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG"):
        raise ValueError(f"{path} is not a PNG file")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure(path: Path, caption: str) -> str:
    alt = html.escape(caption, quote=True)
    return (
        f'<figure><img src="{png_data_uri(path)}" alt="{alt}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return html.escape(str(v))
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.6g}"


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            cells.append(f"<td{cls}>{v if isinstance(v, _Raw) else _fmt(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """Table cell HTML that is already escaped."""


def metrics_rows(metrics: dict) -> tuple[list[str], list[list[Any]]]:
    """The metrics table: one row per (stage, metric) with its baselines beside it.

    ``test_mae`` with ``test_naive_mae`` and ``test_snaive_mae`` become one row
    ``test_mae | model | naive | seasonal naive | vs naive | vs seasonal naive`` (the ratio
    columns say how many times better or worse the model's error is).
    """
    numbers = {
        k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    found = {p for k in numbers for p in BASELINES if f"_{p}" in k}
    base_cols = [p for p in BASELINES if p in found]
    header = ["metric", "model"] + [BASELINES[p] for p in base_cols]
    header += [f"vs {BASELINES[p]}" for p in base_cols]
    rows = []
    for key, value in numbers.items():
        stage, _, name = key.partition("_")
        if any(name.startswith(p) for p in BASELINES):
            continue
        bases = [numbers.get(f"{stage}_{p}{name}") for p in base_cols]
        row: list[Any] = [key, value] + ["" if b is None else b for b in bases]
        for base in bases:
            row.append(_ratio(value, base, name))
        rows.append(row)
    return header, rows


def _ratio(value: float, base: float | None, name: str) -> str:
    """``"3.97x better"`` / ``"1.50x worse"`` for an error metric beside a baseline."""
    if base is None or not value or not base or name.split("_")[-1] not in LOWER_IS_BETTER:
        return ""
    r = base / value
    if r >= 1:
        return _Raw(f'<span class="better">{r:.2f}x better</span>')
    return _Raw(f'<span class="worse">{1 / r:.2f}x worse</span>')


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
    from deeprnn._version import __version__
    from deeprnn.report.predictions import load_run_data, load_run_model, predict_split
    from deeprnn.viz.architecture import architecture_text, plot_architecture
    from deeprnn.viz.confusion import plot_confusion
    from deeprnn.viz.curves import plot_curves, plot_forecast

    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"run folder not found: {run}")
    if not any((run / n).exists() for n in ("config.yaml", "metrics.json", "model", "logs")):
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
        cfg_path = run / "config.yaml"
        task = "?"
        if cfg_path.is_file():
            text = cfg_path.read_text(encoding="utf-8")
            sec.append(_pre(text))
            import yaml

            task = str((yaml.safe_load(text) or {}).get("task", "?"))
        else:
            sec.append(_note("no config.yaml in the run folder"))

        # -- metrics --------------------------------------------------------------------------
        sec = out.setdefault("Metrics", [])
        m_path = run / "metrics.json"
        if m_path.is_file():
            metrics = _guard(sec, "metrics.json", lambda: json.loads(m_path.read_text("utf-8")))
            metrics = metrics if isinstance(metrics, dict) else {}
            header, rows = metrics_rows(metrics)
            if rows:
                sec.append(_table(header, rows, numeric=set(range(1, len(header)))))
            else:
                sec.append(_note("metrics.json has no numeric metrics"))
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
    nav = "".join(f'<a href="#{k.lower()}">{k}</a>' for k in out)
    body = "".join(
        f'<section id="{k.lower()}"><h2>{html.escape(k)}</h2>{"".join(v)}</section>'
        for k, v in out.items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(heading)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(heading)}</h1>"
        f"<p>task {html.escape(task)} · {html.escape(str(run.resolve()))} · "
        f"deeprnn {__version__}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )


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
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
