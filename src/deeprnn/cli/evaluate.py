"""``deeprnn evaluate``: the test metrics of a trained model."""

from __future__ import annotations

import json
import sys

from deeprnn.cli._common import formatter, parse_overrides, say_headline

EVALUATE_EPILOG = """\
MODEL is a run folder (its best checkpoint), a .ckpt file or an export folder. The data
section comes from the run's config (config.yaml / run.yaml) and can be overridden.

examples:
  deeprnn evaluate runs/imdb
  deeprnn evaluate runs/imdb/model --data.test_path other_test.csv
  deeprnn evaluate runs/imdb --ckpt runs/imdb/checkpoints/last.ckpt --out eval.json
"""


def cmd_evaluate(args, extra: list[str]) -> int:
    from deeprnn._persist import atomic_write_text
    from deeprnn._validation import check_out_file
    from deeprnn.training import open_run

    if args.out:
        check_out_file("--out", args.out)  # before the model is evaluated
    metrics = open_run(args.model, args.ckpt).evaluate(parse_overrides(extra))
    text = json.dumps(metrics, indent=2)
    print(text)
    say_headline(metrics, sys.stderr)  # stdout stays the JSON
    if args.out:
        atomic_write_text(args.out, text + "\n")
        print(f"wrote {args.out}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="test metrics of a trained model",
        epilog=EVALUATE_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", metavar="MODEL", help="run folder, .ckpt or export folder")
    p.add_argument("--ckpt", help="a checkpoint to use instead of the run's best")
    p.add_argument("--out", help="also write the metrics to this JSON file")
    p.set_defaults(func=cmd_evaluate, accepts_overrides=True)
