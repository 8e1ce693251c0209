"""metrics.json says what every split was (issue 26 "numbers a user can trust", part 1): the
file or the carve-out of one, its size, and any fallback; a test metric is never silently a
validation metric; ``deeprnn evaluate --data.test_path FILE`` records FILE."""

from __future__ import annotations

import html
import json
import logging
import random

import pytest
from _tiny import reader_splits, tiny_config, write_ner, write_reviews, write_series

from deeprnn.cli import main
from deeprnn.report import write_report
from deeprnn.tasks import ClassifyData, ClassifyDataConfig, LMData, LMDataConfig
from deeprnn.tasks._data import NO_TEST, SPLITS
from deeprnn.tasks.forecast import ForecastData, ForecastDataConfig
from deeprnn.tasks.regress_data import RegressData, RegressDataConfig
from deeprnn.tasks.seq2seq_data import Seq2SeqData, Seq2SeqDataConfig
from deeprnn.tasks.tag_data import TagData, TagDataConfig
from deeprnn.training import fit_run, run_config_from_dict


def _fit(cfg: dict):
    return fit_run(run_config_from_dict(cfg))


def test_metrics_json_says_what_each_split_was(tmp_path):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run")
    result = _fit(cfg)
    written = json.loads((result.run_dir / "metrics.json").read_text())
    assert written["data"] == result.metrics["data"]
    data = written["data"]
    csv = cfg["data"]["path"]
    assert data["train"] == {
        "source": f"{csv}: 160 of its 200 rows (a 0.8 fraction, shuffled with seed 0: "
        "positions [0, 160) of that order)",
        "examples": 160,
        "unit": "examples",
    }
    for split in ("val", "test"):
        assert data[split]["source"].startswith(f"{csv}: 20 of its 200 rows (a 0.1 fraction")
        assert data[split]["examples"] == len(result.datamodule.splits[split]) == 20
        assert "fallback" not in data[split]
    assert not any("validation split" in w and "test" in w for w in written["warnings"])


def test_no_test_split_is_a_recorded_fallback_a_warning_and_a_console_line(tmp_path, caplog):
    cfg = tiny_config("lm", tmp_path / "data", tmp_path / "run")  # test_fraction 0: no test
    with caplog.at_level(logging.WARNING, logger="deeprnn.training"):
        result = _fit(cfg)
    test = result.metrics["data"]["test"]
    assert test == {
        "source": NO_TEST,
        "examples": result.metrics["data"]["val"]["examples"],
        "unit": "documents",
        "fallback": "val",
    }
    said = [w for w in result.metrics["warnings"] if w.startswith("test metrics are computed")]
    assert len(said) == 1 and "on the validation split (20 documents)" in said[0]
    assert said == [w for w in result.warnings if w.startswith("test metrics")]
    assert any(said[0] in r.getMessage() for r in caplog.records)


def test_evaluate_with_a_test_path_records_the_file_it_evaluated_on(tmp_path, capsys):
    """``data.path`` + ``data.test_path``: the test split is that file (it was ignored for the
    carved test split of ``data.path``, silently), and metrics.json / --out say so."""
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=1)
    result = _fit(cfg)
    other = write_reviews(tmp_path / "other.csv", n=37, seed=5)
    out = tmp_path / "eval.json"
    args = ["evaluate", str(result.run_dir), "--data.test_path", str(other), "--out", str(out)]
    assert main(args) == 0
    metrics = json.loads(out.read_text())
    assert metrics["data"]["test"] == {"source": str(other), "examples": 37, "unit": "examples"}
    printed = capsys.readouterr().out
    assert str(other) in printed
    # the number is the file's: the same model on the rows of other.csv, by hand
    from deeprnn.training import open_run

    saved = open_run(result.run_dir)
    dm = saved.datamodule([("data.test_path", str(other))])
    assert [y for _, y in dm.splits["test"]] == [
        dm.artifacts["labels"].index(line.rsplit(",", 1)[1])
        for line in other.read_text().splitlines()[1:]
    ]


def test_tag_path_with_a_test_path_tests_on_that_file(tmp_path):
    base = write_ner(tmp_path / "base.txt", sentences=60)
    test = write_ner(tmp_path / "test.txt", sentences=13, seed=3)
    dm = TagData(TagDataConfig(path=str(base), test_path=str(test))).prepare()
    assert dm.provenance()["test"] == {"source": str(test), "examples": 13, "unit": "sentences"}
    assert dm.provenance()["train"]["source"].startswith(f"{base}: 54 of its 60 sentences")


def _tag(tmp_path):
    path = write_ner(tmp_path / "ner.txt")
    return TagData(TagDataConfig(path=str(path)))


def _classify_folder(tmp_path):
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = tmp_path / "corpus" / split / label
            folder.mkdir(parents=True)
            for i in range(12):
                (folder / f"{i}.txt").write_text(f"{label} words {i}", encoding="utf-8")
    return ClassifyData(ClassifyDataConfig(source="folder", path=str(tmp_path / "corpus")))


def _seq2seq_csv(tmp_path):
    rng = random.Random(0)
    rows = ["source,target"]
    for _ in range(40):
        word = "".join(rng.choice("abc") for _ in range(4))
        rows.append(f"{word},{word[::-1]}")
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    return Seq2SeqData(Seq2SeqDataConfig(source="csv", path=str(tmp_path / "pairs.csv")))


MODULES = {
    "classify synthetic": lambda p: ClassifyData(ClassifyDataConfig(num_examples=50)),
    "classify csv": lambda p: ClassifyData(
        ClassifyDataConfig(source="csv", path=str(write_reviews(p / "r.csv")))
    ),
    "classify folder": _classify_folder,
    "classify reader": lambda p: ClassifyData(
        ClassifyDataConfig(source="reader", reader="_tiny:reader_splits")
    ),
    "classify k-fold": lambda p: ClassifyData(ClassifyDataConfig(num_examples=50, folds=5, fold=1)),
    "tag": _tag,
    "lm": lambda p: LMData(LMDataConfig(path=str(_text(p)), test_fraction=0.1)),
    "regress": lambda p: RegressData(RegressDataConfig(sizes=[40, 10, 10], sequence_length=4)),
    "seq2seq synthetic": lambda p: Seq2SeqData(Seq2SeqDataConfig(synthetic_sizes=[40, 10, 10])),
    "seq2seq csv": _seq2seq_csv,
    "forecast sines": lambda p: ForecastData(ForecastDataConfig(num_series=60, input_window=5)),
    "forecast csv": lambda p: ForecastData(
        ForecastDataConfig(
            source="csv",
            path=str(write_series(p / "s.csv", steps=60)),
            series_column="id",
            covariates=["temp"],
            input_window=6,
            horizon=2,
            seasonality=12,
        )
    ),
    "forecast csv dated": lambda p: ForecastData(
        ForecastDataConfig(
            source="csv",
            path=str(_dated(p / "d.csv")),
            time_column="time",
            input_window=6,
            horizon=2,
        )
    ),
    "forecast reader arrays": lambda p: ForecastData(
        ForecastDataConfig(
            source="reader",
            reader="_tiny:forecast_reader",
            reader_args={"form": "arrays"},
            covariates=["temp"],
            input_window=6,
            horizon=2,
        )
    ),
}


def _dated(path):
    """One hourly series with a time column."""
    rows = ["time,value"] + [
        f"2024-01-{1 + h // 24:02d} {h % 24:02d}:00:00,{(h * 7) % 11}" for h in range(120)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _text(folder):
    path = folder / "text.txt"
    path.write_text("".join(f"line {i} of the text " for i in range(100)))
    return path


@pytest.mark.parametrize("name", list(MODULES))
def test_every_data_module_says_where_each_split_came_from(name, tmp_path):
    dm = MODULES[name](tmp_path).prepare()
    prov = dm.provenance()
    assert list(prov) == list(SPLITS)
    for split, entry in prov.items():
        source = entry["source"]
        assert "T00:00:00.0" not in source, source  # stamps as a person reads them
        assert source and not source.startswith(f"the {split!r} split of data.source"), source
        if entry.get("fallback"):
            assert split == "test" and source == NO_TEST and not dm.splits.get("test")
            assert entry["examples"] == dm.split_size("val")[0]
        else:
            assert entry["examples"] == dm.split_size(split)[0] > 0, split
    # val and test cut by equal fractions are told apart (the part of the seeded order each is)
    own = [e["source"] for e in prov.values() if not e.get("fallback")]
    assert len(set(own)) == len(own), own
    if name == "classify k-fold":
        assert prov["val"]["source"].startswith("fold 1 of 5 folds of train + val + test")
        assert prov["test"]["fallback"] == "val"  # the fold is the test split: said
    if name == "forecast csv dated":
        assert (
            "(2024-01-" in prov["test"]["source"] and ":00:00 to 2024-01-" in prov["test"]["source"]
        )
    if name == "classify reader":
        assert prov["test"]["source"] == "the 'test' split of data.reader _tiny:reader_splits()"
        assert prov["test"]["examples"] == len(reader_splits()["test"])


def test_the_report_shows_what_each_split_was_and_the_warnings(tmp_path):
    cfg = tiny_config("lm", tmp_path / "data", tmp_path / "run", max_epochs=1)
    result = _fit(cfg)
    page = write_report(result.run_dir, predictions=False).read_text(encoding="utf-8")
    assert "<th>split</th><th>computed on</th><th>examples</th>" in page
    assert f"<td>test</td><td>{NO_TEST}</td>" in page
    box = page[page.index('<div class="warnings"') : page.index("</div>")]
    assert page.index('<div class="warnings"') < page.index('<section id="metrics">')
    for line in result.metrics["warnings"]:
        assert html.escape(line) in box
    assert f"{len(result.metrics['warnings'])} warnings about this run" in box
