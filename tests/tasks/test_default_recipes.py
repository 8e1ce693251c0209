"""The default recipe on data nobody tuned it on: with only the data keys set, each task's
defaults (model sizes, Adam, the plateau schedule, early stopping with the best checkpoint
restored for test, clipping) beat the trivial baseline on files the test writes itself. The
forecast task's case is in test_forecast_recipes.py (beats the naive forecast, with and without
a trend)."""

from __future__ import annotations

import csv
import random

from deeprnn.training import fit, run_config_from_dict

QUIET = {"progress_bar": False, "tensorboard": False, "num_threads": 1}


def write_reviews(path, n: int = 400, seed: int = 0):
    """CSV text,label: 60% "neg"; a review's label shows in a few of its words among noise."""
    rng = random.Random(seed)
    cue = {"pos": ["good", "great", "fine", "superb"], "neg": ["bad", "awful", "dull", "poor"]}
    noise = [
        "the",
        "a",
        "film",
        "plot",
        "actor",
        "scene",
        "story",
        "was",
        "is",
        "and",
        "it",
        "this",
        "very",
        "quite",
    ]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for _ in range(n):
            label = "neg" if rng.random() < 0.6 else "pos"
            words = [rng.choice(noise) for _ in range(rng.randint(6, 14))]
            for _ in range(2):
                words.insert(rng.randrange(len(words) + 1), rng.choice(cue[label]))
            w.writerow([" ".join(words), label])
    return path


def test_classify_default_recipe_beats_the_majority_class(tmp_path):
    path = write_reviews(tmp_path / "reviews.csv")
    cfg = {"task": "classify", "seed": 0, "out_dir": str(tmp_path / "run"), "export": False,
           "data": {"source": "csv", "path": str(path)}, "trainer": QUIET}  # fmt: skip
    result = fit(run_config_from_dict(cfg))
    with open(path) as f:
        labels = [r["label"] for r in csv.DictReader(f)]
    majority = max(labels.count(v) for v in set(labels)) / len(labels)
    assert majority > 0.55
    assert result.metrics["test_acc"] > majority + 0.15
    # early stopping and the schedule ran: the LR monitor logged, training stopped by itself
    with open(tmp_path / "run" / "logs" / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(k.startswith("lr-") for k in rows[0])
    epochs = {r["epoch"] for r in rows if r.get("val_loss")}
    assert 1 <= len(epochs) <= 30
