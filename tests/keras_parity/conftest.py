"""The Keras parity suite runs Keras 3 on its torch backend (set before Keras is imported)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")


def pytest_terminal_summary(terminalreporter):
    import sys

    helpers = sys.modules.get("_keras_helpers")
    diffs = getattr(helpers, "MAX_DIFF", None)
    if diffs:
        worst = max(diffs.items(), key=lambda kv: kv[1])
        terminalreporter.write_line(
            f"keras parity: {len(diffs)} comparisons, max abs difference {worst[1]:.3g} "
            f"({worst[0]})"
        )


def pytest_collection_modifyitems(items):
    import pytest

    here = os.path.dirname(__file__)
    noise = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(noise)
