"""The documentation site as a newcomer sees it, in headless Chromium at 1400 px: code blocks fit
their column (no horizontal scrolling), every equation is typeset by the site's own MathJax (no
network), no error text on the page, and the pages screenshot."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _services import unavailable

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update",
         "--disable-dev-shm-usage", "--window-size=1400,1000", "--virtual-time-budget=6000"]  # fmt: skip
# after load: count the code blocks wider than their box and the typeset / failed equations
PROBE = """<script>window.addEventListener('load', function () { setTimeout(function () {
var codes = Array.from(document.querySelectorAll('pre > code'));
var wide = codes.filter(function (c) { return c.scrollWidth > c.clientWidth + 1; }).length;
var maths = document.querySelectorAll('.arithmatex').length;
var done = document.querySelectorAll('.arithmatex mjx-container').length;
var errors = document.querySelectorAll('mjx-merror, [data-mjx-error]').length;
var prompts = codes.filter(function (c) { return c.textContent.indexOf('>>> ') >= 0; });
var copied = prompts.filter(function (c) {  // what Material's copy button takes
  c.setAttribute('data-md-copying', ''); var t = c.innerText; c.removeAttribute('data-md-copying');
  return t.indexOf('>>>') >= 0; }).length;
var d = document.createElement('div'); d.id = 'probe';
d.textContent = [codes.length, wide, maths, done, errors, prompts.length, copied].join(',');
document.body.appendChild(d); }, 1000); });</script>"""
PAGES = ["index", "getting-started", "cli", "concepts/cells", "concepts/bptt",
         "concepts/residual-normalisation", "api/layers", "guides/training", "tasks/forecast"]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        unavailable("chromium not installed (apt-get install chromium)")
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]' installs it)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _open(site: Path, page: str, tmp_path: Path) -> tuple[list[int], str]:
    html = site / page / "index.html" if page != "index" else site / "index.html"
    probed = html.with_name("probe.html")
    probed.write_text(html.read_text("utf-8").replace("</body>", PROBE + "</body>"), "utf-8")
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    proc = subprocess.run([CHROMIUM, *flags, "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<div id="probe">([\d,]+)</div>', proc.stdout)
    assert found, f"{page}: the probe did not run"
    return [int(v) for v in found.group(1).split(",")], proc.stdout


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_in_a_browser(site, page, tmp_path):
    (codes, wide, maths, typeset, errors, _prompts, copied), dom = _open(site, page, tmp_path)
    assert wide == 0, f"{page}: {wide} of {codes} code blocks scroll sideways at 1400 px"
    assert typeset == maths, f"{page}: {maths - typeset} of {maths} equations not typeset"
    assert errors == 0, f"{page}: {errors} equations with TeX errors"
    assert copied == 0, f"{page}: the copy button copies the >>> prompts of {copied} blocks"
    text = re.sub(r"<[^>]+>", " ", dom)
    for bad in ("Traceback (most recent call last)", "Error:", "NameError"):
        assert bad not in text, f"{page}: {bad!r} on the page"


def test_equations_pages_have_equations(site, tmp_path):
    (_, _, maths, typeset, *_), _ = _open(site, "concepts/cells", tmp_path)
    assert maths >= 5 and typeset == maths


def test_the_api_page_has_examples_whose_copy_leaves_the_prompts(site, tmp_path):
    (*_, prompts, copied), _ = _open(site, "api/layers", tmp_path)
    assert prompts >= 3 and copied == 0


def test_screenshots_of_home_api_and_concept_pages(site, tmp_path):
    for page in ("index", "api/layers", "concepts/cells"):
        html = site / page / "index.html" if page != "index" else site / "index.html"
        shot = tmp_path / (page.replace("/", "_") + ".png")
        flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}"]
        subprocess.run([CHROMIUM, *flags, html.as_uri()], capture_output=True, timeout=120)
        assert shot.is_file() and shot.stat().st_size > 20_000, page
