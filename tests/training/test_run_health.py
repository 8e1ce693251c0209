"""A run checks itself (issue 26, part 2) and small data gets enough steps (item 7): every
warning of deeprnn.training.runner.health on a tiny run made to deserve it, a healthy run with
none, and ``trainer.batch_size: null`` resolved from the training split."""

from __future__ import annotations

import json
import logging
import math

import lightning.pytorch as pl
import pytest
import torch
import yaml
from _tiny import tiny_config

from deeprnn.tasks._data import auto_batch_size
from deeprnn.training import TrainerConfig, fit_run, run_config_from_dict
from deeprnn.training.runner import health


def _fit(cfg: dict, **kwargs):
    return fit_run(run_config_from_dict(cfg), **kwargs)


def _numeric(tmp_path, n: int, **trainer) -> dict:
    """A classifier of synthetic sequences: n examples (80 / 10 / 10 %)."""
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / "run", **trainer)
    cfg["data"]["num_examples"] = n
    return cfg


def _has(warnings: list[str], text: str) -> list[str]:
    return [w for w in warnings if text in w]


def test_a_healthy_run_has_no_warnings(tmp_path, caplog):
    # 320 training examples / 16 = 20 steps per epoch, 5 epochs = 100 steps; 40 validation
    # examples of both classes; the model improves after its first epoch
    cfg = _numeric(tmp_path, 400, max_epochs=5)
    with caplog.at_level(logging.WARNING, logger="deeprnn.training"):
        result = _fit(cfg)
    assert result.metrics["warnings"] == [] == result.warnings
    written = json.loads((result.run_dir / "metrics.json").read_text())
    assert written["warnings"] == []
    assert written["training"] == {
        "batch_size": 16,
        "batch_size_auto": False,
        "epochs": 5,
        "max_epochs": 5,
        "min_steps": 0,
        "optimizer_steps": 100,
        "steps_per_epoch": 20,
        "monitor": "val_loss",
        "best_epoch": written["training"]["best_epoch"],
        "stopped_by": "max_epochs",
    }
    assert written["training"]["best_epoch"] > 1
    assert not [r for r in caplog.records if r.getMessage().startswith("run health")]


def test_too_few_steps_in_all_and_per_epoch(tmp_path, caplog):
    cfg = _numeric(tmp_path, 120, max_epochs=2, batch_size=32)  # 96 / 32 = 3 steps an epoch
    with caplog.at_level(logging.WARNING, logger="deeprnn.training"):
        result = _fit(cfg)
    w = result.metrics["warnings"]
    assert _has(w, "only 6 optimizer steps in all (2 epoch(s) of 3 steps; 96 training examples")
    assert _has(w, "only 3 optimizer step(s) per epoch (96 training examples, batch_size 32)")
    assert _has(w, "the validation split has only 12 examples (fewer than 30)")
    logged = [r.getMessage() for r in caplog.records]
    for line in w:
        assert f"run health: {line}" in logged


class _Hold(pl.Callback):
    """Put back the weights of the end of the first epoch after every later step: every later
    validation scores exactly as the first did, so the first stays the best."""

    def on_train_epoch_end(self, trainer, module):
        if trainer.current_epoch == 0:
            self.state = {k: v.clone() for k, v in module.state_dict().items()}

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.current_epoch > 0:
            module.load_state_dict(self.state)


def test_best_validation_at_the_first_epoch(tmp_path):
    result = _fit(_numeric(tmp_path, 400, max_epochs=3), extra_callbacks=[_Hold()])
    assert result.metrics["training"]["best_epoch"] == 1
    assert _has(result.warnings, "the best val_loss on the validation split was at the first of 3")


def test_stopped_by_max_time_says_after_how_many_epochs(tmp_path):
    result = _fit(_numeric(tmp_path, 400, max_epochs=30, max_time=1e-6))
    assert result.metrics["training"]["stopped_by"] == "max_time"
    assert _has(result.warnings, "training stopped by trainer.max_time (1e-06 s) after 1 of 30")


def test_a_class_missing_from_validation(tmp_path):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / "run", max_epochs=1)
    cfg["data"] = {"source": "reader", "reader": "test_run_health:val_of_one_class"}
    result = _fit(cfg)
    assert _has(result.warnings, "has no example of 1 of the 2 classes ('no')")


def val_of_one_class() -> dict:
    """A ``data.reader``: the validation split holds only 'yes' examples."""
    rows = [([w, "x"], w) for w in ("yes", "no") for _ in range(20)]
    return {"train": rows, "val": [(["yes", "y"], "yes")] * 30, "test": rows[:10]}


class _Poison(pl.Callback):
    """NaN inputs in the batch of one global step: a non-finite loss."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == 2:
            batch[0].fill_(float("nan"))


def test_a_skipped_non_finite_loss(tmp_path):
    cfg = _numeric(tmp_path, 120, max_epochs=1, nonfinite="skip")
    result = _fit(cfg, extra_callbacks=[_Poison()])
    assert result.skipped_steps == [2]
    assert _has(result.warnings, "trainer.nonfinite: skip dropped 1 batch(es) with a NaN/Inf")
    assert _has(result.warnings, "(global steps [2])")


def test_interval_coverage_far_from_its_level():
    got = health.metric_warnings({"test_coverage_80": 0.52, "val_coverage_80": 0.1})
    assert got == [
        "the 80% prediction interval covers 52% of the test split's values (|coverage - "
        "level| = 0.28 > 0.15): its intervals are miscalibrated"
    ]
    assert health.metric_warnings({"test_coverage_80": 0.7}) == []


def test_a_probabilistic_forecast_run_checks_its_coverage(tmp_path):
    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "run", max_epochs=1)
    cfg["model"]["likelihood"] = "gaussian"
    result = _fit(cfg)
    coverage = result.metrics["test_coverage_80"]
    far = abs(coverage - 0.8) > 0.15
    assert bool(_has(result.warnings, "80% prediction interval covers")) == far
    assert health.metric_warnings(result.metrics) == _has(result.warnings, "prediction interval")


# -- small data gets enough steps (issue 26 item 7) ---------------------------------------------


def test_auto_batch_size():
    assert TrainerConfig().batch_size is None
    assert [auto_batch_size(n) for n in (100_000, 512, 511, 300, 128, 100, 0)] == [
        32,
        32,
        31,
        18,
        8,
        8,
        8,
    ]
    assert auto_batch_size(1024, world=4) == 16  # 16 steps of 4 processes x 16
    with pytest.raises(ValueError, match=r"trainer.batch_size must be >= 1 or null \(auto\)"):
        run_config_from_dict({"trainer": {"batch_size": 0}})


def _short_series(tmp_path) -> dict:
    """A ~100-point series given with the data keys only (the item 7 case)."""
    path = tmp_path / "short.csv"
    values = [10 + 3 * math.sin(2 * math.pi * t / 12) + 0.1 * t for t in range(100)]
    path.write_text("value\n" + "\n".join(f"{v:.4f}" for v in values) + "\n")
    return {
        "task": "forecast",
        "out_dir": str(tmp_path / "run"),
        "data": {"source": "csv", "path": str(path), "input_window": 12, "horizon": 1},
        "model": {"rnn": {"hidden_size": 8}},
        "trainer": {"max_epochs": 2, "progress_bar": False, "tensorboard": False},
    }


def test_a_small_training_split_gets_a_smaller_batch_recorded_everywhere(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="deeprnn.training"):
        result = _fit(_short_series(tmp_path))
    train = result.metrics["data"]["train"]["examples"]  # windows of the 70 training rows
    assert train == 70 - 12
    training = result.metrics["training"]
    assert training["batch_size"] == 8 and training["batch_size_auto"] is True
    assert training["steps_per_epoch"] == -(-train // 8) == 8  # was 2 with 32
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["trainer"]["batch_size"] == 8  # the value trained with reproduces the run
    assert any("trainer.batch_size: 8 (auto" in r.getMessage() for r in caplog.records)


def test_an_explicit_batch_size_is_kept(tmp_path):
    cfg = _short_series(tmp_path)
    cfg["trainer"]["batch_size"] = 32
    result = _fit(cfg)
    assert result.metrics["training"]["batch_size"] == 32
    assert result.metrics["training"]["batch_size_auto"] is False
    assert result.metrics["training"]["steps_per_epoch"] == 2
    assert _has(result.warnings, "only 2 optimizer step(s) per epoch (58 training windows")


def test_auto_batch_size_counts_a_language_models_stream_in_bptt_chunks(tmp_path):
    from deeprnn.tasks import LMData, LMDataConfig

    (tmp_path / "t.txt").write_text("abcdefghij" * 300)  # 3000 characters, 2700 to train
    dm = LMData(LMDataConfig(path=str(tmp_path / "t.txt"), bptt=10)).prepare()
    assert dm.split_size("train") == (2700, "tokens") and dm.batch_rows() == 270
    assert dm.batch_size == auto_batch_size(270) == 16
    assert torch.is_tensor(next(iter(dm.train_dataloader()))["x"])
