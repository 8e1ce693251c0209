"""The pieces of the HTML reports: the inline CSS, embedded PNGs, tables and notes, and the
metrics table with baselines beside them."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from deeprnn._headline import BASELINES, compare, comparisons, headline, level, scale_of

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
.warnings { background: #fff4e5; border: 1px solid #f0b429; border-left: 6px solid #d97706;
            border-radius: 6px; margin: 16px 0; padding: 8px 20px; }
.warnings h2 { border: 0; margin: 6px 0; color: #8a4b00; } .warnings li { margin: 3px 0; }
.headline { font-size: 16px; margin: 12px 0 6px; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 24px; }
.pair > div { min-width: 0; overflow-x: auto; } h3 { font-size: 15px; margin: 10px 0 4px; }
details summary { cursor: pointer; color: #24425f; margin: 6px 0; }
td { overflow-wrap: anywhere; } .scroll { overflow-x: auto; max-width: 100%; }
"""


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
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'  # a wide table scrolls, the page does not


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
        row: list[Any] = [key, value] + ["—" if b is None else b for b in bases]
        for base in bases:
            row.append(_ratio(value, base, name))
        rows.append(row)
    return header, rows


def provenance_rows(data: Any) -> list[list[Any]]:
    """The rows ``split | computed on | examples`` of ``metrics.json["data"]`` (what each
    split was: its source, its size and unit, a fallback, a limit)."""
    rows: list[list[Any]] = []
    if not isinstance(data, dict):
        return rows
    for split, entry in data.items():
        if not isinstance(entry, dict):
            continue
        source = str(entry.get("source", "?"))
        notes = [str(entry[k]) for k in ("limited_to",) if entry.get(k)]
        skipped = entry.get("skipped")
        if isinstance(skipped, dict) and skipped:
            notes.append("skipped: " + ", ".join(f"{n} {why}" for why, n in skipped.items()))
        if notes:
            source += " (" + "; ".join(notes) + ")"
        n = entry.get("examples")
        size = f"{n:,} {entry.get('unit', 'examples')}" if isinstance(n, int) else ""
        rows.append([split, source, size])
    return rows


def warnings_box(warnings: Any) -> str:
    """The box of a run's health warnings (``metrics.json["warnings"]``); empty without."""
    if not isinstance(warnings, list) or not warnings:
        return ""
    items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
    n = len(warnings)
    return (
        f'<div class="warnings" role="alert"><h2>{n} warning{"s" if n > 1 else ""} about '
        f"this run</h2><ul>{items}</ul></div>"
    )


def training_line(training: Any) -> str:
    """One sentence of ``metrics.json["training"]``: batch size, epochs, steps, best epoch."""
    if not isinstance(training, dict) or not training:
        return ""
    t = training
    auto = " (auto)" if t.get("batch_size_auto") else ""
    text = (
        f"trained {t.get('epochs')} of {t.get('max_epochs')} epochs (stopped by "
        f"{t.get('stopped_by')}), {t.get('optimizer_steps')} optimizer steps "
        f"({t.get('steps_per_epoch')} per epoch), batch_size {t.get('batch_size')}{auto}; the "
        f"best {t.get('monitor')} on the validation split at epoch {t.get('best_epoch')} "
        "(counted from 1)"
    )
    return f"<p>{html.escape(text)}</p>"


def _ratio(value: float, base: float | None, name: str) -> str:
    """``"3.97x better"`` / ``"1.50x worse"`` for the model's ``value`` beside a baseline's
    (either direction: :func:`deeprnn._headline.compare`); ``"—"`` without a baseline or a
    known direction."""
    r = None if base is None else compare(value, base, name)
    if r is None:
        return "—"
    if level(r):
        return "level"
    if r >= 1:
        return _Raw(f'<span class="better">{r:.2f}x better</span>')
    return _Raw(f'<span class="worse">{1 / r:.2f}x worse</span>')


def summary_parts(metrics: dict, test_source: str | None) -> list[str]:
    """The report's lead: the headline sentence (:func:`deeprnn._headline.headline`), what the
    test split was, and a small table of the model against each baseline on test (every metric
    with a baseline, on the original scale and the scaled one)."""
    out = []
    line = headline(metrics)
    if line is None:
        return [_note("metrics.json has no test metric to lead with")]
    out.append(f'<p class="headline"><strong>{html.escape(line)}</strong></p>')
    if test_source:
        out.append(f"<p>test split: {html.escape(test_source)}</p>")
    rows = comparisons(metrics)
    if not rows:
        out.append(_note("metrics.json holds no baseline for this task's test metrics"))
        return out
    labels = [lab for lab in BASELINES.values() if any(lab in r[2] for r in rows)]
    body = []
    for key, value, bases in rows:
        cells: list[Any] = [key.removeprefix("test_"), scale_of(key), value]
        for lab in labels:
            if lab not in bases:
                cells.append("—")
                continue
            base = bases[lab][0]
            cells.append(_Raw(f"{_fmt(base)} ({_ratio(value, base, key)})"))
        body.append(cells)
    header = ["metric (test)", "scale", "model", *labels]
    out.append(_table(header, body, numeric={2}))
    return out
