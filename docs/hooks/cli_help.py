"""Keep ``docs/cli.md`` equal to the CLI: every ``## deeprnn COMMAND`` section's first ``text``
block is that command's ``--help`` (argparse at 100 columns), and a command without a section
gets one before "Everyday commands". ``python docs/hooks/cli_help.py`` rewrites the page;
``tests/cli/test_cli_docs.py`` fails when the page and the CLI disagree."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "cli.md"
WIDTH = "100"
FENCE = "```"
# commands that hand their arguments on: the page shows the script's own help instead
FORWARDS = {"bench": "benchmarks/speed.py --help"}


def help_text(command: str | None) -> str:
    """``deeprnn [COMMAND] --help`` as the terminal shows it at 100 columns."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        from deeprnn.cli import build_parser

        parser = build_parser()
        if command is not None:
            parser = parser._subparsers._group_actions[0].choices[command]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            parser.print_help()
        return buf.getvalue().rstrip() + "\n"
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def commands() -> list[str]:
    from deeprnn.cli import build_parser

    return list(build_parser()._subparsers._group_actions[0].choices)


def _replace_block(section: str, text: str) -> str:
    start = section.find(f"{FENCE}text\n")
    if start < 0:  # a section without a help block gets one after its first paragraph
        head, _, tail = section.partition("\n\n")
        return f"{head}\n\n{FENCE}text\n{text}{FENCE}\n\n{tail}"
    end = section.index(f"{FENCE}\n", start + 8)
    return section[: start + 8] + text + section[end:]


def render(page: str) -> str:
    """The page with every help block brought up to date and a section per command."""
    parts = re.split(r"(?m)^(?=## )", page)
    intro, sections = parts[0], parts[1:]
    intro = _replace_block(intro, help_text(None))
    named = {}
    for i, s in enumerate(sections):
        m = re.match(r"## deeprnn (\w+)", s)
        if m:
            named[m.group(1)] = i
    for cmd in commands():
        if cmd in named and cmd in FORWARDS:
            continue
        if cmd in named:
            i = named[cmd]
            sections[i] = _replace_block(sections[i], help_text(cmd))
            continue
        parser_help = help_text(cmd)
        new = f"## deeprnn {cmd}\n\n{FENCE}text\n{parser_help}{FENCE}\n\n"
        at = next((i for i, s in enumerate(sections) if not s.startswith("## deeprnn ")), None)
        sections.insert(len(sections) if at is None else at, new)
        named = {k: (v + 1 if at is not None and v >= at else v) for k, v in named.items()}
    return intro + "".join(sections)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    new = render(PAGE.read_text(encoding="utf-8"))
    PAGE.write_text(new, encoding="utf-8")
    print(f"wrote {PAGE}")
