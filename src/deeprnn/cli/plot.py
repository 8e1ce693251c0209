"""``deeprnn plot`` (curves of a run) and ``deeprnn bench`` (the speed harness)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deeprnn.cli._common import CLIError, formatter

PLOT_EPILOG = """\
examples:
  deeprnn plot runs/imdb                      # writes runs/imdb/curves.png
  deeprnn plot runs/imdb --metrics loss acc --out imdb.png
"""

BENCH_EPILOG = """\
Runs benchmarks/speed.py from the source tree; every argument after 'bench' is passed on.

examples:
  deeprnn bench --help
  deeprnn bench --readme
"""


def cmd_plot(args, extra: list[str]) -> int:
    from deeprnn.viz.curves import plot_curves

    if extra:
        raise CLIError(f"unexpected arguments {extra}")
    out = Path(args.out) if args.out else Path(args.run) / "curves.png"
    print(f"wrote {plot_curves(args.run, out, args.metrics)}")
    return 0


def find_speed_script() -> Path:
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        script = parent / "benchmarks" / "speed.py"
        if script.is_file():
            return script
    raise CLIError("benchmarks/speed.py not found: run 'deeprnn bench' inside the source tree")


def cmd_bench(args, extra: list[str]) -> int:
    script = find_speed_script()
    return subprocess.call([sys.executable, str(script), *args.bench_args, *extra])


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="loss and metric curves of a run folder",
        epilog=PLOT_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("run", metavar="RUN_DIR", help="a run folder (or its logs/csv/metrics.csv)")
    p.add_argument("--metrics", nargs="+", help="metric names (default: all validation metrics)")
    p.add_argument("--out", help="PNG path (default RUN_DIR/curves.png)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "bench",
        help="the speed benchmark (benchmarks/speed.py)",
        epilog=BENCH_EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    p.add_argument("bench_args", nargs="*", help="arguments for benchmarks/speed.py")
    p.set_defaults(func=cmd_bench, accepts_overrides=True)
