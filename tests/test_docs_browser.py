"""The documentation site as a newcomer sees it, in headless Chromium at 1400 px: code blocks fit
their column (no horizontal scrolling), every equation is typeset by the site's own MathJax (no
network), no error text on the page, and the pages screenshot. The site is also served over HTTP
under a sub-path (as a deployment would) for the search (searching "LSTM" finds
``deeprnn.layers.LSTM`` first, before the NumPy reference), the 404 page and the source link;
and a run report of a tiny run is opened at the same width."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

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
SUB = "/sub/deeprnn/"  # the site served under a sub-path, as a deployment may
REPO = "https://git.example.org/deeprnn"
PAGES = ["index", "getting-started", "cli", "concepts/cells", "concepts/bptt",
         "concepts/residual-normalisation", "api/layers", "guides/training", "tasks/forecast"]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        unavailable("chromium not installed (apt-get install chromium)")
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]' installs it)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DEEPRNN_DOCS_URL": f"http://127.0.0.1{SUB}",
           "DEEPRNN_REPO_URL": REPO}  # fmt: skip
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


# -- served over HTTP under a sub-path: search, 404, the source link ---------------------------

# ask Material's search (its web worker, its index) for a query; report the result links to the
# server, which holds the page's load event (an image) until they came, so --dump-dom waits
SEARCH = """<script>document.addEventListener('DOMContentLoaded', function () {
var el = document.querySelector('.md-search__input'), tries = 0;
function ask() { el.focus(); el.value = %s;
  el.dispatchEvent(new KeyboardEvent('keyup', {key: 'M', bubbles: true})); }
function poll() { tries += 1;
  var links = Array.from(document.querySelectorAll('.md-search-result__item a'));
  if (links.length || tries > 150) {
    fetch('__result?r=' + encodeURIComponent(JSON.stringify(links.map(function (a) {
      return a.getAttribute('href'); })))); }
  else { if (tries %% 5 == 1) ask(); setTimeout(poll, 200); } }
setTimeout(poll, 300); });</script><img src="__wait" alt="">"""


class _Served:
    """The built site over HTTP at ``http://127.0.0.1:PORT/sub/deeprnn/``; a missing page gets
    the site's 404.html with status 404, as a static host serves it."""

    def __init__(self, site: Path):
        self.site, self.results, self.done = site, {}, threading.Event()
        self.query = ""
        served = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_body(self, status: int, body: bytes, kind: str = "text/html") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                if not url.path.startswith(SUB):
                    return self.send_body(404, b"outside the sub-path")
                rel = url.path[len(SUB) :]
                if rel == "__result":
                    served.results["links"] = json.loads(parse_qs(url.query)["r"][0])
                    served.done.set()
                    return self.send_body(204, b"")
                if rel == "__wait":
                    served.done.wait(60)
                    return self.send_body(204, b"")
                if rel == "__search.html":
                    page = (site / "index.html").read_text("utf-8")
                    probe = SEARCH % json.dumps(served.query)
                    return self.send_body(200, page.replace("</body>", probe + "</body>").encode())
                target = site / rel
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    return self.send_body(404, (site / "404.html").read_bytes())
                self.path = "/" + rel + ("index.html" if rel.endswith("/") or not rel else "")
                return super().do_GET()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # Chromium closing a connection mid-file (it has what it needs) is not an error
                # of the site; anything else is still printed
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SUB}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def search(self, query: str, tmp_path: Path) -> list[str]:
        self.query, self.results = query, {}
        self.done.clear()
        flags = [*FLAGS[:-1], f"--user-data-dir={tmp_path / 'profile'}"]  # real time: a worker
        subprocess.run([CHROMIUM, *flags, "--dump-dom", self.url + "__search.html"],
                       capture_output=True, timeout=120)  # fmt: skip
        assert self.done.is_set(), f"the search for {query!r} never answered"
        return [urlparse(link).fragment for link in self.results["links"]]


@pytest.fixture(scope="module")
def served(site):
    server = _Served(site)
    yield server
    server.server.shutdown()


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("LSTM", "deeprnn.layers.LSTM"),
        ("GRU", "deeprnn.layers.GRU"),
        ("DeepRNN", "deeprnn.layers.DeepRNN"),
    ],
)
def test_search_ranks_the_public_classes_first(served, tmp_path, query, first):
    hits = [h for h in served.search(query, tmp_path) if h]  # "" is a page's own entry
    assert hits, f"no results for {query!r}"
    assert hits[0] == first, f"searching {query!r} lists {hits[:5]} first"
    if query == "LSTM":  # the NumPy reference comes after the layers
        ref = [i for i, h in enumerate(hits) if h.startswith("deeprnn.reference")]
        assert not ref or ref[0] > hits.index(first)


def test_404_works_under_a_sub_path_and_the_header_links_the_source(served, site):
    from urllib.error import HTTPError
    from urllib.request import urlopen

    with pytest.raises(HTTPError) as err:
        urlopen(served.url + "no/such/page/")
    assert err.value.code == 404
    page = err.value.read().decode("utf-8")
    assets = re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js))"', page)
    assert assets and all(a.startswith(SUB) for a in assets), assets
    for asset in assets:  # every stylesheet and script of the 404 page loads from there
        with urlopen(f"http://127.0.0.1:{served.server.server_address[1]}{asset}") as r:
            assert r.status == 200, asset
    home = (site / "index.html").read_text("utf-8")
    assert f'href="{REPO}"' in home and "md-source" in home  # the source link in the header
    assert "fonts.googleapis.com" not in home  # nothing fetched from elsewhere


# -- a run report at the same width --------------------------------------------------------------

REPORT_PROBE = """<script>window.addEventListener('load', function () {
var root = document.documentElement, wide = [];
document.querySelectorAll('section, pre, table, img, figure').forEach(function (el) {
  var box = el.closest('section') || document.body;
  if (el.getBoundingClientRect().right > box.getBoundingClientRect().right + 1 &&
      !(el.parentElement && getComputedStyle(el.parentElement).overflowX === 'auto')) {
    wide.push(el.tagName); } });
var head = document.querySelector('.headline');
var d = document.createElement('div'); d.id = 'probe';
d.textContent = JSON.stringify({page: root.scrollWidth - root.clientWidth, wide: wide,
  headline: head ? head.textContent : '', first: document.querySelector('section h2').textContent});
document.body.appendChild(d); });</script>"""


def test_a_run_report_reads_at_1400_px(tmp_path):
    if CHROMIUM is None:
        unavailable("chromium not installed (apt-get install chromium)")
    sys.path.insert(0, str(ROOT / "tests" / "tasks"))
    from _tiny import tiny_config

    from deeprnn._headline import headline
    from deeprnn.cli._common import quiet
    from deeprnn.report import write_report
    from deeprnn.training import fit, run_config_from_dict

    quiet()
    fit(run_config_from_dict(tiny_config("forecast", tmp_path / "data", tmp_path / "run")))
    report = write_report(tmp_path / "run")
    probed = tmp_path / "probed.html"
    probed.write_text(
        report.read_text("utf-8").replace("</body>", REPORT_PROBE + "</body>"), "utf-8"
    )
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    proc = subprocess.run([CHROMIUM, *flags, "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    found = re.search(r'<div id="probe">([^<]*)</div>', proc.stdout)
    assert found, proc.stderr[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["page"] <= 0, f"the report scrolls sideways by {probe['page']} px"
    assert not probe["wide"], f"wider than their section: {probe['wide']}"
    assert probe["first"] == "Summary"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert probe["headline"].strip() == headline(metrics)
    assert "seasonal naive (" in probe["headline"]
    text = re.sub(r"<[^>]+>", " ", proc.stdout.replace(found.group(0), ""))
    for bad in ("Traceback", "Error", "Exception"):
        assert bad not in text, f"{bad!r} in the report"
    shot = tmp_path / "report.png"
    flags = [*flags, f"--screenshot={shot}", "--window-size=1400,3000"]
    subprocess.run([CHROMIUM, *flags, report.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 50_000
