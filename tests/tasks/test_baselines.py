"""The baselines beside every task (:mod:`deeprnn.tasks.baselines`): known answers on data each
test writes, the ``baselines`` key, the missing-extra line and the console's headline."""

from __future__ import annotations

import logging
import math
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from deeprnn._headline import BASELINES, headline
from deeprnn.tasks import ClassifyData
from deeprnn.tasks._ngram import KneserNey, Unigram
from deeprnn.tasks.baselines import ALL_NAMES, NAMES, check_selection, chosen, compute
from deeprnn.tasks.classify_data import ClassifyDataConfig
from deeprnn.training import run_config_from_dict


def labelled_csv(path, labels: list[str], words: dict | None = None):
    words = words or {}
    rows = ["text,label"] + [
        f"{words.get(y, 'some text here')} {i},{y}" for i, y in enumerate(labels)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def classify_data(tmp_path, train, val, test, words=None) -> ClassifyData:
    cfg = ClassifyDataConfig(
        source="csv",
        train_path=labelled_csv(tmp_path / "train.csv", train, words),
        val_path=labelled_csv(tmp_path / "val.csv", val, words),
        test_path=labelled_csv(tmp_path / "test.csv", test, words),
    )
    return ClassifyData(cfg, batch_size=8).prepare()


def test_every_prefix_is_registered_once_with_a_label():
    for name in ALL_NAMES:
        assert BASELINES.get(f"{name}_"), name
    assert set(ALL_NAMES) <= {p.rstrip("_") for p in BASELINES}


def test_majority_class_on_a_70_30_split_scores_0_7(tmp_path):
    dm = classify_data(
        tmp_path, ["a"] * 70 + ["b"] * 30, ["a"] * 6 + ["b"] * 4, ["a"] * 7 + ["b"] * 3
    )
    out = compute("classify", dm, ["majority"])
    assert out["test_majority_acc"] == pytest.approx(0.7)
    assert out["val_majority_acc"] == pytest.approx(0.6)
    # macro F1 of always "a": F1(a) = 2 * 0.7 / 1.7, F1(b) = 0
    assert out["test_majority_f1"] == pytest.approx((2 * 0.7 / 1.7) / 2)
    assert not any("tfidf" in k for k in out)  # only what was named


def test_majority_is_the_training_split_s_not_the_test_split_s(tmp_path):
    dm = classify_data(tmp_path, ["a"] * 6 + ["b"] * 4, ["b"] * 5, ["b"] * 8 + ["a"] * 2)
    out = compute("classify", dm, ["majority"])
    assert out["test_majority_acc"] == pytest.approx(0.2)  # predicts "a", test is mostly "b"
    assert out["val_majority_acc"] == 0.0


def test_tfidf_reads_the_words_that_decide_the_label(tmp_path):
    words = {"pos": "good great film", "neg": "bad awful film"}
    train = ["pos", "neg"] * 30
    dm = classify_data(tmp_path, train, ["pos", "neg"] * 5, ["neg"] * 7 + ["pos"] * 3, words)
    out = compute("classify", dm, True)
    assert out["test_tfidf_acc"] == 1.0 and out["val_tfidf_acc"] == 1.0
    assert out["test_majority_acc"] in (0.3, 0.7)
    assert not any("minirocket" in k for k in out)  # text data: no series baseline


def test_a_refit_scores_no_baseline_on_its_training_data_as_val(tmp_path, caplog):
    """A refit (``data.refit``) trains on train + val: its "val" split is the training data,
    so no baseline reports a val score there, and TF-IDF's C is chosen by cross-validation of
    the training split instead of on it."""
    words = {"pos": "good great film", "neg": "bad awful film"}
    cfg = ClassifyDataConfig(
        source="csv",
        train_path=labelled_csv(tmp_path / "train.csv", ["pos", "neg"] * 20, words),
        val_path=labelled_csv(tmp_path / "val.csv", ["pos", "neg"] * 5, words),
        test_path=labelled_csv(tmp_path / "test.csv", ["neg"] * 7 + ["pos"] * 3, words),
        folds=3,
        refit=True,
    )
    dm = ClassifyData(cfg, batch_size=8).prepare()
    assert not dm.val_held_out and len(dm.raw_splits["train"]) == 50
    with caplog.at_level(logging.INFO, logger="deeprnn.baselines"):
        out = compute("classify", dm, ["majority", "tfidf"])
    assert out and not [k for k in out if k.startswith("val_")]
    assert out["test_tfidf_acc"] == 1.0 and out["test_majority_acc"] == pytest.approx(0.7)
    assert "the best 5-fold accuracy on the training split" in caplog.text
    held = classify_data(tmp_path, ["pos", "neg"] * 20, ["pos", "neg"] * 5, ["neg"] * 10, words)
    assert held.val_held_out and "val_majority_acc" in compute("classify", held, ["majority"])


def test_minirocket_beats_the_majority_class_on_series():
    pytest.importorskip("aeon")
    cfg = ClassifyDataConfig(source="synthetic", num_examples=200, sequence_length=20)
    dm = ClassifyData(cfg, batch_size=8, seed=0).prepare()
    out = compute("classify", dm, True)
    assert out["test_minirocket_acc"] > out["test_majority_acc"] + 0.15
    assert not any("tfidf" in k for k in out)


def test_a_missing_extra_is_one_line_naming_it_and_never_a_failure(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "aeon", None)  # import aeon raises ImportError
    cfg = ClassifyDataConfig(source="synthetic", num_examples=60)
    dm = ClassifyData(cfg, batch_size=8).prepare()
    with caplog.at_level(logging.WARNING, logger="deeprnn.baselines"):
        out = compute("classify", dm, True)
    assert "test_majority_acc" in out and not any("minirocket" in k for k in out)
    lines = [r.getMessage() for r in caplog.records if "minirocket" in r.getMessage()]
    assert len(lines) == 1 and "pip install 'deeprnn[baselines]'" in lines[0]


def test_the_key_turns_them_off_and_rejects_unknown_names():
    assert chosen("classify", False) == ([], False)
    assert chosen("classify", True) == (list(NAMES["classify"]), False)
    assert chosen("forecast", ["ets", "majority"]) == (["ets"], True)
    assert compute("classify", SimpleNamespace(), False) == {}
    with pytest.raises(
        ValueError, match=r"config\.baselines names unknown baseline\(s\) \['etz'\]"
    ):
        run_config_from_dict({"task": "forecast", "baselines": ["etz"]})
    with pytest.raises(ValueError, match="baselines must be true, false or a list"):
        check_selection("yes")
    assert run_config_from_dict({"task": "lm"}).baselines is True


# -- tag ------------------------------------------------------------------------------------------
def test_most_frequent_tag_per_word_and_the_overall_tag_for_unknown_words():
    itos = ["[PAD]", "[UNK]", "the", "cat", "paris"]
    labels = ["B-LOC", "B-PER", "O"]  # ids 0, 1, 2
    sent = lambda ws, ts: ([itos.index(w) for w in ws], [], [labels.index(t) for t in ts])  # noqa: E731
    train = [
        sent(["the", "cat", "paris"], ["O", "B-PER", "B-LOC"]),
        sent(["the", "the", "paris"], ["O", "O", "B-LOC"]),  # O 4 times, B-LOC 3: O overall
        sent(["cat", "the"], ["B-LOC", "O"]),  # cat: B-PER once, B-LOC once -> the smaller id
    ]
    test = [sent(["paris", "cat", "[UNK]"], ["B-LOC", "B-PER", "B-PER"])]
    dm = SimpleNamespace(
        splits={"train": train, "val": test, "test": test},
        artifacts={"vocab": itos, "labels": labels},
        test_split=lambda: "test",
    )
    out = compute("tag", dm, True)
    # predicted: paris B-LOC (right), cat B-LOC (tie -> B-LOC; gold B-PER), [UNK] -> O (overall)
    # entities: gold {LOC@0, PER@1, PER@2}, predicted {LOC@0, LOC@1}: 1 right
    p, r = 1 / 2, 1 / 3
    assert out["test_mft_precision"] == pytest.approx(p)
    assert out["test_mft_recall"] == pytest.approx(r)
    assert out["test_mft_f1"] == pytest.approx(2 * p * r / (p + r))
    assert out["test_mft_acc"] == pytest.approx(1 / 3)


# -- lm -------------------------------------------------------------------------------------------
def test_unigram_perplexity_by_hand():
    model = Unigram([[1, 2, 2, 3]], vocab_size=5)  # counts 1:1 2:2 3:1, N=4, V=5
    nats = model.nats([[2, 3, 4]])  # predicted: 3 (2/9) and 4 (1/9); 2 is context only
    assert math.exp(nats) == pytest.approx(math.sqrt(81 / 2))


def test_kneser_ney_is_a_distribution_in_seen_and_unseen_contexts():
    rng = np.random.default_rng(0)
    train = [rng.integers(2, 12, size=50).tolist() for _ in range(5)]
    model = KneserNey(train, vocab_size=14)
    for u, v in ((train[0][0], train[0][1]), (-1, -1), (13, 13), (-1, train[1][0])):
        assert sum(model.prob(u, v, w) for w in range(14)) == pytest.approx(1.0)
    repetitive = [[2, 3, 4] * 30]
    trigram, unigram = KneserNey(repetitive, 6), Unigram(repetitive, 6)
    assert trigram.nats([[2, 3, 4, 2, 3]]) < 0.2 < unigram.nats([[2, 3, 4, 2, 3]])


def test_lm_baselines_on_the_tokens_the_model_predicts(tmp_path):
    from deeprnn.tasks import LMData
    from deeprnn.tasks.lm_data import LMDataConfig

    text = "abcabcabc abc abcab " * 40
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    cfg = LMDataConfig(source="text", path=str(tmp_path / "t.txt"), level="char", bptt=8)
    dm = LMData(cfg, batch_size=2).prepare()
    out = compute("lm", dm, True)
    assert set(out) >= {"test_unigram_ppl", "test_unigram_bpc", "val_trigram_ppl"}
    assert out["test_trigram_ppl"] < out["test_unigram_ppl"]
    assert out["test_unigram_bpc"] == pytest.approx(math.log2(out["test_unigram_ppl"]))


# -- seq2seq and regress ------------------------------------------------------------------------
def test_copy_of_identical_source_and_target_scores_bleu_100():
    pairs = ["a small house by the lake", "the cat sat on the mat today"]
    dm = SimpleNamespace(
        sources={"val": pairs, "test": pairs},
        references={"val": pairs, "test": ["something else entirely here", pairs[1]]},
        artifacts={"lower": False},
        test_split=lambda: "test",
    )
    out = compute("seq2seq", dm, True)
    assert out["val_copy_bleu"] == pytest.approx(100.0)
    assert out["val_copy_exact"] == pytest.approx(100.0)
    assert out["test_copy_bleu"] < 100.0


def test_regress_training_mean():
    y = lambda *v: (torch.zeros(3, 1), torch.tensor(v, dtype=torch.float32))  # noqa: E731
    dm = SimpleNamespace(
        splits={"val": [y(1.0), y(3.0)], "test": [y(0.0)]},
        artifacts={"train_mean": [2.0]},
        test_split=lambda: "test",
    )
    out = compute("regress", dm, True)
    assert out["val_mean_mse"] == 1.0 and out["val_mean_mae"] == 1.0
    assert out["test_mean_mse"] == 4.0 and out["test_mean_mae"] == 2.0


# -- the headline line --------------------------------------------------------------------------
def test_headline_says_whether_the_network_beat_them():
    line = headline({"test_acc": 0.85, "test_majority_acc": 0.5, "test_tfidf_acc": 0.9})
    assert line.startswith("test acc 0.85: 1.70x better than majority class (0.5)")
    assert "worse than TF-IDF + logistic regression (0.9)" in line


def test_a_tagger_leads_with_entity_f1_not_token_accuracy(tmp_path, capsys):
    """Token accuracy is high for a tagger that says "O" everywhere: the tag task names its own
    headline metric (seqeval F1) in metrics.json, and the console line leads with it."""
    import json

    from _tiny import tiny_config

    from deeprnn.cli import main
    from deeprnn.training import dump_yaml

    cfg = tiny_config("tag", tmp_path / "data", tmp_path / "run", max_epochs=1)
    cfg["baselines"] = ["mft"]
    cfg["export"] = False
    (tmp_path / "c.yaml").write_text(dump_yaml(cfg))
    assert main(["train", "-c", str(tmp_path / "c.yaml")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["headline_metric"] == "f1" and "test_acc" in metrics
    out = capsys.readouterr().out.splitlines()
    assert [ln for ln in out if ln.startswith("test f1 ")]
    assert not [ln for ln in out if ln.startswith("test acc ")]


def test_train_prints_the_headline_line(tmp_path, capsys):
    from _tiny import tiny_config

    from deeprnn.cli import main
    from deeprnn.training import dump_yaml

    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=1)
    cfg["baselines"] = ["majority"]
    cfg["export"] = False
    (tmp_path / "c.yaml").write_text(dump_yaml(cfg))
    assert main(["train", "-c", str(tmp_path / "c.yaml")]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("test acc ")]
    assert len(lines) == 1
    assert "than majority class (" in lines[0] and "[on the test split: " in lines[0]


def test_a_costly_baseline_beyond_its_cap_is_a_line_unless_named(tmp_path, monkeypatch, caplog):
    import deeprnn.tasks.baselines as b

    words = {"pos": "good film", "neg": "bad film"}
    dm = classify_data(tmp_path, ["pos", "neg"] * 10, ["pos", "neg"] * 2, ["pos", "neg"], words)
    monkeypatch.setattr(b, "TFIDF_MAX_CHARS", 10)
    with caplog.at_level(logging.WARNING, logger="deeprnn.baselines"):
        out = compute("classify", dm, True)
    assert "test_majority_acc" in out and "test_tfidf_acc" not in out
    said = [r.getMessage() for r in caplog.records if "tfidf" in r.getMessage()]
    assert len(said) == 1 and "name it in the baselines key" in said[0]
    assert "test_tfidf_acc" in compute("classify", dm, ["tfidf"])  # named: the cap is lifted
