"""Training on panels: ``trainer.max_steps`` shorter than an epoch (issue 29)."""

import json

from _tiny import tiny_config

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
