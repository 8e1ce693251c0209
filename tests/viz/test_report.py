"""``deeprnn report``: one self-contained HTML page from a real (tiny) run folder, parsed and
rendered in headless Chromium; ``deeprnn plot`` on the same runs."""

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _pngcheck import check_png
from _tiny import tiny_config

from deeprnn.cli import main
from deeprnn.cli._common import quiet
from deeprnn.report import write_report


def make_run(task: str, root: Path) -> Path:
    from deeprnn.training import fit, run_config_from_dict

    cfg = tiny_config(task, root / f"{task}_data", root / task, max_epochs=2)
    fit(run_config_from_dict(cfg))
    return root / task


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    quiet()
    root = tmp_path_factory.mktemp("runs")
    return {task: make_run(task, root) for task in ("forecast", "classify")}


class Page(HTMLParser):
    """Tags, attributes and visible text of an HTML page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, float)}


def test_report_is_self_contained_and_shows_the_metrics(runs):
    run = runs["forecast"]
    path = write_report(run)
    assert path == run / "report.html"
    page = parse(path)
    text = " ".join(page.text)
    metrics = numbers(json.loads((run / "metrics.json").read_text()))
    assert "test_mae" in metrics and "test_naive_mae" in metrics
    for key, value in metrics.items():
        assert f"{value:.6g}" in text, key  # every value, baselines included
    assert "seasonal naive" in text and "x better" in text
    imgs = [a["src"] for tag, a in page.tags if tag == "img"]
    assert len(imgs) >= 3  # curves, architecture, forecasts
    for src in imgs:
        assert src.startswith("data:image/png;base64,")
        check_png_bytes(base64.b64decode(src.split(",", 1)[1]))
    html_text = path.read_text(encoding="utf-8")
    assert '<img src="data:image/png;base64,' in html_text
    for tag, attrs in page.tags:  # nothing is fetched: no external resources at all
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"(https?:)?//", value), (tag, value)
        assert tag not in ("link", "script", "iframe"), tag
    assert "http://" not in html_text and "https://" not in html_text
    assert "Forecast: " in text and "Total params" in text  # architecture + summary table
    assert "task: forecast" in text  # the config


def check_png_bytes(data: bytes) -> None:
    from matplotlib.image import imread

    assert data.startswith(b"\x89PNG")
    img = imread(io.BytesIO(data))
    assert img.shape[0] > 50 and img[..., :3].std() > 0.02


def test_report_classify_confusion_samples_and_other_pngs(runs, tmp_path):
    run = tmp_path / "classify"
    shutil.copytree(runs["classify"], run)
    shutil.copy(Path(__file__).parent / "conftest.py", run / "not_a_plot.txt")
    check_png(main_plot(run, "--kind", "architecture", "--out", str(run / "my_arch.png")))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["samples"] = [{"input": "a fine film", "prediction": "pos-SAMPLE"}]
    (run / "metrics.json").write_text(json.dumps(metrics))
    out = write_report(run, tmp_path / "out" / "page.html", title="tiny classifier")
    page = parse(out)
    text = " ".join(page.text)
    assert "tiny classifier" in text
    assert "confusion matrix on the test split" in text
    assert "pos-SAMPLE" in text  # samples from metrics.json
    assert "my_arch.png" in text  # other *.png of the run folder
    assert f"{metrics['test_acc']:.6g}" in text
    assert re.search(r"encoder\.rnn\.blocks\.0 +LSTM  16 → 16", text)  # the layer list


def main_plot(run, *args):
    assert main(["plot", str(run), *args]) == 0
    return Path(args[-1]) if "--out" in args else run


def test_report_without_predictions_and_errors(runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(runs["classify"]), "--out", str(out), "--no-predictions"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert "confusion matrix" not in out.read_text()
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "not a deeprnn run folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="run folder not found"):
        write_report(tmp_path / "missing")


def test_plot_command_writes_what_applies(runs, tmp_path, capsys):
    run = runs["classify"]
    assert (
        main(["plot", str(run), "--out-dir", str(tmp_path), "--gradient-flow", "--steps", "30"])
        == 0
    )
    out = capsys.readouterr().out
    for name in ("curves", "architecture", "confusion", "gradient-flow"):
        assert f"wrote {tmp_path / name}.png" in out
        check_png(tmp_path / f"{name}.png")
    assert main(["plot", str(runs["forecast"]), "--out-dir", str(tmp_path / "f")]) == 0
    captured = capsys.readouterr()
    assert "skipped confusion" in captured.err and "architecture.png" in captured.out
    assert main(["plot", str(runs["forecast"]), "--kind", "confusion"]) == 2
    assert "cannot plot confusion" in capsys.readouterr().err
    assert main(["plot"]) == 2
    assert main(["plot", str(run), "--out", str(tmp_path / "x.png")]) == 2  # several kinds


CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=3000",
]
# after load: write each image's natural width into the DOM, so --dump-dom shows them
PROBE = (
    "<script>window.addEventListener('load', function () {"
    "var d = document.createElement('div'); d.id = 'img-widths';"
    "d.textContent = Array.from(document.images).map(function (i) {"
    "return i.complete ? i.naturalWidth : 0; }).join(',');"
    "document.body.appendChild(d); });</script>"
)


def test_report_renders_in_headless_chromium(runs, tmp_path):
    if CHROMIUM is None:
        from _services import unavailable

        unavailable("chromium not installed (apt-get install chromium)")
    run = runs["forecast"]
    report = write_report(run, tmp_path / "report.html")
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"), encoding="utf-8")
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    proc = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    widths = re.search(r'<div id="img-widths">([\d,]*)</div>', dom)
    assert widths, dom[-2000:]
    widths = [int(w) for w in widths.group(1).split(",")]
    assert len(widths) == report.read_text().count("<img ") >= 3
    assert all(w > 200 for w in widths), widths  # every image decoded
    metrics = numbers(json.loads((run / "metrics.json").read_text()))
    for key in ("test_mae", "test_naive_mae", "test_snaive_mase"):
        assert f"{metrics[key]:.6g}" in dom
    shot = tmp_path / "screenshot.png"
    proc = subprocess.run(
        [CHROMIUM, *flags, "--window-size=1280,2400", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    check_png(shot, min_bytes=50_000)


@pytest.mark.parametrize("command", ["plot", "report"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"deeprnn {command} runs/" in out


def test_metrics_rows_put_baselines_beside_the_model():
    from deeprnn.report import metrics_rows

    metrics = {
        "test_mae": 2.0,
        "test_naive_mae": 4.0,
        "test_snaive_mae": 1.0,
        "test_acc": 0.9,
        "samples": ["abc"],
        "test_flag": True,
    }
    header, rows = metrics_rows(metrics)
    assert header == ["metric", "model", "naive", "seasonal naive", "vs naive", "vs seasonal naive"]
    assert [r[0] for r in rows] == ["test_mae", "test_acc"]  # no baselines / non-numbers
    mae = rows[0]
    assert mae[1:4] == [2.0, 4.0, 1.0]
    assert "2.00x better" in mae[4] and "2.00x worse" in mae[5]
    assert rows[1][2:] == ["", "", "", ""]  # accuracy: no baseline, no ratio
