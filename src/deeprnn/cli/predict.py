"""``deeprnn predict``: raw inputs in (text lines, CSV or JSON lines), predictions out (JSON
lines or CSV), from an export folder, a run folder or a checkpoint."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

from deeprnn._validation import RecordError, check_out_file, check_record_fields
from deeprnn.cli._common import CLIError, formatter

EPILOG = """\
input formats (by --input-format, else the file extension; stdin is read as lines):
  lines   one example per line: text to classify, whitespace-tokenised sentences to tag,
          prompts for a language model, sentences to translate
  csv     rows with columns: a 'text' column to classify, or a forecast history with the
          target/covariate columns (grouped by the series column)
  jsonl   one JSON object per line, e.g. {"x": [[0.1, 2.0], ...]} for numeric sequences
  npy     an array of N examples (N, T, F) or token ids (N, T): record i is {"x": a[i]}
a module folder (save_pretrained, or `deeprnn import model.keras --out DIR`) takes records
  {"x": array} ({"inputs": [a, b]} for several inputs) and gives {"y": output} per record.
output: JSON lines (default) or CSV (--output-format csv or an .csv --output).
  A forecast gives one row per (series, step) after each series' last row with a target
  value, with its "time" when the model was trained with data.time_column / time_columns:
  {"series": "0", "step": 1, "time": "2014-12-31 00:00:00", "pm2.5": 63.5}.

examples:
  echo "a wonderful film" | deeprnn predict runs/imdb/model
  deeprnn predict runs/ner/model --input sentences.txt --output tags.jsonl
  deeprnn predict runs/airline/model --input history.csv --output forecast.csv
  deeprnn predict runs/airline_prob/model --input history.csv --quantiles 0.1 0.5 0.9
  deeprnn predict runs/names_lm/model --input prompts.txt --max-new-tokens 20 --temperature 0.8 --top-k 5
  deeprnn predict runs/translate_multi30k/model --input sentences.en --beam-width 5
  deeprnn import model.keras --out imported/ && deeprnn predict imported/ --input x.npy
"""


# CSV columns / JSON keys checked here for tasks whose predict_raw does not check them itself
# (tag, lm and forecast raise RecordError, reported below with the record's input position)
REQUIRED_FIELDS = {"classify": ("text", "x")}


def read_npy(path: Path) -> list[dict]:
    """An array of N examples (N, ...) -> N records ``{"x": example}`` (no pickles loaded)."""
    import numpy as np

    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as e:  # an object array, or not an .npy file
        raise CLIError(f"--input {path}: not a numeric .npy array ({e})") from e
    if a.ndim < 1:
        raise CLIError(f"--input {path}: expected an array of examples (N, ...), got a scalar")
    return [{"x": row.tolist()} for row in a]


def read_records(path: str | None, fmt: str | None) -> list:
    if path in (None, "-"):
        text, suffix = sys.stdin.read(), ""
    else:
        p = Path(path)
        if not p.is_file():
            raise CLIError(f"--input: file not found: {p}")
        from deeprnn.data._io import read_text

        suffix = p.suffix.lower()
        if fmt == "npy" or (fmt is None and suffix == ".npy"):
            return read_npy(p)
        text = read_text(p)
    fmt = fmt or {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix, "lines")
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    if fmt == "jsonl":
        out = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise CLIError(f"--input line {i} is not JSON: {e}") from e
        return out
    return [line for line in text.splitlines() if line.strip()]


def _flat(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update({f"{k}_{kk}": vv for kk, vv in v.items()})
        elif isinstance(v, list):
            out[k] = " ".join(map(str, v))
        else:
            out[k] = v
    return out


def _finite(value):
    """``value`` with every NaN / Inf float made ``None`` (JSON ``null``), and how many were."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, 1
    if isinstance(value, dict):
        pairs = [(k, *_finite(v)) for k, v in value.items()]
        return {k: v for k, v, _ in pairs}, sum(n for *_, n in pairs)
    if isinstance(value, list | tuple):
        pairs = [_finite(v) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    return value, 0


def write_records(rows: list[dict], path: str | None, fmt: str | None) -> None:
    """``rows`` as JSON lines or CSV. A NaN / Inf prediction is written as JSON ``null`` (an
    empty CSV cell), so that the output parses anywhere; a note on stderr counts them."""
    suffix = Path(path).suffix.lower() if path and path != "-" else ""
    fmt = fmt or ("csv" if suffix == ".csv" else "jsonl")
    pairs = [_finite(r) for r in rows]
    rows, bad = [r for r, _ in pairs], sum(n for _, n in pairs)
    if bad:
        print(
            f"deeprnn predict: note: {bad} prediction value(s) are NaN or Inf (written as "
            f"{'empty cells' if fmt == 'csv' else 'null'}); the model's weights or the input "
            "may hold NaN / Inf",
            file=sys.stderr,
        )
    buf = io.StringIO()
    if fmt == "csv":
        flat = [_flat(r) for r in rows]
        fields = list(dict.fromkeys(k for r in flat for k in r))
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(flat)
    else:
        for r in rows:
            buf.write(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n")
    if path in (None, "-"):
        sys.stdout.write(buf.getvalue())
    else:
        from deeprnn._persist import atomic_write_text

        atomic_write_text(path, buf.getvalue())


def cmd_predict(args, extra: list[str]) -> int:
    from deeprnn.training import open_run

    if extra:
        raise CLIError(f"unexpected arguments {extra}")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be a positive int, got {args.batch_size}")
    if args.output not in (None, "-"):
        check_out_file("--output", args.output)  # before the model runs
    model = open_run(args.model).model
    records = read_records(args.input, args.input_format)
    if not records:
        raise CLIError("no input examples (empty input)")
    fields = REQUIRED_FIELDS.get(model.task_name)
    try:
        for i, r in enumerate(records if fields else []):
            check_record_fields(i, r, model.task_name, any_of=fields)
    except RecordError as e:
        raise CLIError(f"--input record {e.index + 1}: {e.detail}") from e
    options = {}
    if model.task_name == "lm":
        options = {
            "max_new_tokens": args.max_new_tokens,
            "temperature": args.temperature,
            "top_k": args.top_k,
            "seed": args.seed,
        }
    elif model.task_name == "seq2seq":
        options = {"beam_width": args.beam_width}
    if args.quantiles is not None:
        if model.task_name != "forecast":
            raise CLIError(f"--quantiles is for forecast models, this is a {model.task_name} model")
        options["quantiles"] = args.quantiles
    # a forecast history is one example however many rows it has
    size = len(records) if model.task_name == "forecast" else args.batch_size
    rows = []
    for start in range(0, len(records), size):
        if options.get("seed") is not None:
            options["seed"] = args.seed + start  # record i samples with seed + i, as unbatched
        try:
            rows.extend(model.predict_raw(records[start : start + size], **options))
        except RecordError as e:  # the task's own check: report the record's input position
            raise CLIError(f"--input record {start + e.index + 1}: {e.detail}") from e
    write_records(rows, args.output, args.output_format)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict on raw inputs from a trained model",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", metavar="MODEL", help="export folder, run folder or .ckpt")
    p.add_argument("--input", "-i", help="input file (default: stdin)")
    p.add_argument("--output", "-o", help="output file (default: stdout)")
    p.add_argument("--input-format", choices=("lines", "csv", "jsonl", "npy"))
    p.add_argument("--output-format", choices=("jsonl", "csv"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=100, help="language models")
    p.add_argument("--temperature", type=float, default=1.0, help="language models")
    p.add_argument("--top-k", type=int, default=None, help="language models")
    p.add_argument("--seed", type=int, default=None, help="language models: sampling seed")
    p.add_argument(
        "--beam-width", type=int, default=None, help="seq2seq: beam width (default: the model's)"
    )
    p.add_argument(
        "--quantiles",
        type=float,
        nargs="+",
        metavar="Q",
        help="forecast with model.likelihood: quantile columns {target}_q{Q}, e.g. 0.1 0.5 0.9",
    )
    p.set_defaults(func=cmd_predict)
