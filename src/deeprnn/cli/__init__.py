"""The ``deeprnn`` command line.

``deeprnn train -c config.yaml [--key value ...] | evaluate | predict | summary | export |
plot | report | bench | demo``; ``deeprnn COMMAND --help`` shows each command's options and
examples. Errors in configs and inputs (``ValueError`` / ``TypeError`` from the boundary checks,
missing files, a file where a folder is wanted) print one line and exit with status 2
(``DEEPRNN_DEBUG=1`` shows the traceback); a NaN/Inf loss stops training with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from deeprnn._version import __version__

EPILOG = """\
examples:
  deeprnn demo                                     # a forecaster on synthetic sines, ~1 min
  deeprnn train -c examples/forecast_sines.yaml --trainer.max_epochs 5
  deeprnn evaluate runs/forecast_sines
  echo "a fine film" | deeprnn predict runs/classify_text/model
  deeprnn export runs/forecast_sines --format onnx --out sines.onnx
  deeprnn plot runs/forecast_sines
  deeprnn report runs/forecast_sines               # one self-contained HTML page
"""


def build_parser() -> argparse.ArgumentParser:
    from deeprnn.cli import (
        bench,
        demo,
        evaluate,
        export,
        keras_import,
        plot,
        predict,
        report,
        summary,
        train,
        tune,
    )
    from deeprnn.cli._common import formatter

    parser = argparse.ArgumentParser(
        prog="deeprnn",
        description="Deep recurrent neural networks on PyTorch: train, evaluate and ship.",
        epilog=EPILOG,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"deeprnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    verbs = (
        train,
        evaluate,
        summary,
        export,
        predict,
        plot,
        bench,
        report,
        demo,
        keras_import,
        tune,
    )
    for verb in verbs:  # one module per command, in the order --help lists them
        verb.add_parser(sub)
    for p in sub.choices.values():
        p.allow_abbrev = False
    return parser


def main(argv: list[str] | None = None) -> int:
    from deeprnn._validation import MissingExtraError
    from deeprnn.cli._common import CLIError, quiet

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    quiet()
    from deeprnn.training.callbacks import NonFiniteLossError

    try:
        return int(args.func(args, extra) or 0)
    except NonFiniteLossError as e:
        print(f"deeprnn {args.command}: {e}", file=sys.stderr)
        return 1
    except (CLIError, ValueError, TypeError, FileNotFoundError, MissingExtraError) as e:
        if os.environ.get("DEEPRNN_DEBUG"):
            raise
        message = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print(f"deeprnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        if os.environ.get("DEEPRNN_DEBUG"):  # a path the checks above missed: still one line
            raise
        message = f"{e.filename}: {e.strerror}" if e.filename else str(e)
        print(f"deeprnn {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
