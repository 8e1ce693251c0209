"""Crash-safe training: SIGKILL at a random step then resume gives bitwise the same weights, a
kill during a checkpoint save leaves the previous one intact, a NaN/Inf loss stops or skips the
batch (``trainer.nonfinite``) naming the step, and Ctrl-C saves a resumable checkpoint."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from _tiny import tiny_config

from deeprnn.cli import main as cli_main
from deeprnn.training import NonFiniteLossError, fit, read_checkpoint, run_config_from_dict

CHILD = Path(__file__).with_name("_child.py")
STEPS_PER_EPOCH = -(-int(120 * 0.8) // 16)  # classify_numeric: 96 training rows, batch 16


def _cfg(tmp_path: Path, name: str, **trainer) -> dict:
    cfg = tiny_config("classify_numeric", tmp_path / "data", tmp_path / name, **trainer)
    cfg["model"].update(head_dropout=0.3, input={"embedding_dropout": 0.2})
    cfg["export"] = False
    return cfg


def _child(tmp_path: Path, cfg: dict, mode: str, n: int, **kw) -> subprocess.Popen:
    path = tmp_path / f"{Path(cfg['out_dir']).name}.json"
    path.write_text(json.dumps(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), mode, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def _last_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["state_dict"]


def _assert_bitwise_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, torch.Tensor]:
    """The weights of an uninterrupted 3-epoch run."""
    tmp = tmp_path_factory.mktemp("reference")
    result = fit(run_config_from_dict(_cfg(tmp, "full", max_epochs=3)))
    return _last_weights(result.run_dir)


def test_sigkill_at_a_random_step_then_resume_is_bitwise_exact(tmp_path, reference):
    seed = int.from_bytes(os.urandom(4), "little")
    step = random.Random(seed).randrange(STEPS_PER_EPOCH + 1, 3 * STEPS_PER_EPOCH)
    cfg = _cfg(tmp_path, "killed", max_epochs=3)
    proc = _child(tmp_path, cfg, "kill", step)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"seed {seed}, step {step}: {err[-2000:]}"
    ckpt = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    saved = read_checkpoint(ckpt)
    assert saved["global_step"] == (step // STEPS_PER_EPOCH) * STEPS_PER_EPOCH, (seed, step)
    run = run_config_from_dict(cfg)
    fit(run, resume=ckpt)
    _assert_bitwise_equal(reference, _last_weights(tmp_path / "killed"))


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_intact(tmp_path, reference):
    cfg = _cfg(tmp_path, "torn", max_epochs=3)
    proc = _child(tmp_path, cfg, "kill-in-save", 1)  # the save of epoch 1 over epoch 0's
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    folder = tmp_path / "torn" / "checkpoints"
    torn = list(folder.glob(".last.ckpt.*.tmp"))
    assert len(torn) == 1  # the half-written temp file, never renamed over last.ckpt
    with pytest.raises(ValueError, match=r"is not a loadable Lightning checkpoint"):
        read_checkpoint(torn[0])
    previous = read_checkpoint(folder / "last.ckpt")
    assert previous["epoch"] == 0 and previous["global_step"] == STEPS_PER_EPOCH
    fit(run_config_from_dict(cfg), resume=folder / "last.ckpt")
    assert not list(folder.glob(".*.tmp"))  # the next run cleans up
    _assert_bitwise_equal(reference, _last_weights(tmp_path / "torn"))


def test_sigint_saves_a_resumable_checkpoint_and_exits_cleanly(tmp_path, reference):
    cfg = _cfg(tmp_path, "ctrl_c", max_epochs=3)
    step = STEPS_PER_EPOCH + 2
    proc = _child(tmp_path, cfg, "wait-sigint", step)
    ready = tmp_path / "ctrl_c" / "READY"
    for _ in range(3000):  # wait (up to ~5 min) for the child to reach the step
        if ready.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert ready.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    ckpt = tmp_path / "ctrl_c" / "checkpoints" / "interrupted.ckpt"
    lines = [ln for ln in err.splitlines() if "training interrupted" in ln]
    assert len(lines) == 1, err[-2000:]
    assert f"at epoch 1, global step {step + 1}; saved {ckpt}" in lines[0]
    command = lines[0].split("resume with: ", 1)[1].split()
    assert command[:2] == ["deeprnn", "train"] and command[-2:] == ["--resume", str(ckpt)]
    assert read_checkpoint(ckpt)["global_step"] == step + 1
    assert cli_main(command[1:]) == 0  # the printed command resumes and finishes
    final = read_checkpoint(tmp_path / "ctrl_c" / "checkpoints" / "last.ckpt")
    assert final["epoch"] == 2 and final["global_step"] == 3 * STEPS_PER_EPOCH
    assert all(torch.isfinite(v).all() for v in final["state_dict"].values())


class _NaNBatches(pl.Callback):
    """Make the loss of the chosen global steps NaN (through the input; weights untouched)."""

    def __init__(self, steps):
        self.steps = set(steps)
        self.handle = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step in self.steps:
            self.handle = module.register_forward_hook(lambda m, i, out: out * float("nan"))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


def test_nonfinite_stop_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = run_config_from_dict(_cfg(tmp_path, "stop", max_epochs=3))
    step = STEPS_PER_EPOCH + 3
    with pytest.raises(
        NonFiniteLossError,
        match=rf"the training loss is nan at epoch 1, global step {step}; the last good "
        rf"checkpoint is .*last.ckpt.*trainer.nonfinite: skip",
    ):
        fit(cfg, extra_callbacks=[_NaNBatches([step])])
    ckpt = read_checkpoint(tmp_path / "stop" / "checkpoints" / "last.ckpt")
    assert ckpt["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())


def test_nonfinite_skip_drops_the_batch_warns_and_counts(tmp_path, caplog):
    bad = [2, STEPS_PER_EPOCH + 1, STEPS_PER_EPOCH + 4]
    cfg = run_config_from_dict(_cfg(tmp_path, "skip", max_epochs=2, nonfinite="skip"))
    snapshots = {}

    class _Watch(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.global_step in bad:
                snapshots[trainer.global_step] = [p.detach().clone() for p in module.parameters()]

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            step = trainer.global_step - 1
            if step in snapshots:
                after = list(module.parameters())
                assert all(torch.equal(a, b) for a, b in zip(snapshots[step], after)), step

    with caplog.at_level(logging.WARNING, logger="deeprnn.training"):
        result = fit(cfg, extra_callbacks=[_NaNBatches(bad), _Watch()])
    assert result.skipped_steps == bad
    assert len(snapshots) == 3
    msgs = [r.getMessage() for r in caplog.records if "skipped the batch" in r.getMessage()]
    assert msgs[0].startswith("skipped the batch at epoch 0, global step 2: the training loss")
    assert "3 batch(es) skipped so far" in msgs[2] and len(msgs) == 3
    final = _last_weights(tmp_path / "skip")
    assert all(torch.isfinite(v).all() for v in final.values())
    assert read_checkpoint(tmp_path / "skip" / "checkpoints" / "last.ckpt")["epoch"] == 1
