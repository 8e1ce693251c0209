"""The ``deeprnn`` command line: ``deeprnn demo``, ``deeprnn summary`` ..."""

from __future__ import annotations

import argparse
import sys

from deeprnn import __version__


def build_parser() -> argparse.ArgumentParser:
    from deeprnn.cli import demo

    parser = argparse.ArgumentParser(
        prog="deeprnn",
        description="Deep recurrent neural networks on PyTorch.",
        epilog="example: deeprnn demo --seconds 30",
    )
    parser.add_argument("--version", action="version", version=f"deeprnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
