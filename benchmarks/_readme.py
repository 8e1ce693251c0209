"""One helper for the benchmark scripts: rewrite a results block between its markers.

The result tables live in docs/results.md (the documentation site's Results page); the README
shows a short summary of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deeprnn._persist import atomic_write_text  # noqa: E402


def write_block(name: str, body: str, readme: Path = ROOT / "docs" / "results.md") -> None:
    """Replace what lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` by ``body``
    (atomically); exit with a message when the markers are missing."""
    text = readme.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{readme.name} has no {name}:start / {name}:end markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    atomic_write_text(readme, f"{head}{start}\n{body}{end}{tail}")
