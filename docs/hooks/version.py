"""Show the package version in the site's header: the site name becomes ``deeprnn X.Y.Z``,
read from ``src/deeprnn/_version.py`` (the one place the version is written)."""

from __future__ import annotations

import re
from pathlib import Path

VERSION_FILE = Path(__file__).resolve().parents[2] / "src" / "deeprnn" / "_version.py"


def version() -> str:
    found = re.search(r'__version__ = "([^"]+)"', VERSION_FILE.read_text(encoding="utf-8"))
    if not found:
        raise RuntimeError(f"no __version__ in {VERSION_FILE}")
    return found.group(1)


def on_config(config, **kwargs):
    config["site_name"] = f"deeprnn {version()}"
    return config
