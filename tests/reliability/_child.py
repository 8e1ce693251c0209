"""A training process for the crash-safety tests, run as ``python _child.py CONFIG.json MODE N``.

Modes (what happens at global step ``N``):

* ``kill``: the process SIGKILLs itself at the start of step N.
* ``kill-in-save``: the N-th save of ``last.ckpt`` over an existing one is torn: the temp file
  is cut to half its size and the process SIGKILLs itself before the rename.
* ``wait-sigint``: at the start of step N it writes ``READY`` into the run folder and waits for
  the parent's SIGINT; training then goes on to the graceful-interrupt checkpoint.
* ``none``: train to the end.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from deeprnn.training import fit, run_config_from_dict
from deeprnn.training.callbacks import GracefulInterrupt


class AtStep(pl.Callback):
    def __init__(self, step: int, action):
        self.step, self.action = step, action

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.step:
            self.action(trainer)


def _kill(trainer) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _wait_for_sigint(trainer) -> None:
    stop = next(cb for cb in trainer.callbacks if isinstance(cb, GracefulInterrupt))
    (Path(trainer.default_root_dir) / "READY").write_text(str(trainer.global_step))
    deadline = time.monotonic() + 120
    while not stop.requested and time.monotonic() < deadline:
        time.sleep(0.01)


def _tear_saves(nth: int) -> None:
    """Tear the ``nth`` overwrite of last.ckpt inside the real atomic writer (before fsync)."""
    real_fsync = os.fsync
    seen = [0]

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".last.ckpt." in name and (Path(name).parent / "last.ckpt").is_file():
            seen[0] += 1
            if seen[0] == nth:
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
                os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)

    os.fsync = fsync


def main() -> None:
    torch.set_num_threads(1)
    cfg_path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = run_config_from_dict(json.loads(Path(cfg_path).read_text()))
    callbacks = []
    if mode == "kill":
        callbacks.append(AtStep(n, _kill))
    elif mode == "wait-sigint":
        callbacks.append(AtStep(n, _wait_for_sigint))
    elif mode == "kill-in-save":
        _tear_saves(n)
    fit(run, extra_callbacks=callbacks)


if __name__ == "__main__":
    main()
