"""The task pages are a contract (issue 26, "every documented path is exercised"): every key of
every ``data`` / ``model`` table of ``docs/tasks/*.md``, every ``model.input`` / ``model.rnn`` key
of ``docs/tasks/index.md`` and every ``data.source`` a page lists is run end to end here: a short
run (two optimizer steps on CPU) on files this test writes, through the CLI's ``deeprnn train``,
then ``deeprnn evaluate`` on the run folder and ``deeprnn predict`` on its export folder.

* The registry (``DATA``, ``MODEL``, ``SOURCES``, ``SHARED`` below) names, for each documented
  key, the scenario that sets it to a value other than its default. A key documented but not in
  the registry fails :func:`test_every_documented_key_has_a_scenario`, and so does a key in the
  registry that no page documents: docs and registry stay in step.
* Each scenario checks what its keys did (a label column read, a vocabulary capped, tags
  converted ...) and, for every path-like key, writes train / val / test files of different
  sizes and checks from ``metrics.json["data"]`` that each split's numbers were computed on the
  file it claims (the source names that file, the example count is the file's): a ``test_*``
  metric is never silently a validation one. ``deeprnn evaluate`` must reproduce the run's test
  metrics on the same data.
* Every documented default equals the config schema's (:func:`test_documented_defaults`).

A scenario runs once (module cache) however many keys name it; the file takes about a minute.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from _docs_tables import (
    NO_DEFAULT,
    SHARED,
    TASKS,
    data_keys,
    model_keys,
    shared_keys,
    sources,
)

from deeprnn._schema import to_dict
from deeprnn.cli import main
from deeprnn.tasks.registry import get_task

ME = __name__  # readers below are "test_docs_contract:function"

# -- data the scenarios write -------------------------------------------------------------------

POS, NEG = ["good", "great", "fine"], ["bad", "awful", "poor"]
FILLER = ["the", "film", "was", "plot", "and", "actors", "very", "quite"]


def reviews(path: Path, n: int, seed: int, text="text", label="label", classes=2, rare="") -> Path:
    """A CSV of ``n`` reviews (``text`` column) and their sentiment (``label``); ``classes=3``
    adds a neutral class; ``rare`` is a word written once (in the first row)."""
    rng = random.Random(seed)
    rows = [f"{text},{label}"]
    for i in range(n):
        k = i % classes
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 6))]
        if k < 2:
            words.insert(rng.randrange(len(words) + 1), rng.choice(POS if k == 0 else NEG))
        if i == 0 and rare:
            words.append(rare)
        rows.append(f"{' '.join(words)},{['pos', 'neg', 'neu'][k]}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


NAMES = ["Alice", "Bob", "Carol", "Dave"]
PLACES = ["Paris", "Rome", "Oslo"]
WORDS = ["went", "to", "the", "market", "in", "saw", "and", "met", "a", "dog", "Room42"]


def conll_sentences(n: int, seed: int, iob1: bool = False) -> list[list[tuple[str, str]]]:
    """``n`` sentences of (token, tag); names PER, places LOC (two-word names ``I-`` inside);
    ``iob1``: CoNLL-2003's IOB1 tags (an entity starts with ``I-``)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sent = []
        for _ in range(rng.randint(3, 7)):
            r = rng.random()
            if r < 0.25:
                first = "I-PER" if iob1 else "B-PER"
                sent += [(rng.choice(NAMES), first), ("Smith", "I-PER")]
            elif r < 0.4:
                sent.append((rng.choice(PLACES), "I-LOC" if iob1 else "B-LOC"))
            else:
                sent.append((rng.choice(WORDS), "O"))
        out.append(sent)
    return out


def conll(path: Path, n: int, seed: int, iob1: bool = False, layout: str = "tok pos tag") -> Path:
    """A CoNLL file of ``n`` sentences; ``layout`` orders the columns (``idx tok tag`` ...)."""
    lines = ["-DOCSTART- -X- O", ""]
    for sent in conll_sentences(n, seed, iob1):
        for i, (tok, tag) in enumerate(sent):
            cols = {"tok": tok, "pos": "X", "tag": tag, "idx": str(i)}
            lines.append(" ".join(cols[c] for c in layout.split()))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def text_lines(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    stems = ["anna", "bella", "carla", "diana", "emma", "fiona", "gina"]
    path.write_text("\n".join(rng.choice(stems) for _ in range(n)) + "\n", encoding="utf-8")
    return path


def prose(n_words: int, seed: int, para: int = 0) -> str:
    """Sentences of a small vocabulary, one per line; a blank line every ``para`` lines."""
    rng = random.Random(seed)
    vocab = ["The", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "Away", "home"]
    lines, line = [], []
    for _ in range(n_words):
        line.append(rng.choice(vocab))
        if len(line) == 6:
            lines.append(" ".join(line))
            line = []
            if para and len(lines) % (para + 1) == para:
                lines.append("")
    return "\n".join(lines) + "\n"


def pairs_of(n: int, seed: int) -> list[tuple[str, str]]:
    """(source, target) sentence pairs: the target is the source reversed, upper-cased."""
    rng = random.Random(seed)
    words = ["red", "cat", "blue", "dog", "sees", "a", "the", "big", "small"]
    out = []
    for _ in range(n):
        src = [rng.choice(words) for _ in range(rng.randint(2, 6))]
        out.append((" ".join(src), " ".join(w.upper() for w in reversed(src))))
    return out


def seq_csv(path: Path, n: int, seed: int, src="source", tgt="target") -> Path:
    lines = [f"{src},{tgt}"] + [f"{a},{b}" for a, b in pairs_of(n, seed)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hourly(path: Path, steps: int = 120, series=("a", "b"), gaps=(), header=True) -> Path:
    """Hourly series ``series`` of a daily-seasonal ``value`` with covariates ``temp``
    (past-only), ``promo`` (known ahead), ``size`` (static per series), ``kind`` (a category,
    numeric code) and ``year, month, day, hour`` columns; ``gaps``: (series, step) rows left
    out, so the time stamps skip an hour there."""
    rng = random.Random(len(series))
    head = "id,time,year,month,day,hour,value,temp,promo,size,kind"
    lines = [head] if header else []
    for j, sid in enumerate(series):
        for t in range(steps):
            if (sid, t) in gaps:
                continue
            day, hour = 1 + t // 24, t % 24
            temp = math.cos(2 * math.pi * t / 24)
            promo = int(rng.random() < 0.3)
            value = 10 + 3 * math.sin(2 * math.pi * t / 24 + j) + 2 * promo + 0.5 * temp
            lines.append(
                f"{sid},2024-01-{day:02d} {hour:02d}:00:00,2024,1,{day},{hour},"
                f"{value:.4f},{temp:.4f},{promo},{10 * (j + 1)},{j % 2}"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def history(path: Path, source: Path, sid: str, last: int, future: int = 0) -> Path:
    """The last ``last`` rows of series ``sid`` of the CSV ``source`` as a predict history,
    and ``future`` rows after it with the covariates only (the target left empty)."""
    head, *rows = source.read_text().splitlines()
    rows = [r for r in rows if r.split(",")[0] == sid]
    cut = len(rows) - future
    out = rows[cut - last : cut]
    value = head.split(",").index("value")
    for r in rows[cut:]:
        cells = r.split(",")
        cells[value] = ""
        out.append(",".join(cells))
    path.write_text("\n".join([head, *out]) + "\n")
    return path


# -- readers the scenarios name (``data.reader: "test_docs_contract:NAME"``) ---------------------


def classify_reader(n_train: int, n_val: int, n_test: int) -> dict:
    rng = random.Random(3)
    items = []
    for _ in range(n_train + n_val + n_test):
        first = rng.choice(["yes", "no"])
        items.append(([first, *rng.choices(WORDS, k=rng.randint(0, 4))], first))
    a, b = n_train, n_train + n_val
    return {"train": items[:a], "val": items[a:b], "test": items[b:]}


def tag_reader(sizes: list[int]) -> dict:
    out = {}
    for split, n, seed in zip(("train", "val", "test"), sizes, (0, 1, 2)):
        out[split] = [([t for t, _ in s], [g for _, g in s]) for s in conll_sentences(n, seed)]
    return out


def lm_reader(sizes: list[int]) -> dict:
    return {
        s: [line for line in prose(6 * n, i).splitlines() if line]
        for i, (s, n) in enumerate(zip(("train", "val", "test"), sizes))
    }


def regress_reader(sizes: list[int], steps: int = 6) -> dict:
    """The mean of a sequence's two features: ``(x (T, 2), y)``."""
    rng = random.Random(5)
    out = {}
    for split, n in zip(("train", "val", "test"), sizes):
        items = []
        for _ in range(n):
            x = [[rng.random(), rng.random()] for _ in range(rng.randint(2, steps))]
            items.append((x, sum(a + b for a, b in x) / (2 * len(x))))
        out[split] = items
    return out


def seq2seq_reader(sizes: list[int]) -> dict:
    return {s: pairs_of(n, i) for i, (s, n) in enumerate(zip(("train", "val", "test"), sizes))}


def forecast_series_reader(lengths: dict) -> dict:
    """Splits of (T, 2) arrays (value, temp), one series per split and length."""
    import numpy as np

    out = {}
    for split, steps in lengths.items():
        t = np.arange(steps)
        value = 10 + 3 * np.sin(2 * np.pi * t / 12)
        out[split] = [np.stack([value, np.cos(2 * np.pi * t / 12)], axis=1)]
    return out


def forecast_frame_reader(path: str):
    import pandas as pd

    return pd.read_csv(path)


# -- a scenario: one short run, evaluated and predicted on --------------------------------------

TRAINER = {
    "max_epochs": 1,
    "limit_train_batches": 2,  # two optimizer steps
    "batch_size": 8,
    "progress_bar": False,
    "tensorboard": False,
    "num_threads": 1,
    "log_every_n_steps": 1,
}


@dataclasses.dataclass
class Result:
    """A scenario's run: ``config`` (the run folder's ``config.yaml``), ``metrics``
    (``metrics.json``), ``evaluated`` (``deeprnn evaluate``'s), ``predictions`` (``deeprnn
    predict``'s JSON lines), ``model`` (reopened from the run folder)."""

    run_dir: Path
    config: dict
    metrics: dict
    evaluated: dict
    predictions: list[dict]
    model: object

    @property
    def art(self) -> dict:
        return self.model.artifacts

    @property
    def shapes(self) -> dict[str, tuple]:
        """The trained model's parameters and buffers: name -> shape."""
        return {k: tuple(v.shape) for k, v in self.model.state_dict().items()}

    def split(self, split: str) -> dict:
        return self.metrics["data"][split]

    def from_file(self, split: str, path: Path, examples: int) -> None:
        """The ``split``'s metrics were computed on ``path``, all ``examples`` of it."""
        p = self.split(split)
        assert p["source"] == str(path), (split, p)
        assert p["examples"] == examples, (split, p)
        assert "fallback" not in p

    def carved(self, split: str, base: Path, examples: int, of: int | None = None) -> None:
        """The ``split`` is ``examples`` cut from ``base`` (``of`` its rows / documents)."""
        p = self.split(split)
        assert p["source"].startswith(f"{base}"), (split, p)
        assert p["examples"] == examples, (split, p)
        if of is not None:
            assert f" of its {of} " in p["source"], (split, p)
        assert "fallback" not in p


@dataclasses.dataclass
class Ctx:
    """What a scenario function fills in: its data / model / trainer sections, the predict
    input and the checks to run on its :class:`Result`."""

    task: str
    dir: Path
    data: dict = dataclasses.field(default_factory=dict)
    model: dict = dataclasses.field(default_factory=dict)
    trainer: dict = dataclasses.field(default_factory=dict)
    optim: dict = dataclasses.field(default_factory=lambda: {"lr": 0.01})
    predict_args: list[str] = dataclasses.field(default_factory=list)
    predicted: int | None = None  # rows predict must give
    checks: list[Callable[[Result], None]] = dataclasses.field(default_factory=list)
    no_test: bool = False  # the data has no test split: metrics.json must say so
    partial_test: bool = False  # trainer.limit_test_batches: the run tested part of the split
    top: dict = dataclasses.field(default_factory=dict)  # seed, export, regularizers, finetune ...
    other_test: tuple[Path, int] | None = None  # evaluate --data.test_path FILE: its examples

    def lines(self, *lines: str, extra: tuple[str, ...] = ()) -> None:
        path = self.dir / "predict.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.predict_args = ["-i", str(path), *extra]
        self.predicted = len(lines)

    def jsonl(self, *records: dict) -> None:
        path = self.dir / "predict.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        self.predict_args = ["-i", str(path)]
        self.predicted = len(records)

    def csv(self, path: Path, rows: int, *extra: str) -> None:
        self.predict_args = ["-i", str(path), *extra]
        self.predicted = rows

    def check(self, fn: Callable[[Result], None]) -> Callable[[Result], None]:
        self.checks.append(fn)
        return fn


SCENARIOS: dict[str, tuple[str, Callable[[Ctx], None]]] = {}


def scenario(task: str, name: str):
    def register(fn):
        full = f"{task}/{name}"
        assert full not in SCENARIOS, full
        SCENARIOS[full] = (task, fn)
        return fn

    return register


def _test_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)}


_CACHE: dict[str, Result | BaseException] = {}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("docs_contract")


def run(name: str, work: Path) -> Result:
    """The scenario ``name`` run once: train, evaluate, predict, and its checks."""
    if name not in _CACHE:
        try:
            _CACHE[name] = _run(name, work)
        except BaseException as e:  # every key of the scenario fails with it
            _CACHE[name] = e
    got = _CACHE[name]
    if isinstance(got, BaseException):
        raise AssertionError(f"scenario {name} failed: {got!r}") from got
    return got


def _run(name: str, work: Path) -> Result:
    from deeprnn.training import open_run

    task, fn = SCENARIOS[name]
    folder = work / name.replace("/", "-")
    folder.mkdir(parents=True)
    ctx = Ctx(task, folder)
    ctx.work = work  # a scenario may use another's run folder
    fn(ctx)
    run_dir = folder / "run"
    config = {
        "task": task,
        "seed": 0,
        "out_dir": str(run_dir),
        "baselines": False,  # the baselines' own tests run them (one scenario here does)
        "data": ctx.data,
        "model": ctx.model,
        "optim": ctx.optim,
        "trainer": {**TRAINER, **ctx.trainer},
        **ctx.top,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "-c", str(folder / "config.yaml")]) == 0, f"{name}: train failed"
    lost = [str(w.message) for w in caught if "not written" in str(w.message)]
    assert not lost, lost  # a figure the run folder should hold, failed
    metrics = json.loads((run_dir / "metrics.json").read_text())
    out = folder / "evaluate.json"
    assert main(["evaluate", str(run_dir), "--out", str(out)]) == 0, f"{name}: evaluate failed"
    evaluated = json.loads(out.read_text())
    if ctx.other_test is not None:  # deeprnn evaluate RUN --data.test_path FILE tests on FILE
        path, n = ctx.other_test
        out = folder / "evaluate-other.json"
        args = ["evaluate", str(run_dir), "--data.test_path", str(path), "--out", str(out)]
        assert main(args) == 0, f"{name}: evaluate --data.test_path failed"
        other = json.loads(out.read_text())["data"]["test"]
        assert (other["source"], other["examples"]) == (str(path), n), other
    predictions = []
    if ctx.predict_args:
        out = folder / "predictions.jsonl"
        model = run_dir / "model" if config.get("export", True) else run_dir  # else: best.ckpt
        args = ["predict", str(model), *ctx.predict_args, "-o", str(out)]
        assert main(args) == 0, f"{name}: predict failed"
        predictions = [json.loads(line) for line in out.read_text().splitlines()]
    result = Result(
        run_dir,
        yaml.safe_load((run_dir / "config.yaml").read_text()),
        metrics,
        evaluated,
        predictions,
        open_run(run_dir).model,
    )
    _common_checks(ctx, result)
    for check in ctx.checks:
        check(result)
    return result


def _common_checks(ctx: Ctx, r: Result) -> None:
    """What every run must show: finite test metrics, each split's provenance, evaluate giving
    the run's numbers on the same data, and a prediction per input."""
    tested = _test_metrics(r.metrics)
    assert tested, sorted(r.metrics)
    assert all(math.isfinite(v) for v in tested.values()), tested
    data = r.metrics["data"]
    assert set(data) == {"train", "val", "test"}
    for split, p in data.items():
        assert p["source"] and p["examples"] > 0, (split, p)
    said = [w for w in r.metrics["warnings"] if w.startswith("test metrics are computed")]
    if ctx.no_test:  # no test split: said, never silent
        assert data["test"].get("fallback") == "val" and said, data["test"]
    else:
        assert "fallback" not in data["test"] and not said, data["test"]
        assert data["test"]["source"] != data["val"]["source"]
    again = _test_metrics(r.evaluated)
    assert again.keys() == tested.keys()
    if ctx.partial_test:  # the run tested part of the split, and says so; evaluate all of it
        assert "limited_to" in data["test"] and "limited_to" not in r.evaluated["data"]["test"]
    else:
        for k, v in tested.items():
            assert again[k] == pytest.approx(v, rel=1e-4, abs=1e-6), k
    for split, p in r.evaluated["data"].items():  # the same data, rebuilt from config.yaml
        assert (p["source"], p["examples"]) == (data[split]["source"], data[split]["examples"])
    if ctx.predicted is not None:
        assert len(r.predictions) == ctx.predicted, r.predictions[:3]


# -- classify ------------------------------------------------------------------------------------


@scenario("classify", "csv-path")
def _(s: Ctx):
    """One CSV cut by fractions, columns renamed, the text kept in case, rare words dropped."""
    path = reviews(s.dir / "all.csv", 200, 0, text="review", label="sentiment", rare="Zyx")
    s.data = {"source": "csv", "path": str(path), "text_column": "review",
              "label_column": "sentiment", "val_fraction": 0.2, "test_fraction": 0.15,
              "lower": False, "min_freq": 2, "max_length": 3}  # fmt: skip
    s.model = {"input": {"embedding_dim": 12, "embedding_dropout": 0.2, "word_dropout": 0.1},
               "rnn": {"hidden_size": 12, "cell": "gru", "dropout": 0.1, "num_layers": 2},
               "pooling": "attention", "head_hidden": 8, "head_dropout": 0.1,
               "label_smoothing": 0.1}  # fmt: skip
    s.optim = {"name": "adamw", "lr": 0.01, "weight_decay": 0.01, "betas": [0.8, 0.99],
               "eps": 1e-7}  # fmt: skip
    s.trainer = {"monitor": "val_acc", "mode": "max", "early_stopping_patience": 1}
    s.lines("the film was great", "awful PLOT")

    @s.check
    def _(r):
        r.carved("train", path, 130, of=200)
        r.carved("val", path, 40, of=200)
        r.carved("test", path, 30, of=200)
        assert r.art["labels"] == ["neg", "pos"]
        assert "Zyx" not in r.art["vocab"] and "zyx" not in r.art["vocab"]  # min_freq 2
        assert r.art["lower"] is False and r.art["max_length"] == 3
        shapes = r.shapes  # two GRU layers of 12 (3 gates), attention pooling, a hidden head
        assert shapes["encoder.rnn.blocks.1.cell.weight_ih"] == (36, 12)
        assert "pool.score.0.weight" in shapes and shapes["head.1.weight"] == (8, 12)
        assert {p["label"] for p in r.predictions} <= {"neg", "pos"}


@scenario("classify", "csv-files")
def _(s: Ctx):
    """A file per split (different sizes), characters, a capped vocabulary, bucketed batches."""
    files = {sp: reviews(s.dir / f"{sp}.csv", n, i, classes=3)
             for i, (sp, n) in enumerate((("train", 150), ("val", 45), ("test", 33)))}  # fmt: skip
    s.data = {"source": "csv", **{f"{sp}_path": str(p) for sp, p in files.items()},
              "level": "char", "max_vocab": 10, "bucket": True}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8, "conv_channels": 6, "conv_kernel_size": 5},
               "rnn": {"hidden_size": 8, "bidirectional": True, "layer_norm": True,
                       "impl": "loop", "checkpoint_steps": 4}}  # fmt: skip
    s.optim = {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True,
               "scheduler": {"name": "step", "step_size": 1, "gamma": 0.3}}  # fmt: skip
    s.trainer = {"gradient_clip_value": 0.5}
    s.other_test = (files["val"], 45)
    s.lines("great", "bad film")

    @s.check
    def _(r):
        for split, n in (("train", 150), ("val", 45), ("test", 33)):
            r.from_file(split, files[split], n)
        assert len(r.art["vocab"]) == 2 + 10 and all(len(t) == 1 for t in r.art["vocab"][2:])
        assert r.art["labels"] == ["neg", "neu", "pos"]
        shapes = r.shapes  # the Conv1D front end, both directions, layer-normalised cells
        assert shapes["encoder.input.conv.weight"] == (6, 8, 5)
        assert shapes["encoder.rnn.blocks.0.backward_layer.cell.weight_ih"] == (32, 6)
        assert "encoder.rnn.blocks.0.forward_layer.cell.ln_hh_weight" in shapes


@scenario("classify", "csv-carve")
def _(s: Ctx):
    """``train_path`` + ``test_path``: validation carved out of train, test the test file."""
    train = reviews(s.dir / "train.csv", 150, 0)
    test = reviews(s.dir / "test.csv", 37, 1)
    s.data = {"source": "csv", "train_path": str(train), "test_path": str(test),
              "val_fraction": 0.2, "level": "whitespace"}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8, "residual": True,
               "num_layers": 2, "zoneout": 0.1, "recurrent_dropout": 0.1, "norm": "layer",
               "dim_feedforward": 12}}  # fmt: skip
    s.optim = {"name": "rmsprop", "scheduler": {"name": "exponential", "gamma": 0.9}}
    s.trainer = {"shuffle": False, "deterministic": False, "gradient_clip_norm": 0.5}
    s.lines("great film")

    @s.check
    def _(r):
        r.carved("train", train, 120, of=150)
        r.carved("val", train, 30, of=150)
        r.from_file("test", test, 37)
        assert "film" in r.art["vocab"] and r.art["level"] == "whitespace"
        assert "encoder.rnn.norms.0.weight" in r.shapes  # layer norm between the layers
        assert "encoder.rnn.norms.0.running_mean" not in r.shapes
        assert r.shapes["encoder.rnn.feedforwards.1.linear1.weight"] == (12, 8)


@scenario("classify", "csv-path-test-path")
def _(s: Ctx):
    """``path`` + ``test_path``: train and val cut from path, test the test file."""
    path = reviews(s.dir / "all.csv", 200, 0)
    test = reviews(s.dir / "test.csv", 41, 1)
    s.data = {"source": "csv", "path": str(path), "test_path": str(test), "val_fraction": 0.2}
    s.top = {"seed": 1}
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8, "highway": True,
               "num_layers": 2, "norm": "batch"}}  # fmt: skip
    s.lines("good")

    @s.check
    def _(r):
        r.carved("train", path, 160, of=200)
        r.carved("val", path, 40, of=200)
        assert "shuffled with seed 1" in r.split("val")["source"]  # the run's seed
        r.from_file("test", test, 41)
        assert r.shapes["encoder.rnn.gates.0.weight"] == (8, 8)  # highway
        assert "encoder.rnn.norms.0.running_mean" in r.shapes  # batch norm


@scenario("classify", "reader")
def _(s: Ctx):
    s.data = {"source": "reader", "reader": f"{ME}:classify_reader",
              "reader_args": {"n_train": 64, "n_val": 31, "n_test": 23}}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.top = {"regularizers": {"input_l1": 1e-4, "input_l2": 1e-4, "recurrent_l1": 1e-4,
                              "recurrent_l2": 1e-4, "bias_l1": 1e-4, "bias_l2": 1e-4}}  # fmt: skip
    s.lines("yes went to", "no dog")

    @s.check
    def _(r):
        for split, n in (("train", 64), ("val", 31), ("test", 23)):
            assert r.split(split)["examples"] == n
            source = r.split(split)["source"]
            assert source.startswith(f"the {split!r} split of data.reader {ME}:classify_reader(")
            assert "n_train=64" in source
        assert r.art["labels"] == ["no", "yes"]


def _text_folder(root: Path, n: int, seed: int, encoding: str) -> dict[str, int]:
    """One subfolder per class (pos, neg, neu) of ``n`` text files each, in ``encoding``."""
    rng = random.Random(seed)
    for label, words in (("pos", POS), ("neg", NEG), ("neu", FILLER)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            text = f"{rng.choice(words)}<br /><br />{rng.choice(FILLER)} café"  # IMDB's breaks
            (root / label / f"{i}.txt").write_bytes(text.encode(encoding))
    return {"pos": n, "neg": n, "neu": n}


@scenario("classify", "folder")
def _(s: Ctx):
    """train/ and test/ folders (latin-1 text with HTML line breaks, read as spaces), two of
    three classes, a cap per class."""
    _text_folder(s.dir / "corpus" / "train", 50, 0, "latin-1")
    _text_folder(s.dir / "corpus" / "test", 17, 1, "latin-1")
    s.data = {"source": "folder", "path": str(s.dir / "corpus"), "class_names": ["neg", "pos"],
              "max_per_class": 40, "encoding": "latin-1", "val_fraction": 0.25,
              "html": True}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.lines("great<br />café")

    @s.check
    def _(r):
        assert r.art["labels"] == ["neg", "pos"] and r.art["html"] is True
        assert "café" in r.art["vocab"]  # read as latin-1
        assert not {"<", "br", "/", ">"} & set(r.art["vocab"])  # <br /> read as a space
        assert r.split("train")["examples"] == 60 and r.split("val")["examples"] == 20
        assert r.split("test") == {"source": f"{s.dir / 'corpus'} test/", "examples": 34,
                                   "unit": "examples"}  # fmt: skip


@scenario("classify", "folder-flat")
def _(s: Ctx):
    """One folder of classes: the test split cut by ``test_fraction``, stratified."""
    _text_folder(s.dir / "corpus", 40, 0, "utf-8")
    s.data = {"source": "folder", "path": str(s.dir / "corpus"), "test_fraction": 0.25}
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.trainer = {"precision": "bf16-mixed"}
    s.lines("bad")

    @s.check
    def _(r):
        assert [r.split(sp)["examples"] for sp in ("train", "val", "test")] == [78, 12, 30]
        assert "0.25 of every class" in r.split("test")["source"]


@scenario("classify", "folds")
def _(s: Ctx):
    """Fold 1 of 3 of the training file validates; the test file stays the test split."""
    train = reviews(s.dir / "train.csv", 90, 0)
    test = reviews(s.dir / "test.csv", 29, 1)
    s.data = {"source": "csv", "train_path": str(train), "test_path": str(test), "folds": 3,
              "fold": 1}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.trainer = {"accelerator": "cpu", "max_time": 600}
    s.lines("good")

    @s.check
    def _(r):
        assert r.split("val")["examples"] == 30 and r.split("train")["examples"] == 60
        assert r.split("val")["source"].startswith("fold 1 of 3 folds")
        r.from_file("test", test, 29)


@scenario("classify", "synthetic")
def _(s: Ctx):
    """Numeric sequences; the LSTM-FCN architecture and per-series z-normalisation."""
    s.data = {"source": "synthetic", "num_examples": 150, "sequence_length": 7,
              "num_features": 3}  # fmt: skip
    s.model = {"input": {"projection": 6}, "rnn": {"hidden_size": 8, "cell": "rnn",
               "activation": "relu"}, "architecture": "lstm_fcn", "fcn_channels": [4, 6, 4],
               "fcn_kernels": [3, 3, 2], "normalize": "series", "pooling": "max"}  # fmt: skip
    s.jsonl({"x": [[0.1, 0.2, 0.3]] * 4}, {"x": [[-1.0, 0.0, 1.0]] * 7})

    @s.check
    def _(r):
        assert r.art["input_size"] == 3
        shapes = r.shapes  # projection 3 -> 6, a SimpleRNN of 8, the FCN branch
        assert shapes["encoder.input.projection.weight"] == (6, 3)
        assert shapes["encoder.rnn.blocks.0.cell.weight_ih"] == (8, 6)
        assert shapes["fcn.convs.0.weight"] == (4, 3, 3)
        assert sum(r.split(sp)["examples"] for sp in ("train", "val", "test")) == 150
        lengths = {len(x) for x, _ in _classify_items(r)}
        assert max(lengths) <= 7 and min(lengths) >= 1


@scenario("classify", "series-small-data")
def _(s: Ctx):
    """The small-data series keys: a 2-member FCN ensemble, window slicing / warping of the
    training series, and fold 1 of 3 of a run whose folds would choose a refit's epochs (the
    refit itself, run by every-fold ``deeprnn train``: tests/tasks/test_classify_refit.py)."""
    s.data = {"source": "synthetic", "num_examples": 90, "sequence_length": 12,
              "augment": ["slice", "warp"], "slice_ratio": 0.8, "folds": 3, "fold": 1,
              "refit": True}  # fmt: skip
    s.model = {"architecture": "fcn", "fcn_channels": [4, 4, 4], "ensemble": 2}
    s.no_test = True  # synthetic data in folds: the held-out fold is also tested, and said
    s.optim = {"lr": 0.01, "scheduler": {"name": "none"}}
    s.jsonl({"x": [[0.5, 0.1]] * 5}, {"x": [[-0.5, 0.2]] * 9})

    @s.check
    def _(r):
        assert any(k.startswith("ensemble.members.1.fcn.") for k in r.shapes)
        assert all(k.startswith("ensemble.members.") for k in r.shapes)
        assert len(r.model.ensemble) == 2
        assert all(0.0 <= p <= 1.0 for row in r.predictions for p in row["probs"].values())
        assert r.split("val")["source"].startswith("fold 1 of 3 folds")


def _classify_items(r: Result):
    from deeprnn.training import open_run

    return open_run(r.run_dir).datamodule().splits["train"]


@scenario("classify", "fcn")
def _(s: Ctx):
    s.data = {"source": "synthetic", "num_examples": 120}
    s.model = {"architecture": "fcn", "fcn_channels": [4, 4, 4], "rnn": {"hidden_size": 8}}
    s.trainer = {"num_workers": 1}
    s.jsonl({"x": [[0.5, 0.1]] * 5})

    @s.check
    def _(r):
        assert all(k.startswith(("fcn.", "head.")) for k in r.shapes)  # no RNN at all


@scenario("classify", "pretrained")
def _(s: Ctx):
    """Embeddings read from a GloVe file and frozen; the vocabulary of another run's export."""
    donor = run("classify/csv-path", s.work)
    vectors = s.dir / "glove.txt"
    vectors.write_text("good 1 2 3 4\nbad -1 -2 -3 -4\n", encoding="utf-8")
    path = reviews(s.dir / "all.csv", 200, 4)
    s.data = {"source": "csv", "path": str(path), "vocab_path": str(donor.run_dir / "model")}
    s.model = {"input": {"embedding_dim": 4, "pretrained_embeddings": str(vectors),
               "freeze_embeddings": True}, "rnn": {"hidden_size": 8,
               "layers": [{"cell": "gru", "hidden_size": 6}, {"hidden_size": 5}]}}  # fmt: skip
    s.lines("good film")

    @s.check
    def _(r):
        assert r.art["vocab"] == donor.art["vocab"]
        weight = r.model.state_dict()["encoder.input.embedding.weight"]
        good = r.art["vocab"].index("good")
        assert weight[good].tolist() == [1.0, 2.0, 3.0, 4.0]  # read, and frozen in training
        shapes = r.shapes  # model.rnn.layers: a GRU of 6, then an LSTM of 5
        assert shapes["encoder.rnn.blocks.0.cell.weight_ih"] == (18, 4)
        assert shapes["encoder.rnn.blocks.1.cell.weight_ih"] == (20, 6)


def _reads_like(s: Ctx, donor: Result) -> None:
    """A classifier on new reviews with the donor run's vocabulary, tokens and model."""
    s.data = {"source": "csv", "path": str(reviews(s.dir / "all.csv", 200, 5)),
              "vocab_path": str(donor.run_dir / "model"),
              "lower": donor.config["data"]["lower"]}  # fmt: skip
    s.model = dict(donor.config["model"])


@scenario("classify", "finetune-frozen")
def _(s: Ctx):
    """Weights copied from another run's export folder, the embedding and first layer frozen:
    they end as they were copied."""
    donor = run("classify/csv-path", s.work)
    _reads_like(s, donor)
    s.top = {"finetune": {"init_from": str(donor.run_dir / "model"),
                          "freeze": ["encoder.input.embedding", "encoder.rnn.blocks.0"]}}  # fmt: skip
    s.lines("good film")

    @s.check
    def _(r):
        mine, theirs = r.model.state_dict(), donor.model.state_dict()
        frozen = [k for k in mine if k.startswith(("encoder.input.embedding",
                                                   "encoder.rnn.blocks.0"))]  # fmt: skip
        assert frozen and all(bool((mine[k] == theirs[k]).all()) for k in frozen)
        assert not bool((mine["head.4.weight"] == theirs["head.4.weight"]).all())  # trained


@scenario("classify", "finetune-unfreeze")
def _(s: Ctx):
    """Frozen for the first epoch, trainable from the second (``unfreeze_at_epoch: 1``)."""
    donor = run("classify/csv-path", s.work)
    _reads_like(s, donor)
    s.top = {"finetune": {"init_from": str(donor.run_dir / "model"),
                          "freeze": ["encoder.input.embedding"], "unfreeze_at_epoch": 1}}  # fmt: skip
    s.trainer = {"max_epochs": 2, "early_stopping_patience": None}
    s.lines("good film")

    @s.check
    def _(r):
        from deeprnn._persist import read_checkpoint

        last = read_checkpoint(r.run_dir / "checkpoints" / "last.ckpt")["state_dict"]
        theirs = donor.model.state_dict()
        key = "encoder.input.embedding.weight"
        assert r.metrics["training"]["epochs"] == 2
        assert not bool((last[key] == theirs[key]).all())  # trained after the unfreeze


@scenario("classify", "finetune-ulmfit")
def _(s: Ctx):
    """ULMFiT: a language model's *run folder* starts the encoder, its vocabulary is taken
    (no data.vocab_path), concat pooling, gradual unfreezing, discriminative rates and the
    slanted triangular schedule."""
    donor = run("lm/words", s.work)
    s.data = {"source": "csv", "path": str(reviews(s.dir / "all.csv", 200, 5)), "level": "word",
              "lower": False}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}, "pooling": "concat",
               "head_hidden": 4, "head_norm": "batch"}  # fmt: skip
    s.top = {"finetune": {"init_from": str(donor.run_dir), "gradual_unfreeze": True}}
    s.optim = {"lr": 0.01, "layer_lr_decay": 2.6,
               "scheduler": {"name": "slanted_triangular", "cut_frac": 0.2, "ratio": 10.0}}  # fmt: skip
    s.trainer = {"max_epochs": 3, "early_stopping_patience": None}
    s.lines("good film")

    @s.check
    def _(r):
        from deeprnn._persist import read_checkpoint

        assert r.art["vocab"] == donor.art["vocab"]  # the LM's vocabulary
        assert r.metrics["training"]["epochs"] == 3
        last = read_checkpoint(r.run_dir / "checkpoints" / "last.ckpt")
        groups = last["optimizer_states"][0]["param_groups"]
        assert [g["initial_lr"] for g in groups] == pytest.approx(
            [0.01 / 10 / 2.6**2, 0.01 / 10 / 2.6, 0.01 / 10]
        )  # one group per layer group, each starting at its peak / ratio
        # (which layers train in which epoch: tests/tasks/test_transfer.py, epoch by epoch)
        assert r.model.pool.output_size == 3 * 8  # last + max + mean
        import torch

        norms = [m for m in r.model.head if isinstance(m, torch.nn.BatchNorm1d)]
        assert [m.num_features for m in norms] == [24, 4]  # before each head layer


# -- tag -----------------------------------------------------------------------------------------


@scenario("tag", "path")
def _(s: Ctx):
    """One CoNLL file cut by fractions; words lower-cased, digits normalised, rare words out."""
    path = conll(s.dir / "all.conll", 100, 0)
    s.data = {"path": str(path), "val_fraction": 0.2, "test_fraction": 0.15, "lower": True,
              "normalize_digits": True, "min_freq": 2, "max_word_length": 4,
              "bucket": True}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}, "crf": True,
               "char_embedding_dim": 6, "char_hidden_size": 5, "head_dropout": 0.1}  # fmt: skip
    s.optim = {"lr": 0.01, "scheduler": {"name": "cosine", "min_lr": 1e-4, "warmup_steps": 1,
               "horizon_epochs": 40}}  # fmt: skip
    s.lines("Alice Smith went to Paris", "a dog")

    @s.check
    def _(r):
        import torch

        ckpt = torch.load(r.run_dir / "checkpoints" / "last.ckpt", weights_only=True)
        assert ckpt["lr_schedulers"][0]["T_max"] == 40  # the cosine spans 40 epochs
        r.carved("train", path, 65, of=100)
        r.carved("val", path, 20, of=100)
        r.carved("test", path, 15, of=100)
        vocab = r.art["vocab"]
        assert "room00" in vocab and "Room42" not in vocab and "alice" in vocab
        assert r.art["max_word_length"] == 4
        assert "R" in r.art["chars"]  # the character features keep case
        assert [len(p["tags"]) for p in r.predictions] == [5, 2]
        assert any("crf" in k for k in r.model.state_dict())


@scenario("tag", "files")
def _(s: Ctx):
    """A file per split (columns ``idx tok tag``, IOB1 tags converted to BIO), a capped
    vocabulary."""
    files = {sp: conll(s.dir / f"{sp}.conll", n, i, iob1=True, layout="idx tok tag")
             for i, (sp, n) in enumerate((("train", 70), ("val", 33), ("test", 29)))}  # fmt: skip
    s.data = {**{f"{sp}_path": str(p) for sp, p in files.items()}, "token_column": 1,
              "tag_column": 2, "scheme": "BIO", "max_vocab": 6}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.optim = {"lr": 0.01, "scheduler": {"name": "plateau", "factor": 0.3, "patience": 1}}
    s.trainer = {"val_check_interval": 0.5}
    s.other_test = (files["val"], 33)
    s.lines("Bob Smith saw a dog")

    @s.check
    def _(r):
        for split, n in (("train", 70), ("val", 33), ("test", 29)):
            r.from_file(split, files[split], n)
        assert {"B-LOC", "B-PER", "I-PER", "O"} <= set(r.art["labels"])  # IOB1 (no B-) -> BIO
        assert len(r.art["vocab"]) == 2 + 6 and not any(w.isdigit() for w in r.art["vocab"])


@scenario("tag", "path-test-path")
def _(s: Ctx):
    """``path`` + ``test_path``: train and val cut from path, test the file; IOBES tags."""
    path = conll(s.dir / "all.conll", 100, 0)
    test = conll(s.dir / "test.conll", 27, 1)
    s.data = {"path": str(path), "test_path": str(test), "scheme": "IOBES"}
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.lines("Carol Smith met Dave Smith")

    @s.check
    def _(r):
        r.carved("train", path, 90, of=100)
        r.carved("val", path, 10, of=100)
        r.from_file("test", test, 27)
        assert {"S-LOC", "B-PER", "E-PER"} <= set(r.art["labels"])


@scenario("tag", "reader")
def _(s: Ctx):
    s.data = {"source": "reader", "reader": f"{ME}:tag_reader",
              "reader_args": {"sizes": [60, 31, 23]}}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.trainer = {"nonfinite": "skip"}
    s.lines("Alice went to Rome")

    @s.check
    def _(r):
        for split, n in (("train", 60), ("val", 31), ("test", 23)):
            assert r.split(split)["examples"] == n
            assert r.split(split)["source"].startswith(f"the {split!r} split of data.reader")


# -- lm ------------------------------------------------------------------------------------------


@scenario("lm", "path-lines")
def _(s: Ctx):
    """A list of names, one document per line, cut by fractions; padded document batches."""
    path = text_lines(s.dir / "names.txt", 200, 0)
    path.write_text(path.read_text().title(), encoding="utf-8")  # Anna, Bella ...
    s.data = {"path": str(path), "documents": "line", "val_fraction": 0.2,
              "test_fraction": 0.15, "add_bos": True, "add_eos": True, "lower": True,
              "batching": "documents", "max_length": 4}  # fmt: skip
    s.model = {"input": {"embedding_dim": 12}, "rnn": {"hidden_size": 12, "weight_dropout": 0.3},
               "tie_weights": True, "output_dropout": 0.1}  # AWD-LSTM's pieces  # fmt: skip
    s.optim = {"lr": 0.01, "scheduler": {"name": "onecycle"}}
    s.lines("an", "b", extra=("--max-new-tokens", "3", "--seed", "0"))

    @s.check
    def _(r):
        r.carved("train", path, 130, of=200)
        r.carved("val", path, 40, of=200)
        r.carved("test", path, 30, of=200)
        assert r.split("test")["unit"] == "documents"
        chars = [t for t in r.art["vocab"] if len(t) == 1]
        assert "a" in chars and not any(t.isupper() for t in chars)  # lower-cased
        assert "test_bpc" in r.metrics  # characters: bits per character
        state = r.model.state_dict()
        emb = next(v for k, v in state.items() if k.endswith("embedding.weight"))
        out = next(v for k, v in state.items() if "embedding" not in k and v.shape == emb.shape)
        assert out.data_ptr() == emb.data_ptr() or bool((out == emb).all())  # tied
        rnn = next(m for m in r.model.modules() if type(m).__name__ == "DeepRNN")
        assert rnn.weight_dropout == 0.3  # DropConnect on W_hh in training


@scenario("lm", "files")
def _(s: Ctx):
    """A file per split: a stream of characters in bptt chunks, each split its file's
    characters."""
    texts = {sp: prose(n, i) for i, (sp, n) in enumerate((("train", 500), ("val", 130),
                                                          ("test", 90)))}  # fmt: skip
    files = {}
    for sp, text in texts.items():
        files[sp] = s.dir / f"{sp}.txt"
        files[sp].write_text(text, encoding="utf-8")
    s.data = {**{f"{sp}_path": str(p) for sp, p in files.items()}, "bptt": 16}
    s.other_test = (files["val"], len(texts["val"]))
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.lines("The cat", extra=("--max-new-tokens", "4", "--seed", "0"))

    @s.check
    def _(r):
        n = len(texts["train"])  # the base text, all of it (val and test have files)
        assert r.split("train")["source"] == f"{files['train']} characters [0, {n})"
        assert r.split("train")["examples"] == n
        for sp in ("val", "test"):
            r.from_file(sp, files[sp], len(texts[sp]))
        assert r.split("test")["unit"] == "tokens"


@scenario("lm", "path-test-path")
def _(s: Ctx):
    """``path`` (one document) + ``test_path``: val the last tenth of path, test the file."""
    text = prose(400, 0)
    path = s.dir / "base.txt"
    path.write_text(text, encoding="utf-8")
    test = s.dir / "test.txt"
    test.write_text(prose(80, 1), encoding="utf-8")
    s.data = {"path": str(path), "test_path": str(test), "bptt": 16}
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.lines("a", extra=("--max-new-tokens", "2", "--seed", "0"))

    @s.check
    def _(r):
        cut = round(len(text) * 0.9)
        assert r.split("train")["source"] == f"{path} characters [0, {cut})"
        assert r.split("val")["source"] == f"{path} characters [{cut}, {len(text)})"
        r.from_file("test", test, len(test.read_text()))


@scenario("lm", "train-test")
def _(s: Ctx):
    """``train_path`` + ``test_path``: val carved from train_path's documents."""
    train = text_lines(s.dir / "train.txt", 150, 0)
    test = text_lines(s.dir / "test.txt", 37, 1)
    s.data = {"train_path": str(train), "test_path": str(test), "documents": "line",
              "add_eos": True, "val_fraction": 0.2}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.trainer = {"max_epochs": 3, "max_steps": 3}
    s.lines("an", extra=("--max-new-tokens", "2", "--seed", "0"))

    @s.check
    def _(r):
        r.carved("train", train, 120, of=150)
        r.carved("val", train, 30, of=150)
        r.from_file("test", test, 37)
        training = r.metrics["training"]  # two steps an epoch, stopped at the third
        assert training["optimizer_steps"] == 3 and training["stopped_by"] == "max_steps"


@scenario("lm", "words")
def _(s: Ctx):
    """Words, paragraphs as documents, ``<eos>`` per line, a small vocabulary, a stream; an
    adaptive softmax. A word model reports bits per word."""
    path = s.dir / "prose.txt"
    path.write_text(prose(900, 0, para=3), encoding="utf-8")
    s.data = {"path": str(path), "level": "word", "documents": "blank_line", "line_eos": True,
              "batching": "stream", "min_freq": 2, "max_vocab": 8, "bptt": 8,
              "test_fraction": 0.1, "document_reset": False}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8},
               "adaptive_softmax": [4], "adaptive_div_value": 2.0}  # fmt: skip
    s.lines("The cat", extra=("--max-new-tokens", "3", "--seed", "0"))

    @s.check
    def _(r):
        assert "test_bpw" in r.metrics and "test_bpc" not in r.metrics
        assert "<eos>" in r.art["vocab"] and len(r.art["vocab"]) <= 2 + 8 + 1
        assert r.split("test")["unit"] == "tokens"
        assert "documents" in r.split("test")["source"]  # paragraphs, shuffled into splits
        assert any("adaptive" in k or "head" in k for k in r.model.state_dict())


@scenario("lm", "reader")
def _(s: Ctx):
    s.data = {"source": "reader", "reader": f"{ME}:lm_reader",
              "reader_args": {"sizes": [60, 31, 23]}, "level": "whitespace",
              "documents": "line"}  # fmt: skip
    s.model = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    s.lines("The cat", extra=("--max-new-tokens", "2", "--seed", "0"))

    @s.check
    def _(r):
        for split, n in (("train", 60), ("val", 31), ("test", 23)):
            assert r.split(split)["source"].startswith(f"the {split!r} split of data.reader")
            assert r.split(split)["examples"] == n  # documents: one a line


# -- regress -------------------------------------------------------------------------------------


@scenario("regress", "synthetic")
def _(s: Ctx):
    s.data = {"synthetic": "first_last", "sequence_length": 12, "sizes": [64, 33, 29]}
    s.top = {"baselines": ["mean"]}  # a list of names: the training mean (cheap)
    s.model = {"input": {"projection": 4}, "rnn": {"hidden_size": 8}, "pooling": "mean",
               "head_hidden": 8, "head_dropout": 0.1}  # fmt: skip
    s.jsonl({"x": [[0.5]] * 12}, {"x": [[0.1]] * 5})

    @s.check
    def _(r):
        for split, n in (("train", 64), ("val", 33), ("test", 29)):
            assert r.split(split)["examples"] == n
            assert "'first_last' problem (data.sequence_length=12)" in r.split(split)["source"]
        assert r.art["input_size"] == 1
        assert "test_mse_vs_mean" in r.metrics
        assert any(k.startswith("test_mean_") for k in r.metrics), sorted(r.metrics)


@scenario("regress", "reader")
def _(s: Ctx):
    s.data = {"source": "reader", "reader": f"{ME}:regress_reader",
              "reader_args": {"sizes": [64, 31, 27]}}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8}}
    s.top = {"export": False}  # predict reads the run folder's best checkpoint
    s.jsonl({"x": [[0.5, 0.5]] * 3})

    @s.check
    def _(r):
        for split, n in (("train", 64), ("val", 31), ("test", 27)):
            assert r.split(split)["examples"] == n
            assert r.split(split)["source"].startswith(f"the {split!r} split of data.reader")
        assert r.art["input_size"] == 2
        assert not (r.run_dir / "model").exists()


# -- seq2seq -------------------------------------------------------------------------------------

S2S_SMALL = {"embedding_size": 8, "hidden_size": 16, "val_decode": 8}


@scenario("seq2seq", "synthetic")
def _(s: Ctx):
    """The reverse task; LSTM decoder over a GRU encoder, Luong dot attention with input
    feeding, a teacher-forcing schedule, beam search."""
    s.data = {"synthetic": "reverse", "synthetic_min_len": 2, "synthetic_max_len": 5,
              "synthetic_sizes": [64, 31, 29]}  # fmt: skip
    s.model = {**S2S_SMALL, "encoder_hidden_size": 8, "encoder_layers": 2, "decoder_layers": 2,
               "cell": "lstm", "encoder_cell": "gru", "attention": "luong_dot",
               "input_feeding": True, "dropout": 0.1, "reverse_source": True,
               "teacher_forcing": 0.8, "teacher_forcing_schedule": "linear",
               "teacher_forcing_k": 50.0, "teacher_forcing_min": 0.2, "label_smoothing": 0.1,
               "beam_width": 2, "length_penalty": 0.6, "max_len_a": 1.2, "max_len_b": 3,
               "val_decode": 5}  # fmt: skip
    s.lines("3 1 2", "5 4")

    @s.check
    def _(r):
        for split, n in (("train", 64), ("val", 31), ("test", 29)):
            assert r.split(split)["examples"] == n
            assert "'reverse' task (lengths 2 to 5)" in r.split(split)["source"]
        assert r.art["level"] == "whitespace"  # auto: whitespace for a synthetic task


@scenario("seq2seq", "parallel")
def _(s: Ctx):
    """Line-aligned files ``{stem}.fr`` / ``{stem}.es``, split stems renamed; characters,
    lower-cased, one vocabulary and one embedding for both sides."""
    folder = s.dir / "corpus"
    folder.mkdir()
    sizes = {"train": ("tr", 48), "val": ("dev", 13), "test": ("test2016", 11)}
    for i, (stem, n) in enumerate(sizes.values()):
        pairs = pairs_of(n, i)
        (folder / f"{stem}.fr").write_text("".join(a + "\n" for a, _ in pairs), "utf-8")
        (folder / f"{stem}.es").write_text("".join(b + "\n" for _, b in pairs), "utf-8")
    s.data = {"source": "parallel", "dir": str(folder), "src_lang": "fr", "tgt_lang": "es",
              "splits": {sp: stem for sp, (stem, _) in sizes.items()}, "level": "char",
              "lower": True, "shared_vocab": True}  # fmt: skip
    s.model = {**S2S_SMALL, "bidirectional": False, "share_embeddings": True,
               "tie_embeddings": True, "attention": "luong_general", "bridge": "none",
               "max_len_a": 1.0, "max_len_b": 2}  # fmt: skip
    s.lines("red cat", "a dog")

    @s.check
    def _(r):
        for split, (stem, n) in sizes.items():
            r.from_file(split, f"{folder / stem}.fr + .es", n)
        assert r.art["src_vocab"] == r.art["tgt_vocab"]
        assert not any(t.isupper() for t in r.art["tgt_vocab"]["tokens"])


@scenario("seq2seq", "csv-path")
def _(s: Ctx):
    """One CSV (columns renamed) cut by fractions; words, rare ones out, a capped
    vocabulary; training pairs longer than 4 tokens dropped (evaluation splits kept whole)."""
    path = seq_csv(s.dir / "all.csv", 200, 0, src="en", tgt="xx")
    s.data = {"source": "csv", "path": str(path), "src_column": "en", "tgt_column": "xx",
              "val_fraction": 0.2, "test_fraction": 0.15, "level": "word", "min_freq": 2,
              "max_vocab": 8, "max_src_len": 4, "max_tgt_len": 4, "bucket": False}  # fmt: skip
    s.model = {**S2S_SMALL, "attention": "luong_concat", "attention_size": 6, "bridge": "copy",
               "encoder_hidden_size": 8}  # fmt: skip
    s.lines("red cat sees")

    @s.check
    def _(r):
        long = sum(len(a.split()) > 4 for a, _ in pairs_of(200, 0))
        assert long > 10
        train = r.split("train")
        assert train["source"].startswith(f"{path}: 130 of its 200 rows")
        assert 0 < train["examples"] < 130  # the long training pairs dropped ...
        r.carved("val", path, 40, of=200)  # ... never evaluation ones
        r.carved("test", path, 30, of=200)
        assert len(r.art["src_vocab"]["tokens"]) == 8


@scenario("seq2seq", "csv-files")
def _(s: Ctx):
    """A CSV per split; no attention."""
    files = {sp: seq_csv(s.dir / f"{sp}.csv", n, i)
             for i, (sp, n) in enumerate((("train", 80), ("val", 33), ("test", 27)))}  # fmt: skip
    s.data = {"source": "csv", **{f"{sp}_path": str(p) for sp, p in files.items()}}
    s.model = {**S2S_SMALL, "attention": None}
    s.trainer = {"limit_val_batches": 1, "limit_test_batches": 2}
    s.partial_test = True
    s.other_test = (files["val"], 33)
    s.lines("the big dog")

    @s.check
    def _(r):
        for split, n in (("train", 80), ("val", 33), ("test", 27)):
            assert r.split(split)["source"] == str(files[split])
            assert r.split(split)["examples"] == n
        limited = r.split("test")["limited_to"]
        assert limited == "trainer.limit_test_batches=2 (part of the split)"


@scenario("seq2seq", "reader")
def _(s: Ctx):
    s.data = {"source": "reader", "reader": f"{ME}:seq2seq_reader",
              "reader_args": {"sizes": [64, 31, 23]}}  # fmt: skip
    s.model = dict(S2S_SMALL)
    s.lines("red cat")

    @s.check
    def _(r):
        for split, n in (("train", 64), ("val", 31), ("test", 23)):
            assert r.split(split)["examples"] == n
            assert r.split(split)["source"].startswith(f"the {split!r} split of data.reader")


# -- forecast ------------------------------------------------------------------------------------


def _times(source: str) -> tuple[str, str]:
    """The first and last time stamps a forecast split's source names, to the minute."""
    import pandas as pd

    a, b = re.search(r"\(([^()]+) to ([^()]+)\)$", source).groups()
    return tuple(pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in (a, b))


def _row_span(source: str) -> tuple[int, int]:
    lo, hi = re.search(r"rows \[(\d+), (\d+)\)", source).groups()
    return int(lo), int(hi)


@scenario("forecast", "sines")
def _(s: Ctx):
    """Generated sines split by series; an autoregressive model without RevIN."""
    s.data = {"source": "sines", "num_series": 60, "input_window": 10, "horizon": 2,
              "val_fraction": 0.25, "test_fraction": 0.15}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}, "mode": "autoregressive",
               "revin": False, "head_dropout": 0.1}  # fmt: skip
    path = s.dir / "history.csv"
    path.write_text("value\n" + "".join(f"{math.sin(t / 3):.3f}\n" for t in range(10)))
    s.csv(path, 2)

    @s.check
    def _(r):
        for split, n in (("train", 36), ("val", 15), ("test", 9)):
            assert r.split(split)["examples"] == n
            assert r.split(split)["source"].startswith("synthetic sines (data.num_series=60")
        assert [p["step"] for p in r.predictions] == [1, 2]


@scenario("forecast", "csv-panel")
def _(s: Ctx):
    """Two hourly series in one file: past-only, known and static covariates, a category,
    calendar features, the season from the hourly time column (24), strided windows scaled to
    [0, 1]; the network corrects the naive forecast; quantiles."""
    path = hourly(s.dir / "panel.csv", steps=120)
    s.data = {"source": "csv", "path": str(path), "series_column": "id", "targets": ["value"],
              "covariates": ["temp", "promo", "kind"], "known_covariates": ["promo"],
              "static_covariates": ["size"], "categorical": ["kind"], "time_column": "time",
              "time_features": ["hour", "dayofweek"], "input_window": 24, "horizon": 3,
              "stride": 2, "scaler": "minmax"}  # fmt: skip
    s.model = {"input": {"projection": 6}, "rnn": {"hidden_size": 8, "num_layers": 1},
               "baseline": "naive", "head_hidden": 8, "revin_affine": False,
               "likelihood": "quantile", "quantiles": [0.2, 0.5, 0.8]}  # fmt: skip
    s.trainer = {"min_steps": 4}  # given: early stopping waits 4 steps; max_epochs kept
    s.csv(history(s.dir / "history.csv", path, "b", last=24, future=3), 3, "--quantiles", "0.2")

    @s.check
    def _(r):
        spans = {sp: _row_span(r.split(sp)["source"]) for sp in ("train", "val", "test")}
        assert spans == {"train": (0, 84), "val": (84, 108), "test": (108, 120)}
        for split in spans:
            assert r.split(split)["source"].startswith(f"{path}: windows forecasting rows")
            assert "of each of its 2 series" in r.split(split)["source"]
        assert r.art["seasonality"] == 24  # hourly
        assert r.art["known_covariates"] == ["promo", "size"]
        assert any(c.startswith("hour_") for c in r.art["covariates"])
        assert any(c.startswith("kind=") for c in r.art["covariates"])
        assert r.art["scaler"]["kind"] == "minmax"
        assert r.metrics.get("baseline_chosen", "naive") == "naive"
        assert "test_crps" in r.metrics
        assert r.metrics["training"]["min_steps"] == 4
        assert {p["series"] for p in r.predictions} == {"b"}
        assert any(k.startswith("value_q0.2") for k in r.predictions[0]), r.predictions[0]


@scenario("forecast", "no-header-rows")
def _(s: Ctx):
    """A file without a header row (columns by number), cut into splits by row counts, no
    input reaching back into the previous split; windows counted exactly; an ensemble of two."""
    path = hourly(s.dir / "panel.csv", steps=120, header=False)
    s.data = {"source": "csv", "path": str(path), "header": False, "series_column": 0,
              "targets": [6], "covariates": [7], "split": {"train": 80, "val": 20, "test": 20},
              "reach_back": False, "input_window": 8, "horizon": 2, "seasonality": 4,
              "windows_per_epoch": 40, "window_sampling": "series"}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}, "channel_independent": True,
               "baseline": "snaive", "ensemble": 2}  # fmt: skip
    rows = path.read_text().splitlines()[-8:]
    hist = s.dir / "history.csv"
    hist.write_text(",".join(str(i) for i in range(11)) + "\n" + "\n".join(rows) + "\n")
    s.csv(hist, 2)

    @s.check
    def _(r):
        spans = {sp: _row_span(r.split(sp)["source"]) for sp in ("train", "val", "test")}
        assert spans == {"train": (0, 80), "val": (80, 100), "test": (100, 120)}
        # inputs inside the split: 20 rows hold 20 - (8 + 2) + 1 windows per series
        assert r.split("val")["examples"] == r.split("test")["examples"] == 2 * 11
        assert r.split("train")["examples"] == 2 * 71
        assert r.art["targets"] == ["6"] and r.art["seasonality"] == 4
        assert len(r.model.ensemble) == 2  # two members, their forecasts averaged
        assert any(k.startswith("ensemble.members.1.rnn.") for k in r.shapes)


@scenario("forecast", "global-panel")
def _(s: Ctx):
    """A global model over a panel as DeepAR makes one: each series' targets mean-scaled by its
    own train rows, and an embedding of the series id; predict reads the stored statistics."""
    path = hourly(s.dir / "panel.csv", steps=96, series=("a", "b", "c"))
    s.data = {"source": "csv", "path": str(path), "series_column": "id", "targets": ["value"],
              "covariates": ["temp"], "time_column": "time", "input_window": 12, "horizon": 2,
              "seasonality": 24, "series_scaler": "mean",
              "cache": str(s.dir / "cache")}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}, "series_embedding": 3}
    s.csv(history(s.dir / "history.csv", path, "c", last=12), 2)

    @s.check
    def _(r):
        index = json.loads((s.dir / "cache" / "index.json").read_text())  # the prepared panel
        assert index["ids"] == ["a", "b", "c"] and index["artifacts"]["series_ids"] == r.art[
            "series_ids"]  # fmt: skip
        assert r.art["series_ids"] == ["a", "b", "c"]
        state = r.art["series_scaler"]
        assert state["kind"] == "mean" and len(state["scale"]) == 3
        assert all(row[0] > 1 for row in state["scale"])  # 1 + mean |value| of the train rows
        assert {p["series"] for p in r.predictions} == {"c"}
        assert all(math.isfinite(p["value"]) for p in r.predictions)


@scenario("forecast", "dates")
def _(s: Ctx):
    """One series: rows, then dates, kept; split by dates."""
    path = hourly(s.dir / "one.csv", steps=168, series=("a",))
    s.data = {"source": "csv", "path": str(path), "covariates": ["temp"], "time_column": "time",
              "rows": [12, 160], "dates": ["2024-01-02 00:00:00", "2024-01-07 00:00:00"],
              "split": {"train": "2024-01-05", "val": "2024-01-06"}, "input_window": 12,
              "horizon": 2}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}}
    s.csv(history(s.dir / "history.csv", path, "a", last=12), 2)

    @s.check
    def _(r):
        src = {sp: r.split(sp)["source"] for sp in ("train", "val", "test")}
        assert "(data.rows [12, 160])" in src["test"]
        assert "(data.dates ['2024-01-02 00:00:00', '2024-01-07 00:00:00'])" in src["test"]
        # rows 12 ... 159 are Jan 1 12:00 to Jan 7 15:00; the dates keep Jan 2 to 6 (120 rows)
        spans = {sp: _row_span(src[sp]) for sp in src}
        assert spans == {"train": (0, 72), "val": (72, 96), "test": (96, 120)}
        assert _times(src["train"]) == ("2024-01-02 00:00", "2024-01-04 23:00")
        assert _times(src["val"]) == ("2024-01-05 00:00", "2024-01-05 23:00")
        assert _times(src["test"]) == ("2024-01-06 00:00", "2024-01-06 23:00")
        assert r.art["seasonality"] == 24


@scenario("forecast", "gaps")
def _(s: Ctx):
    """Missing hours put on the grid (``freq``), the target's gaps masked, the covariate's
    forward-filled; the time assembled from columns; a Gaussian head over a SegRNN encoder."""
    path = hourly(s.dir / "gappy.csv", steps=120, gaps={("a", 50), ("a", 51), ("b", 70)})
    s.data = {"source": "csv", "path": str(path), "series_column": "id",
              "covariates": ["temp"], "time_columns": ["year", "month", "day", "hour"],
              "freq": "h", "fill": {"value": "mask", "temp": "ffill"}, "input_window": 12,
              "horizon": 3}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}, "encoder": "segment",
               "segment_length": 4, "likelihood": "gaussian"}  # fmt: skip
    s.csv(history(s.dir / "history.csv", path, "a", last=12), 3)

    @s.check
    def _(r):
        assert r.art["freq"] in ("h", "H") and r.art.get("regrid", True)
        # both series are 120 hours on the grid: rows [0, 84) ... as without gaps
        spans = {sp: _row_span(r.split(sp)["source"]) for sp in ("train", "val", "test")}
        assert spans == {"train": (0, 84), "val": (84, 108), "test": (108, 120)}


@scenario("forecast", "reader-frame")
def _(s: Ctx):
    """A reader returning one DataFrame, handled like the CSV."""
    path = hourly(s.dir / "panel.csv", steps=100)
    s.data = {"source": "reader", "reader": f"{ME}:forecast_frame_reader",
              "reader_args": {"path": str(path)}, "series_column": "id",
              "covariates": ["temp"], "input_window": 12, "horizon": 2,
              "seasonality": 24}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}}
    s.csv(history(s.dir / "history.csv", path, "a", last=12), 2)

    @s.check
    def _(r):
        for split in ("train", "val", "test"):
            source = r.split(split)["source"]
            assert source.startswith(f"the DataFrame of data.reader {ME}:forecast_frame_reader")
        assert _row_span(r.split("test")["source"]) == (90, 100)


@scenario("forecast", "reader-splits")
def _(s: Ctx):
    """A reader returning splits of (T, F) arrays: every window of a split's series is that
    split's, counted exactly."""
    lengths = {"train": 60, "val": 30, "test": 25}
    s.data = {"source": "reader", "reader": f"{ME}:forecast_series_reader",
              "reader_args": {"lengths": lengths}, "covariates": ["temp"], "input_window": 8,
              "horizon": 2}  # fmt: skip
    s.model = {"rnn": {"hidden_size": 8, "num_layers": 1}}
    path = s.dir / "history.csv"
    path.write_text("value,temp\n" + "".join(f"{10 + t % 3},{t % 2}\n" for t in range(8)))
    s.csv(path, 2)

    @s.check
    def _(r):
        for split, n in lengths.items():
            assert r.split(split)["examples"] == n - 10 + 1
            assert r.split(split)["source"] == (
                f"the {split!r} series of data.reader {ME}:forecast_series_reader (1 series, "
                f"{n} steps)"
            )


# -- the registry -------------------------------------------------------------------------------

DATA = {
    "classify": {
        "source": "classify/csv-path",
        "path": "classify/csv-path",
        "train_path": "classify/csv-files",
        "val_path": "classify/csv-files",
        "test_path": "classify/csv-files",
        "text_column": "classify/csv-path",
        "label_column": "classify/csv-path",
        "reader": "classify/reader",
        "reader_args": "classify/reader",
        "level": "classify/csv-files",
        "lower": "classify/csv-path",
        "html": "classify/folder",
        "max_length": "classify/csv-path",
        "min_freq": "classify/csv-path",
        "max_vocab": "classify/csv-files",
        "vocab_path": "classify/pretrained",
        "bucket": "classify/csv-files",
        "val_fraction": "classify/csv-path",
        "test_fraction": "classify/csv-path",
        "num_examples": "classify/synthetic",
        "sequence_length": "classify/synthetic",
        "num_features": "classify/synthetic",
        "class_names": "classify/folder",
        "max_per_class": "classify/folder",
        "encoding": "classify/folder",
        "folds": "classify/folds",
        "fold": "classify/folds",
        "refit": "classify/series-small-data",
        "augment": "classify/series-small-data",
        "slice_ratio": "classify/series-small-data",
    },
    "forecast": {
        "source": "forecast/csv-panel",
        "path": "forecast/csv-panel",
        "header": "forecast/no-header-rows",
        "targets": "forecast/no-header-rows",
        "covariates": "forecast/csv-panel",
        "known_covariates": "forecast/csv-panel",
        "static_covariates": "forecast/csv-panel",
        "series_column": "forecast/csv-panel",
        "reader": "forecast/reader-frame",
        "reader_args": "forecast/reader-frame",
        "input_window": "forecast/csv-panel",
        "horizon": "forecast/csv-panel",
        "stride": "forecast/csv-panel",
        "seasonality": "forecast/no-header-rows",
        "scaler": "forecast/csv-panel",
        "val_fraction": "forecast/sines",
        "test_fraction": "forecast/sines",
        "num_series": "forecast/sines",
        "split": "forecast/no-header-rows",
        "time_column": "forecast/csv-panel",
        "rows": "forecast/dates",
        "dates": "forecast/dates",
        "reach_back": "forecast/no-header-rows",
        "fill": "forecast/gaps",
        "categorical": "forecast/csv-panel",
        "time_columns": "forecast/gaps",
        "freq": "forecast/gaps",
        "time_features": "forecast/csv-panel",
        "windows_per_epoch": "forecast/no-header-rows",
        "window_sampling": "forecast/no-header-rows",
        "series_scaler": "forecast/global-panel",
        "cache": "forecast/global-panel",
    },
    "lm": {
        "source": "lm/reader",
        "path": "lm/path-lines",
        "train_path": "lm/files",
        "val_path": "lm/files",
        "test_path": "lm/files",
        "reader": "lm/reader",
        "reader_args": "lm/reader",
        "level": "lm/words",
        "lower": "lm/path-lines",
        "documents": "lm/path-lines",
        "line_eos": "lm/words",
        "add_bos": "lm/path-lines",
        "add_eos": "lm/path-lines",
        "batching": "lm/path-lines",
        "bptt": "lm/files",
        "document_reset": "lm/words",
        "max_length": "lm/path-lines",
        "min_freq": "lm/words",
        "max_vocab": "lm/words",
        "val_fraction": "lm/path-lines",
        "test_fraction": "lm/path-lines",
    },
    "regress": {
        "source": "regress/reader",
        "synthetic": "regress/synthetic",
        "sequence_length": "regress/synthetic",
        "sizes": "regress/synthetic",
        "reader": "regress/reader",
        "reader_args": "regress/reader",
    },
    "seq2seq": {
        "source": "seq2seq/parallel",
        "synthetic": "seq2seq/synthetic",
        "synthetic_min_len": "seq2seq/synthetic",
        "synthetic_max_len": "seq2seq/synthetic",
        "synthetic_sizes": "seq2seq/synthetic",
        "dir": "seq2seq/parallel",
        "src_lang": "seq2seq/parallel",
        "tgt_lang": "seq2seq/parallel",
        "splits": "seq2seq/parallel",
        "path": "seq2seq/csv-path",
        "train_path": "seq2seq/csv-files",
        "val_path": "seq2seq/csv-files",
        "test_path": "seq2seq/csv-files",
        "src_column": "seq2seq/csv-path",
        "tgt_column": "seq2seq/csv-path",
        "val_fraction": "seq2seq/csv-path",
        "test_fraction": "seq2seq/csv-path",
        "reader": "seq2seq/reader",
        "reader_args": "seq2seq/reader",
        "level": "seq2seq/parallel",
        "lower": "seq2seq/parallel",
        "min_freq": "seq2seq/csv-path",
        "max_vocab": "seq2seq/csv-path",
        "shared_vocab": "seq2seq/parallel",
        "max_src_len": "seq2seq/csv-path",
        "max_tgt_len": "seq2seq/csv-path",
        "bucket": "seq2seq/csv-path",
    },
    "tag": {
        "source": "tag/reader",
        "path": "tag/path",
        "train_path": "tag/files",
        "val_path": "tag/files",
        "test_path": "tag/files",
        "token_column": "tag/files",
        "tag_column": "tag/files",
        "scheme": "tag/files",
        "reader": "tag/reader",
        "reader_args": "tag/reader",
        "lower": "tag/path",
        "normalize_digits": "tag/path",
        "min_freq": "tag/path",
        "max_vocab": "tag/files",
        "max_word_length": "tag/path",
        "bucket": "tag/path",
        "val_fraction": "tag/path",
        "test_fraction": "tag/path",
    },
}
MODEL = {
    "classify": {
        "input": "classify/csv-path",
        "rnn": "classify/csv-path",
        "pooling": "classify/csv-path",
        "head_hidden": "classify/csv-path",
        "head_dropout": "classify/csv-path",
        "head_norm": "classify/finetune-ulmfit",
        "label_smoothing": "classify/csv-path",
        "architecture": "classify/synthetic",
        "fcn_channels": "classify/synthetic",
        "fcn_kernels": "classify/synthetic",
        "normalize": "classify/synthetic",
        "ensemble": "classify/series-small-data",
    },
    "forecast": {
        "input": "forecast/csv-panel",
        "rnn": "forecast/sines",
        "mode": "forecast/sines",
        "head_hidden": "forecast/csv-panel",
        "baseline": "forecast/csv-panel",
        "encoder": "forecast/gaps",
        "segment_length": "forecast/gaps",
        "channel_independent": "forecast/no-header-rows",
        "revin": "forecast/sines",
        "revin_affine": "forecast/csv-panel",
        "head_dropout": "forecast/sines",
        "likelihood": "forecast/csv-panel",
        "quantiles": "forecast/csv-panel",
        "series_embedding": "forecast/global-panel",
        "ensemble": "forecast/no-header-rows",
    },
    "lm": {
        "input": "lm/path-lines",
        "rnn": "lm/path-lines",
        "tie_weights": "lm/path-lines",
        "output_dropout": "lm/path-lines",
        "adaptive_softmax": "lm/words",
        "adaptive_div_value": "lm/words",
    },
    "regress": {
        "input": "regress/synthetic",
        "rnn": "regress/synthetic",
        "pooling": "regress/synthetic",
        "head_hidden": "regress/synthetic",
        "head_dropout": "regress/synthetic",
    },
    "seq2seq": {
        "embedding_size": "seq2seq/synthetic",
        "hidden_size": "seq2seq/synthetic",
        "encoder_hidden_size": "seq2seq/synthetic",
        "encoder_layers": "seq2seq/synthetic",
        "decoder_layers": "seq2seq/synthetic",
        "cell": "seq2seq/synthetic",
        "encoder_cell": "seq2seq/synthetic",
        "bidirectional": "seq2seq/parallel",
        "attention": "seq2seq/synthetic",
        "attention_size": "seq2seq/csv-path",
        "input_feeding": "seq2seq/synthetic",
        "dropout": "seq2seq/synthetic",
        "share_embeddings": "seq2seq/parallel",
        "tie_embeddings": "seq2seq/parallel",
        "reverse_source": "seq2seq/synthetic",
        "bridge": "seq2seq/csv-path",
        "teacher_forcing": "seq2seq/synthetic",
        "teacher_forcing_schedule": "seq2seq/synthetic",
        "teacher_forcing_k": "seq2seq/synthetic",
        "teacher_forcing_min": "seq2seq/synthetic",
        "label_smoothing": "seq2seq/synthetic",
        "beam_width": "seq2seq/synthetic",
        "length_penalty": "seq2seq/synthetic",
        "max_len_a": "seq2seq/synthetic",
        "max_len_b": "seq2seq/synthetic",
        "val_decode": "seq2seq/synthetic",
    },
    "tag": {
        "input": "tag/path",
        "rnn": "tag/path",
        "crf": "tag/path",
        "char_embedding_dim": "tag/path",
        "char_hidden_size": "tag/path",
        "head_dropout": "tag/path",
    },
}
SOURCES = {  # every data.source value a page lists -> the scenarios that read it
    "classify": {
        "csv": ["classify/csv-path", "classify/csv-files", "classify/csv-carve",
                "classify/csv-path-test-path", "classify/folds", "classify/pretrained"],
        "reader": ["classify/reader"],
        "folder": ["classify/folder", "classify/folder-flat"],
        "synthetic": ["classify/synthetic", "classify/fcn"],
    },
    "forecast": {
        "sines": ["forecast/sines"],
        "csv": ["forecast/csv-panel", "forecast/no-header-rows", "forecast/dates",
                "forecast/gaps"],
        "reader": ["forecast/reader-frame", "forecast/reader-splits"],
    },
    "lm": {
        "text": ["lm/path-lines", "lm/files", "lm/path-test-path", "lm/train-test", "lm/words"],
        "reader": ["lm/reader"],
    },
    "regress": {"synthetic": ["regress/synthetic"], "reader": ["regress/reader"]},
    "seq2seq": {
        "synthetic": ["seq2seq/synthetic"],
        "parallel": ["seq2seq/parallel"],
        "csv": ["seq2seq/csv-path", "seq2seq/csv-files"],
        "reader": ["seq2seq/reader"],
    },
    "tag": {
        "conll": ["tag/path", "tag/files", "tag/path-test-path"],
        "reader": ["tag/reader"],
    },
}  # fmt: skip
SHARED_KEYS = {  # the tables of docs/tasks/index.md: section -> key -> scenario
    "": {
        "task": "tag/path",
        "seed": "classify/csv-path-test-path",
        "out_dir": "classify/csv-path",
        "export": "regress/reader",
        "baselines": "regress/synthetic",
    },
    "model.input": {
        "embedding_dim": "classify/csv-path",
        "pretrained_embeddings": "classify/pretrained",
        "freeze_embeddings": "classify/pretrained",
        "projection": "classify/synthetic",
        "embedding_dropout": "classify/csv-path",
        "word_dropout": "classify/csv-path",
        "conv_channels": "classify/csv-files",
        "conv_kernel_size": "classify/csv-files",
    },
    "model.rnn": {
        "cell": "classify/csv-path",
        "hidden_size": "classify/csv-path",
        "num_layers": "classify/csv-path",
        "bidirectional": "classify/csv-files",
        "layers": "classify/pretrained",
        "dropout": "classify/csv-path",
        "recurrent_dropout": "classify/csv-carve",
        "zoneout": "classify/csv-carve",
        "residual": "classify/csv-carve",
        "highway": "classify/csv-path-test-path",
        "norm": "classify/csv-path-test-path",
        "dim_feedforward": "classify/csv-carve",
        "weight_dropout": "lm/path-lines",
        "layer_norm": "classify/csv-files",
        "activation": "classify/synthetic",
        "impl": "classify/csv-files",
        "checkpoint_steps": "classify/csv-files",
    },
    "optim": {
        "name": "classify/csv-path",
        "lr": "classify/csv-path",
        "weight_decay": "classify/csv-path",
        "momentum": "classify/csv-files",
        "nesterov": "classify/csv-files",
        "betas": "classify/csv-path",
        "eps": "classify/csv-path",
        "scheduler.name": "tag/path",
        "scheduler.step_size": "classify/csv-files",
        "scheduler.gamma": "classify/csv-files",
        "scheduler.factor": "tag/files",
        "scheduler.patience": "tag/files",
        "scheduler.min_lr": "tag/path",
        "scheduler.warmup_steps": "tag/path",
        "scheduler.horizon_epochs": "tag/path",
        "scheduler.cut_frac": "classify/finetune-ulmfit",
        "scheduler.ratio": "classify/finetune-ulmfit",
        "layer_lr_decay": "classify/finetune-ulmfit",
    },
    "regularizers": {
        "input_l1": "classify/reader",
        "input_l2": "classify/reader",
        "recurrent_l1": "classify/reader",
        "recurrent_l2": "classify/reader",
        "bias_l1": "classify/reader",
        "bias_l2": "classify/reader",
    },
    "trainer": {
        "max_epochs": "classify/csv-path",
        "max_steps": "lm/train-test",
        "min_steps": "forecast/csv-panel",
        "max_time": "classify/folds",
        "batch_size": "classify/csv-path",
        "shuffle": "classify/csv-carve",
        "accelerator": "classify/folds",
        "precision": "classify/folder-flat",
        "gradient_clip_norm": "classify/csv-carve",
        "gradient_clip_value": "classify/csv-files",
        "early_stopping_patience": "classify/csv-path",
        "monitor": "classify/csv-path",
        "mode": "classify/csv-path",
        "deterministic": "classify/csv-carve",
        "progress_bar": "classify/csv-path",
        "log_every_n_steps": "classify/csv-path",
        "limit_train_batches": "classify/csv-path",
        "limit_val_batches": "seq2seq/csv-files",
        "limit_test_batches": "seq2seq/csv-files",
        "val_check_interval": "tag/files",
        "tensorboard": "classify/csv-path",
        "num_workers": "classify/fcn",
        "num_threads": "classify/csv-path",
        "nonfinite": "tag/reader",
    },
    "finetune": {
        "init_from": "classify/finetune-frozen",
        "freeze": "classify/finetune-frozen",
        "unfreeze_at_epoch": "classify/finetune-unfreeze",
        "gradual_unfreeze": "classify/finetune-ulmfit",
    },
}
ELSEWHERE = {  # documented keys a one-process CPU run cannot exercise, and where they are
    "trainer.devices": "tests/tasks/test_task_scale.py: two DDP processes",
    "trainer.strategy": "tests/tasks/test_task_scale.py: two DDP processes",
    "trainer.num_nodes": "several machines",
}

# -- the cases ----------------------------------------------------------------------------------


def _schema(task: str, section: str) -> dict:
    spec = get_task(task)
    cls = spec.data_config if section == "data" else spec.model_config
    return to_dict(cls())


def _run_defaults() -> dict:
    from deeprnn.training.runner.config import RunConfig

    return to_dict(RunConfig())


def _get(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config[part]
    return config


def _key_cases():
    for task, keys in DATA.items():
        for key, name in keys.items():
            yield pytest.param(task, "data", key, name, id=f"{task}-data.{key}")
    for task, keys in MODEL.items():
        for key, name in keys.items():
            yield pytest.param(task, "model", key, name, id=f"{task}-model.{key}")
    for section, keys in SHARED_KEYS.items():
        for key, name in keys.items():
            task = name.split("/")[0]
            dotted = f"{section}.{key}" if section else key
            yield pytest.param(task, section, key, name, id=dotted)


@pytest.mark.parametrize("task,section,key,name", list(_key_cases()))
def test_documented_key(task, section, key, name, work):
    """The scenario that sets the key ran end to end (train, evaluate, predict) with its checks,
    and the run's config.yaml holds the key at a value other than its default."""
    result = run(name, work)
    if section in ("data", "model"):
        default = _schema(task, section)[key]
    elif section.startswith("model."):  # a task's own defaults (tag: bidirectional)
        default = _get(_schema(task, "model"), f"{section.split('.')[1]}.{key}")
    else:
        default = _get(_run_defaults(), f"{section}.{key}" if section else key)
    value = _get(result.config, f"{section}.{key}" if section else key)
    assert value != default, f"{name} leaves {section}.{key} at its default {default!r}"


def _source_cases():
    for task, values in SOURCES.items():
        for value, names in values.items():
            for name in names:
                yield pytest.param(task, value, name, id=f"{task}-{value}-{name.split('/')[1]}")


@pytest.mark.parametrize("task,value,name", list(_source_cases()))
def test_documented_source(task, value, name, work):
    result = run(name, work)
    assert result.config["data"]["source"] == value


def test_every_documented_key_has_a_scenario():
    """A key a page documents and no scenario sets fails here, and so does a registry entry
    for a key no page documents (or a scenario nobody names)."""
    problems = []
    for task in TASKS:
        for section, rows, reg in (
            ("data", data_keys(task), DATA.get(task, {})),
            ("model", model_keys(task), MODEL.get(task, {})),
        ):
            documented = {r.key for r in rows}
            problems += [f"{task}: {section}.{k} has no scenario" for k in documented - set(reg)]
            problems += [f"{task}: {section}.{k} is not documented" for k in set(reg) - documented]
        documented = set(sources(task))
        registered = set(SOURCES.get(task, {}))
        problems += [f"{task}: data.source {v} has no scenario" for v in documented - registered]
        problems += [f"{task}: data.source {v} is not documented" for v in registered - documented]
    for section, heading in SHARED.items():
        documented = {r.key for r in shared_keys(heading)}
        reg = set(SHARED_KEYS.get(section, {}))
        reg |= {k.split(".", 1)[1] for k in ELSEWHERE if k.split(".", 1)[0] == section}
        name = section or "top-level"
        problems += [f"index: {name} key {k} has no scenario" for k in documented - reg]
        problems += [f"index: {name} key {k} is not documented" for k in reg - documented]
    named = {n for keys in (*DATA.values(), *MODEL.values(), *SHARED_KEYS.values())
             for n in keys.values()}  # fmt: skip
    named |= {n for values in SOURCES.values() for names in values.values() for n in names}
    problems += [f"scenario {n} is named by no key" for n in set(SCENARIOS) - named]
    problems += [f"no scenario {n}" for n in named - set(SCENARIOS)]
    assert not problems, "\n".join(sorted(problems))


def _default_cases():
    for task in TASKS:
        for section, rows in (("data", data_keys(task)), ("model", model_keys(task))):
            yield pytest.param(task, section, rows, id=f"{task}-{section}")


@pytest.mark.parametrize("task,section,rows", list(_default_cases()))
def test_documented_defaults(task, section, rows):
    """Each row's default column is the schema's default (a mapping such as ``rnn``'s: the
    keys it shows); the table's keys are the config class's fields, no more, no fewer."""
    schema = _schema(task, section)
    wrong = [
        f"{task} {section}.{k} is not documented" for k in schema.keys() - {r.key for r in rows}
    ]
    for row in rows:
        if row.key not in schema:
            wrong.append(f"{task} {section}.{row.key} is documented but not a config key")
            continue
        if row.default is NO_DEFAULT:
            continue
        actual = schema[row.key]
        if isinstance(row.default, dict) and isinstance(actual, dict):
            actual = {k: actual.get(k) for k in row.default}
        if actual != row.default:
            wrong.append(f"{task} {section}.{row.key}: documented {row.text}, schema {actual!r}")
    assert not wrong, "\n".join(wrong)


def test_documented_shared_defaults():
    """The tables of docs/tasks/index.md (top-level keys, model.input, model.rnn, optim,
    regularizers, trainer, finetune) against their config classes."""
    from deeprnn.models import InputConfig, RNNConfig
    from deeprnn.tasks.optim import OptimConfig, RegularizerConfig
    from deeprnn.training.runner.config import FinetuneConfig, RunConfig, TrainerConfig

    classes = {"": RunConfig, "model.input": InputConfig, "model.rnn": RNNConfig,
               "optim": OptimConfig, "regularizers": RegularizerConfig,
               "trainer": TrainerConfig, "finetune": FinetuneConfig}  # fmt: skip
    wrong = []
    for section, cls in classes.items():
        schema = to_dict(cls())
        rows = shared_keys(SHARED[section])
        for row in rows:
            try:
                actual = _get(schema, row.key)
            except KeyError:
                wrong.append(f"{section}.{row.key} is documented but not a key")
                continue
            if actual != row.default:
                wrong.append(f"{section}.{row.key}: documented {row.text}, schema {actual!r}")
        keys = {k for k, v in schema.items() if not isinstance(v, dict) or k == "reader_args"}
        keys |= {f"{k}.{kk}" for k, v in schema.items() if isinstance(v, dict) for kk in v}
        if section == "":
            keys = {k for k in keys if "." not in k and k not in ("data", "model")}
            keys -= {"optim", "regularizers", "trainer", "finetune"}
        undocumented = keys - {r.key for r in rows}
        wrong += [f"{section}.{k} is not documented" for k in sorted(undocumented)]
    assert not wrong, "\n".join(wrong)


def test_the_tables_are_read():
    """The parser sees what the pages hold (a guard against a table it silently skips)."""
    assert {r.key for r in data_keys("seq2seq")} >= {"src_lang", "tgt_lang", "max_tgt_len"}
    assert [r.default for r in data_keys("seq2seq") if r.key in ("src_lang", "tgt_lang")] == [
        "en",
        "de",
    ]
    assert sources("classify") == ["csv", "reader", "folder", "synthetic"]
    assert sources("regress") == ["synthetic", "reader"]
    assert len(shared_keys(SHARED["trainer"])) > 20
    assert sys.modules[ME] is not None and re.match(r"\w+", ME)
