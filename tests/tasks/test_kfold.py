"""k-fold cross-validation: stratified folds, the folder source of classify, the fold loop and
its summary (mean ± sample std), and ``deeprnn train`` with ``data.folds``."""

import json
import random
import statistics
from collections import Counter

import pytest
from _tiny import QUIET

from deeprnn.tasks.classify_data import ClassifyData, stratified_folds
from deeprnn.training import run_config_from_dict
from deeprnn.training.runner.kfold import fit_folds, fold_run, summarize_folds, summary_table


def write_corpus(root, n=24, seed=0, test=False):
    """pos/ and neg/ folders of tiny reviews (optionally under train/ and test/)."""
    rng = random.Random(seed)
    words = {"pos": ["good", "great", "fine"], "neg": ["bad", "awful", "poor"]}
    filler = ["the", "film", "was", "plot", "and", "very"]
    for split, count in (("train", n), ("test", n // 2)) if test else ((None, n),):
        for label in ("pos", "neg"):
            folder = root / split / label if split else root / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                text = " ".join([*rng.choices(filler, k=3), rng.choice(words[label])])
                (folder / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    return root


def data_module(path, seed=0, **data):
    run = run_config_from_dict(
        {"seed": seed, "data": {"source": "folder", "path": str(path), **data}}
    )
    return ClassifyData(run.data, seed=seed).prepare()


def test_stratified_folds_partition_and_balance():
    items = [(i, "a") for i in range(23)] + [(i, "b") for i in range(100, 107)]
    folds = stratified_folds(items, 5, seed=3)
    assert sorted(x for f in folds for x in f) == sorted(items)  # a partition of the items
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for label, total in (("a", 23), ("b", 7)):
        counts = [sum(y == label for _, y in f) for f in folds]
        assert max(counts) - min(counts) <= 1 and sum(counts) == total
    assert stratified_folds(items, 5, seed=3) == folds
    assert stratified_folds(items, 5, seed=4) != folds
    with pytest.raises(ValueError, match=r"data.folds=5 needs at least 5 training examples, got 3"):
        stratified_folds(items[:3], 5, seed=0)


def test_folder_source_splits(tmp_path):
    flat = data_module(write_corpus(tmp_path / "flat", n=20), val_fraction=0.2, test_fraction=0.1)
    sizes = {k: len(v) for k, v in flat.splits.items()}
    assert sizes == {"train": 28, "val": 8, "test": 4}  # 20% / 10% of every class
    assert sorted(flat.artifacts["labels"]) == ["neg", "pos"]
    given = data_module(write_corpus(tmp_path / "tt", n=20, test=True), val_fraction=0.1)
    assert {k: len(v) for k, v in given.splits.items()} == {"train": 36, "val": 4, "test": 20}
    with pytest.raises(FileNotFoundError, match=r"data.path: no such file or folder"):
        data_module(tmp_path / "missing")


def test_fold_splits(tmp_path):
    flat = write_corpus(tmp_path / "flat", n=15)
    docs = Counter(tuple(p.read_text().split()) for p in sorted(flat.glob("*/*.txt")))
    vals = Counter()
    for fold in range(3):
        dm = data_module(flat, folds=3, fold=fold)
        assert dm.fold_info == {
            "fold": fold,
            "folds": 3,
            "train_size": 20,
            "val_size": 10,
            "test_is_fold": True,
        }
        assert "test" not in dm.splits  # the fold is the test split too
        itos = dm.artifacts["vocab"]
        vals.update(tuple(itos[i] for i in ids) for ids, _ in dm.splits["val"])
    assert vals == docs  # the folds' validation sets partition the corpus
    given = data_module(write_corpus(tmp_path / "tt", n=15, test=True), folds=3, fold=1)
    assert len(given.splits["test"]) == 14 and not given.fold_info["test_is_fold"]
    assert given.fold_info["train_size"] == 20 and given.fold_info["val_size"] == 10


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"folds": 1}, r"config.data.folds must be an int >= 2 or null, got 1"),
        ({"fold": 2}, r"config.data.fold=2 needs config.data.folds"),
        ({"folds": 3, "fold": 3}, r"config.data.fold must be in \[0, 2\] .* got 3"),
        ({"source": "folder"}, r"config.data.source='folder' needs config.data.path"),
        ({"max_per_class": 0}, r"max_per_class must be a positive int or null, got 0"),
    ],
)
def test_bad_fold_configs(data, message):
    with pytest.raises(ValueError, match=message):
        run_config_from_dict({"data": data})


def test_one_run_of_k_folds_needs_its_fold(tmp_path):
    run = run_config_from_dict({"data": {"folds": 4}})
    with pytest.raises(ValueError, match=r"data.folds=4 with data.fold unset: .* \[0, 3\]"):
        ClassifyData(run.data).prepare()
    one = fold_run(run, 2)
    assert one.data.fold == 2 and one.out_dir.endswith("fold_2") and run.data.fold is None
    with pytest.raises(ValueError, match=r"fold must be an int in \[0, 3\], got 4"):
        fold_run(run, 4)
    with pytest.raises(ValueError, match="task 'lm' does not support k-fold"):
        fit_folds(run_config_from_dict({"task": "lm"}))


def test_summary_mean_and_sample_std():
    per_fold = [
        {"fold": i, "metrics": {"test_acc": a, "test_loss": b, "note": "x"}}
        for i, (a, b) in enumerate([(0.8, 0.5), (0.9, 0.4), (0.7, 0.7)])
    ]
    s = summarize_folds(per_fold)
    acc = s["metrics"]["test_acc"]
    assert acc["mean"] == pytest.approx(0.8)
    assert acc["std"] == pytest.approx(statistics.stdev([0.8, 0.9, 0.7]))  # ddof=1
    assert (acc["min"], acc["max"], acc["values"]) == (0.7, 0.9, [0.8, 0.9, 0.7])
    assert "note" not in s["metrics"] and s["folds"] == s["completed"] == 3
    table = summary_table({**s, "test_is_fold": True})
    assert "| mean ± std | 0.8000 ± 0.1000 | 0.5333 ± 0.1528 |" in table
    assert "held-out fold" in table
    partial = summarize_folds(per_fold[:1], folds=3)
    assert partial["metrics"]["test_acc"]["std"] is None and partial["completed"] == 1
    assert "| mean ± std | 0.8000 |" in summary_table(partial)


def test_deeprnn_train_runs_every_fold(tmp_path, capsys):
    from deeprnn.cli import main

    corpus = write_corpus(tmp_path / "corpus", n=12)
    out = tmp_path / "cv"
    args = ["train", "--task", "classify", "--out_dir", str(out), "--data.source", "folder"]
    args += ["--data.path", str(corpus), "--data.folds", "2", "--trainer.max_epochs", "1"]
    args += ["--model.input.embedding_dim", "8", "--model.rnn.hidden_size", "8"]
    args += ["--trainer.batch_size", "8", "--export", "false"]
    args += [f"--trainer.{k}={json.dumps(v)}" for k, v in QUIET.items()]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| mean ± std |" in printed and f"wrote {out / 'summary.json'}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["folds"] == summary["completed"] == 2 and summary["test_is_fold"]
    accs = []
    for i, entry in enumerate(summary["per_fold"]):
        metrics = json.loads((out / f"fold_{i}" / "metrics.json").read_text())
        assert entry["metrics"] == metrics and entry["run_dir"] == f"fold_{i}"
        assert (out / f"fold_{i}" / "config.yaml").is_file()
        accs.append(metrics["test_acc"])
    assert summary["metrics"]["test_acc"]["mean"] == pytest.approx(sum(accs) / 2)
    assert summary["metrics"]["test_acc"]["std"] == pytest.approx(statistics.stdev(accs))
    assert (out / "summary.md").read_text().startswith("# 2-fold cross-validation (2 done)")
    assert main([*args, "--resume", str(out / "fold_0" / "checkpoints" / "last.ckpt")]) == 2
