"""Training on panels (issue 29): ``trainer.max_steps`` shorter than an epoch, and
``data.windows_per_epoch`` across 2 CPU processes (gloo)."""

import json

import pytest
import torch
from _tiny import tiny_config, train_cli

from deeprnn.training import fit_run, run_config_from_dict


def test_max_steps_shorter_than_an_epoch_validates_and_ends_cleanly(tmp_path):
    """Lightning stopped mid-epoch without validating, and early stopping raised on the missing
    ``val_loss``; the run now validates at the last step and records what stopped it."""
    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "run", max_epochs=5, max_steps=2)
    cfg["trainer"]["early_stopping_patience"] = 2
    result = fit_run(run_config_from_dict(cfg))
    training = result.metrics["training"]
    assert training["optimizer_steps"] == 2 < training["steps_per_epoch"]
    assert training["stopped_by"] == "max_steps" and training["best_epoch"] == 1
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test_mse"] == result.metrics["test_mse"]
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()


GLOBAL = {"data": {"series_scaler": "mean"}, "model": {"series_embedding": 2}}


@pytest.mark.parametrize("extra", [{}, GLOBAL], ids=["plain", "series-scaler-and-embedding"])
def test_two_gloo_processes_draw_halves_of_the_one_process_windows(tmp_path, extra):
    """``data.windows_per_epoch`` under DDP: rank r takes every second window of the one global
    draw, so 2 processes with batch 8 step as 1 process with batch 16 (same weights, the same
    number of steps on each rank), and the test metrics are reduced over both ranks' windows;
    so too with the series read by the model (per-series scaling, the id embedding)."""
    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "one", max_epochs=2)
    cfg["data"]["windows_per_epoch"] = 64
    for part, keys in extra.items():
        cfg[part].update(keys)
    cfg["trainer"].update(batch_size=16, accelerator="cpu", early_stopping_patience=None)
    cfg["export"] = False
    one = dict(cfg, out_dir=str(tmp_path / "one"))
    two = dict(cfg, out_dir=str(tmp_path / "two"))
    two["trainer"] = dict(cfg["trainer"], batch_size=8)
    a = train_cli(one, tmp_path, "one")
    b = train_cli(two, tmp_path, "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}")
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m1["training"]["optimizer_steps"] == m2["training"]["optimizer_steps"] == 2 * 4
    assert m2["data"] == m1["data"]  # the same windows, said the same way
    for key in ("test_mse", "test_mae", "test_mase"):
        assert m2[key] == pytest.approx(m1[key], rel=1e-3), key


def test_two_gloo_processes_with_a_cache_each_train_on_their_own_series(tmp_path):
    """``data.cache`` under DDP: rank 0 builds the memory-mapped panel, each rank trains,
    validates and tests on the windows of its own series (one each here), every rank runs the
    same number of steps, and the test metrics, reduced over the ranks, are those of the whole
    test split: one process evaluating the saved weights gets the same."""
    from deeprnn.training import open_run

    cfg = tiny_config("forecast", tmp_path / "data", tmp_path / "two", max_epochs=2)
    cfg["data"].update(windows_per_epoch=64, cache=str(tmp_path / "cache"))
    cfg["trainer"].update(batch_size=8, accelerator="cpu", early_stopping_patience=None)
    train_cli(cfg, tmp_path, "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["training"]["optimizer_steps"] == 2 * 4  # 64 windows / 2 ranks / batch 8
    for split in ("train", "val", "test"):
        sharded = metrics["data"][split]["sharded"]
        assert sharded["ranks"] == 2 and sharded["series_per_rank"] == [1, 1], split
        assert sum(sharded["windows_per_rank"]) == metrics["data"][split]["examples"]
    assert (tmp_path / "cache" / "index.json").is_file()
    alone = open_run(tmp_path / "two").evaluate()  # one process, the whole test split
    for key in ("test_mse", "test_mae", "test_mase"):
        assert alone[key] == pytest.approx(metrics[key], rel=1e-4), key
