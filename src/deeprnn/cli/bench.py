"""``deeprnn bench``: the speed harness (benchmarks/speed.py from the source tree)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deeprnn.cli._common import CLIError, formatter

BENCH_EPILOG = """\
Runs benchmarks/speed.py from the source tree; every argument after 'bench' is passed on.

examples:
  deeprnn bench --help
  deeprnn bench --readme
"""


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


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="the speed benchmark (benchmarks/speed.py)",
        epilog=BENCH_EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    p.add_argument("bench_args", nargs="*", help="arguments for benchmarks/speed.py")
    p.set_defaults(func=cmd_bench, accepts_overrides=True)
