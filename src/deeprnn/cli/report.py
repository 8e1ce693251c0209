"""``deeprnn report RUN_DIR``: one self-contained HTML page for a run (images embedded)."""

from __future__ import annotations

from deeprnn.cli._common import formatter

REPORT_EPILOG = """\
The page shows the metrics (baselines beside them), the curves, the model (architecture
diagram, layer list, summary table), a confusion matrix or forecasts and sample predictions,
every other *.png of the run folder, and the resolved config. Images are embedded as data
URIs and the CSS is inline: the one file opens offline and can be attached anywhere.
On a `deeprnn tune` folder it shows the trials table, the best trial's test metrics, the
search plots (history, intermediate values, importances) and best.yaml.

examples:
  deeprnn report runs/imdb                     # writes runs/imdb/report.html
  deeprnn report runs/imdb --out imdb.html --no-predictions
  deeprnn report runs/search                   # a deeprnn tune folder
"""


def cmd_report(args, extra: list[str]) -> int:
    from deeprnn._validation import check_out_file
    from deeprnn.cli._common import CLIError
    from deeprnn.report import write_report

    if extra:
        raise CLIError(f"unexpected arguments {extra}")
    if args.out:
        check_out_file("--out", args.out)
    path = write_report(args.run, args.out, predictions=args.predictions, title=args.title)
    print(f"wrote {path}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page for a run folder",
        epilog=REPORT_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("run", metavar="RUN_DIR", help="a run folder, or a deeprnn tune folder")
    p.add_argument("--out", help="HTML path (default RUN_DIR/report.html)")
    p.add_argument("--title", help="page title (default: the run folder's name)")
    p.add_argument(
        "--no-predictions",
        dest="predictions",
        action="store_false",
        help="do not run the model on the run's data (no confusion matrix / samples)",
    )
    p.set_defaults(func=cmd_report)
