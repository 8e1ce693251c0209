"""``deeprnn report``: one self-contained HTML page from a real (tiny) run folder, parsed and
rendered in headless Chromium; ``deeprnn plot`` on the same runs."""

import base64
import io
import itertools
import json
import re
import shutil
import subprocess
import sys
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
    assert "(None, 24, 16)" in text  # the summary probe is one input window long, not 20 steps
    assert "what you set" in text and "data.input_window" in text  # the config


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
    assert rows[1][2:] == ["—", "—", "—", "—"]  # accuracy: no baseline, no ratio
    _, rows = metrics_rows({"test_mse_scaled": 0.5, "test_naive_mse_scaled": 1.0})
    assert "2.00x better" in rows[0][3]  # a scaled error is still lower-is-better
    _, rows = metrics_rows({"test_acc": 0.9, "test_naive_acc": 0.6})
    assert "1.50x better" in rows[0][3]  # higher-is-better metrics get a ratio too


# -- what a newcomer reads first (issue 28) -----------------------------------------------------

ERROR_TEXT = re.compile(r"Traceback|\b[A-Z]\w*(Error|Exception)\b")


def sections(html_text: str) -> dict[str, str]:
    """``{heading: visible text}`` of every ``<section>`` of a report, in page order."""
    out = {}
    for body in re.findall(r"<section[^>]*>(.*?)</section>", html_text, flags=re.S):
        head = re.search(r"<h2>(.*?)</h2>", body)
        rest = body.replace(head.group(0), "", 1) if head else body
        text = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]*"', "", rest))
        has_img = "<img " in rest
        out[head.group(1) if head else "?"] = " ".join(text.split()) + (" [img]" if has_img else "")
    return out


def check_reads_well(path: Path, run: Path) -> dict[str, str]:
    """The checks every report passes: it leads with the Summary, no section is empty, no error
    text, no absolute path of this machine; returns the sections."""
    html_text = path.read_text(encoding="utf-8")
    secs = sections(html_text)
    assert next(iter(secs)) == "Summary", list(secs)
    for name, text in secs.items():
        assert text.strip(), f"section {name!r} is empty"
    visible = " ".join(parse(path).text)
    assert not ERROR_TEXT.search(visible), ERROR_TEXT.search(visible).group(0)
    assert str(run.resolve().parent) not in visible  # paths shown relative or shortened
    return secs


def test_forecast_report_leads_with_a_headline_against_its_baselines(runs, tmp_path):
    from deeprnn._headline import headline

    run = runs["forecast"]
    out = write_report(run, tmp_path / "f.html")
    secs = check_reads_well(out, run)
    metrics = json.loads((run / "metrics.json").read_text())
    lead = headline(metrics)
    assert " naive (" in lead and "seasonal naive (" in lead  # better / worse / level with
    assert secs["Summary"].startswith(lead)
    summary = secs["Summary"]
    for key in ("test_mse", "test_mse_scaled", "test_snaive_mae_scaled", "test_naive_mase"):
        assert f"{metrics[key]:.6g}" in summary, key  # raw and scaled, model and baselines
    html_text = out.read_text(encoding="utf-8")
    assert "<td></td>" not in html_text  # no blank cells: scaled metrics get their ratios too
    ratios = re.findall(r"\(\s*(\d+\.\d\dx (?:better|worse)|level)\s*\)", summary)
    assert len(ratios) >= 2 * 6, summary  # every baseline cell has its ratio
    assert "Plots" not in secs  # nothing else in the run folder: no empty Plots section
    # forecasts: one figure per target, named, from windows spread over the split it says
    pred = secs["Predictions"]
    caption = re.search(
        r"value: 3 windows spread over the test split \(44 windows\): (.*?) the model on", pred
    )
    assert caption, pred[:600]
    windows = re.findall(r"series (\w+), rows (\d+)", caption.group(1))
    assert len(set(windows)) == 3
    for (s1, r1), (s2, r2) in itertools.combinations(windows, 2):
        assert s1 != s2 or abs(int(r1) - int(r2)) > 1, windows  # not neighbours a step apart
    assert "examples of the test split" in pred and "last" in pred
    # the config: what was set, beside the defaults, paths relative to the run folder
    config = secs["Config"]
    assert re.search(r"data\.input_window 24 50", config)
    assert "../forecast_data/series.csv" in config and "the other" in config


def test_classifier_report_leads_with_a_headline_against_its_baselines(runs, tmp_path, monkeypatch):
    from deeprnn import _headline

    run = tmp_path / "classify"
    shutil.copytree(runs["classify"], run)
    metrics = json.loads((run / "metrics.json").read_text())
    if not _headline.baselines_of(metrics, "test_acc"):  # the task's own baselines, else one
        monkeypatch.setitem(_headline.BASELINES, "majority_", "majority class")
        metrics["test_majority_acc"] = 0.5
        (run / "metrics.json").write_text(json.dumps(metrics))
    label, base = next(iter(_headline.baselines_of(metrics, "test_acc").items()))
    out = write_report(run, tmp_path / "c.html")
    secs = check_reads_well(out, run)
    assert secs["Summary"].startswith(f"test acc {metrics['test_acc']:.4g}:")
    assert f"than {label} ({base:.4g})" in secs["Summary"]
    assert "Plots" not in secs
    assert "confusion matrix on the test split" in secs["Predictions"]
    steps = re.search(r"output shapes for one example of (\d+) steps", secs["Model"])
    assert steps, secs["Model"][:500]
    n = int(steps.group(1))  # the reviews have 3 to 9 words: the data's length, not 20 steps
    assert 3 <= n <= 9 and f"(None, {n}, 16)" in secs["Model"]


def test_curves_mark_the_kept_epoch_one_panel_per_quantity(runs, tmp_path, monkeypatch):
    from deeprnn.viz import curves

    figures = []
    real_save = curves.save
    monkeypatch.setattr(
        curves, "save", lambda fig, out: (figures.append(fig), real_save(fig, out))[1]
    )
    run = runs["forecast"]
    best = json.loads((run / "metrics.json").read_text())["training"]["best_epoch"]
    out = write_report(run, tmp_path / "f.html", predictions=False)
    assert (
        f"marks epoch {best}, the one kept (best val_loss)" in sections(out.read_text())["Curves"]
    )
    panels = [ax for ax in figures[0].axes if ax.get_visible() and ax.axison]
    titles = [ax.get_title() for ax in panels]
    assert titles == ["loss", "mae", "mase", "mse"], titles  # not mse_scaled (= loss) nor rmse
    for ax in panels:
        kept = [ln for ln in ax.get_lines() if ln.get_label() == f"kept: epoch {best}"]
        assert len(kept) == 1 and list(kept[0].get_xdata()) == [best, best], ax.get_title()
    with pytest.raises(ValueError, match="best_epoch must be an int >= 1"):
        curves.plot_curves(run, tmp_path / "c.png", best_epoch=0)


def test_architecture_in_call_order_not_declaration_order():
    import torch

    from deeprnn.models import FCN
    from deeprnn.viz import architecture_text, describe

    fcn = FCN(3, (8, 8, 8), (5, 3, 3))  # declares its convs, then its norms
    x, mask = torch.randn(2, 30, 3), torch.ones(2, 30, dtype=torch.bool)
    declared = [b.kind for b in describe(fcn)]
    called = [b.kind for b in describe(fcn, (x, mask))]
    assert sorted(declared) == sorted(called)
    assert called[:4] == ["Conv1D", "BatchNorm", "Conv1D", "BatchNorm"], called
    assert "Conv1D" in architecture_text(fcn, lambda: fcn(x, mask)).splitlines()[2]
    with pytest.raises(TypeError, match="example must be a tuple"):
        describe(fcn, example=x)


def test_a_part_that_cannot_be_drawn_says_why_in_one_plain_line(runs, tmp_path, monkeypatch):
    import deeprnn.summary  # noqa: F401 - the module, in sys.modules
    from deeprnn.report import _model_view

    def broken(*args, **kwargs):
        raise ValueError("x must have a multiple of segment_length=24 steps")

    monkeypatch.setattr(sys.modules["deeprnn.summary"], "summary", broken)
    out = write_report(runs["forecast"], tmp_path / "f.html", predictions=False)
    model = sections(out.read_text())["Model"]
    assert "the summary table not shown: x must have a multiple of segment_length=24" in model
    assert "ValueError" not in out.read_text()
    assert _model_view.probe_steps(load_forecast_model(runs["forecast"]), None)[0] == 24


def load_forecast_model(run):
    from deeprnn.report.predictions import load_run_model

    return load_run_model(run)


def test_segment_encoder_report_has_its_summary(tmp_path):
    from deeprnn.training import fit, run_config_from_dict

    quiet()
    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "seg", max_epochs=1)
    cfg["model"].update({"encoder": "segment", "segment_length": 12})
    fit(run_config_from_dict(cfg))
    out = write_report(tmp_path / "seg", tmp_path / "seg.html")
    secs = check_reads_well(out, tmp_path / "seg")
    assert "Total params" in secs["Model"] and "not shown" not in secs["Model"]
    # deeprnn summary RUN probes with the model's own input_window too (was 20 steps: an error)
    from deeprnn.cli import main

    assert main(["summary", str(tmp_path / "seg")]) == 0
