"""docs/cli.md shows every command's ``--help`` as the CLI prints it (regenerate the page with
``python docs/hooks/cli_help.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _hook():
    spec = importlib.util.spec_from_file_location("cli_help", PAGE.parent / "hooks" / "cli_help.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_cli_page_is_the_cli_help():
    hook = _hook()
    page = PAGE.read_text(encoding="utf-8")
    assert hook.render(page) == page, "docs/cli.md is stale: run python docs/hooks/cli_help.py"
    for cmd in hook.commands():
        assert f"## deeprnn {cmd}\n" in page


def test_render_adds_a_missing_command_and_updates_a_stale_block():
    hook = _hook()
    page = PAGE.read_text(encoding="utf-8")
    stale = page.replace(hook.help_text("predict"), "usage: deeprnn predict (old)\n")
    a = stale.index("## deeprnn import")
    b = stale.index("## deeprnn tune")
    stale = stale[:a] + stale[b:]
    assert stale != page
    fixed = hook.render(stale)
    assert hook.help_text("predict") in fixed and "(old)" not in fixed
    assert "## deeprnn import\n" in fixed and hook.help_text("import") in fixed
