"""Serve MathJax from the site itself, so equations render offline (no CDN at reading time):
after the build, copy MathJax 3's self-contained ``tex-svg.js`` bundle (TeX input, SVG output,
fonts inside) from the ``django-static-mathjax`` package (MathJax's own files, packaged on PyPI;
a docs dependency in the ``dev`` extra) into ``site/javascripts/mathjax/``."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

BUNDLE = "tex-svg.js"
TARGET = Path("javascripts") / "mathjax" / BUNDLE


def bundle() -> Path:
    """The MathJax bundle on this machine (an error naming the package when it is missing)."""
    try:
        path = Path(str(files("mathjax") / "static" / "mathjax" / "es5" / BUNDLE))
    except ModuleNotFoundError as e:
        raise RuntimeError(
            "the docs need MathJax's files: pip install django-static-mathjax (in the dev extra)"
        ) from e
    if not path.is_file():
        raise RuntimeError(f"MathJax bundle not found at {path}")
    return path


def on_post_build(config, **kwargs) -> None:
    out = Path(config["site_dir"]) / TARGET
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle(), out)
