"""The documentation: the mkdocs site builds with ``--strict`` (broken links, missing anchors and
references, docstrings mkdocstrings cannot render all fail), and the README stays what a visitor
needs first — small, with the two commands, and with no broken relative link."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results.md"

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _relative_links(markdown: str) -> list[str]:
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)  # links inside code blocks are code
    targets = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "//")):
            continue  # http:, https:, mailto: ... and in-page anchors
        targets.append(target)
    return targets


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]' installs it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr}\n{proc.stdout}"
    index = tmp_path / "index.html"
    assert index.is_file()
    # the equations reach the pages as arithmatex spans for MathJax, served by the site itself
    cells = (tmp_path / "concepts" / "cells" / "index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in cells
    assert (tmp_path / "javascripts" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    from deeprnn import __version__

    assert f"deeprnn {__version__}" in index.read_text(encoding="utf-8")  # the header's version
    changelog = (tmp_path / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "Unreleased" in changelog and "Keep a Changelog" in changelog  # CHANGELOG.md shown
    install = (tmp_path / "install" / "index.html").read_text(encoding="utf-8")
    install = re.sub(r"<[^>]+>", "", install)  # the text, without the highlighting's spans
    assert "python -m build" in install and "deeprnn[keras]" in install
    for page in tmp_path.rglob("*.html"):  # no page loads a script from the network
        html = page.read_text(encoding="utf-8")
        remote = re.findall(r'<script[^>]+src="(https?:[^"]+)"', html)
        assert not remote, f"{page.relative_to(tmp_path)} loads {remote}"
        fetched = [  # stylesheets, fonts, preconnects: not the canonical address
            tag for tag in re.findall(r"<link[^>]+>", html)
            if re.search(r'href="(https?:)?//', tag) and 'rel="canonical"' not in tag
        ]  # fmt: skip
        assert not fetched, f"{page.relative_to(tmp_path)} loads {fetched}"  # system fonts
    # search: the API pages of the public classes outrank the NumPy reference (Material
    # multiplies a page's score by its front-matter boost; the browser test runs the search)
    docs = json.loads((tmp_path / "search" / "search_index.json").read_text("utf-8"))["docs"]
    boost = {d["location"].split("#")[0]: d.get("boost", 1.0) for d in docs}
    assert boost["api/layers/"] > boost["api/deeprnn/"] >= 1.0 > boost["api/reference/"]
    assert any(d["location"] == "api/layers/#deeprnn.layers.LSTM" for d in docs)


def test_readme_is_small_and_shows_the_two_commands():
    data = README.read_bytes()
    assert len(data) < 12_000, f"README.md is {len(data):,} bytes; move detail into docs/"
    text = data.decode("utf-8")
    assert "make demo" in text
    assert "make test" in text


def test_readme_relative_links_exist():
    links = _relative_links(README.read_text(encoding="utf-8"))
    assert links, "README.md links nowhere (it should point to the docs)"
    missing = [t for t in links if not (README.parent / t.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_results_page_keeps_the_benchmark_markers():
    """benchmarks/accuracy.py and benchmarks/speed.py rewrite these blocks (--readme)."""
    text = RESULTS.read_text(encoding="utf-8")
    for name in ("accuracy", "speed", "multi30k"):
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        assert text.count(start) == 1 and text.count(end) == 1, name
        assert text.index(start) < text.index(end), name


def test_no_aligned_row_starts_with_a_bracket():
    """``\\begin{aligned}`` followed by a row that starts with ``[`` reads that row as the
    environment's optional argument, and the equation loses its first line: write ``{}[``."""
    import re

    pattern = re.compile(r"\\begin\{aligned\}\s*\n\s*\[")
    sources = [*ROOT.joinpath("docs").rglob("*.md"), *ROOT.joinpath("src").rglob("*.py")]
    bad = [str(p.relative_to(ROOT)) for p in sources if pattern.search(p.read_text("utf-8"))]
    assert not bad, f"aligned rows starting with '[' (write '{{}}[') in {bad}"


def test_design_layout_drawing_matches_the_tree():
    """docs/design.md's project layout names every package of src/deeprnn, and every package
    it names exists (so the drawing cannot drift from the tree)."""
    import re

    page = (ROOT / "docs" / "design.md").read_text("utf-8")
    block = page[
        page.index("```\nsrc/deeprnn/") : page.index("\ntests/", page.index("src/deeprnn/"))
    ]
    drawn = set(re.findall(r"^  ([a-z0-9_]+)/", block, flags=re.M))
    src = ROOT / "src" / "deeprnn"
    packages = {p.parent.name for p in src.glob("*/__init__.py")}
    assert drawn == packages, (
        f"drawn but absent: {drawn - packages}; absent from the drawing: {packages - drawn}"
    )
    for sub in ("forecast",):  # the task package
        assert f"{sub}/" in block and (src / "tasks" / sub / "__init__.py").is_file()
