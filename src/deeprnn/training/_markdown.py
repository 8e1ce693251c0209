"""The Markdown table of a ``summary.md``: what k-fold (:mod:`deeprnn.training.runner.kfold`)
and a search (:mod:`deeprnn.training.search.tuner`) write beside their run folders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], align: str = ""
) -> list[str]:
    """The lines of a Markdown table: ``header``, the rule (``align`` ``":"`` right-aligns every
    column) and one line per row of cells (strings, already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + f"---{align}|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
