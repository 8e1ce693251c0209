"""Lightning callbacks: the NaN/Inf guard (stop or skip), a checkpoint on Ctrl-C, exact-resume
RNG state, and unfreezing layers (at one epoch, or gradually from the top)."""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import BaseFinetuning

log = logging.getLogger("deeprnn.training")


class NonFiniteLossError(RuntimeError):
    """Raised by :class:`NaNGuard`; the message says where it happened and what was kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :class:`GracefulInterrupt` after it saved a checkpoint on Ctrl-C (SIGINT)."""


class NaNGuard(pl.Callback):
    """Catch a NaN/Inf loss or gradient before the optimizer step applies it.

    ``mode="stop"`` (``trainer.nonfinite: stop``) raises :class:`NonFiniteLossError` naming the
    epoch and global step. Raising before ``optimizer.step`` keeps the in-memory weights finite,
    and no checkpoint is written after the bad step, so ``last.ckpt`` stays the last good one.

    ``mode="skip"`` drops the bad batch instead: its gradients are cleared (set to ``None``, so
    the optimizer leaves every parameter and its moments as they were), a warning naming the
    step goes to the ``deeprnn.training`` logger, and the step is appended to ``skipped``.

    With fp16 mixed precision, the gradient scaler skips steps with Inf gradients by design, so
    only the loss is checked there (and ``skip`` leaves the step to the scaler).
    """

    def __init__(self, check_gradients: bool = True, mode: str = "stop"):
        if mode not in ("stop", "skip"):
            raise ValueError(f"mode must be 'stop' or 'skip', got {mode!r}")
        self.check_gradients = check_gradients
        self.mode = mode
        self.message: str | None = None
        self.skipped: list[int] = []
        self._bad: str | None = None

    def _where(self, trainer: pl.Trainer) -> str:
        return f"epoch {trainer.current_epoch}, global step {trainer.global_step}"

    def _fail(self, trainer: pl.Trainer, what: str) -> None:
        ckpt = None
        for cb in trainer.checkpoint_callbacks:
            path = getattr(cb, "last_model_path", "") or getattr(cb, "best_model_path", "")
            if path:
                ckpt = path
        kept = f"the last good checkpoint is {ckpt}" if ckpt else "no checkpoint had been written"
        self.message = (
            f"training stopped: {what} at {self._where(trainer)}; {kept}. Lower optim.lr, set "
            "trainer.gradient_clip_norm, set trainer.nonfinite: skip, or check the data for "
            "NaN/Inf values."
        )
        raise NonFiniteLossError(self.message)

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all()):
            what = f"the training loss is {loss.detach().float().sum().item()}"
            if self.mode == "stop":
                self._fail(trainer, what)
            self._bad = what

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        bad = isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all())
        if bad and self.mode == "stop":
            self._fail(trainer, f"the training loss is {loss.detach().float().sum().item()}")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        what, self._bad = self._bad, None
        fp16 = str(trainer.precision).startswith("16")
        if what is None and self.check_gradients and not fp16:
            for name, p in pl_module.named_parameters():
                if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                    what = f"the gradient of {name} is not finite (NaN/Inf)"
                    break
        if what is None:
            return
        if self.mode == "stop":
            self._fail(trainer, what)
        if not fp16:
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None
        self.skipped.append(trainer.global_step)
        log.warning(
            "skipped the batch at %s: %s (trainer.nonfinite: skip; %d batch(es) skipped so far)",
            self._where(trainer),
            what,
            len(self.skipped),
        )


class GracefulInterrupt(pl.Callback):
    """Ctrl-C (SIGINT) stops training with a resumable checkpoint instead of losing the run.

    The first SIGINT only sets a flag; at the end of the current training batch (or of the
    running validation) the full training state is saved to ``path`` (atomically, through the
    trainer's checkpoint I/O), the message — where it stopped and the command that resumes —
    goes to stderr and :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) ends the fit
    through Lightning's graceful shutdown. A second SIGINT interrupts at once.

    The handler is installed only when training runs in the main thread; the previous handler
    is restored when fitting ends.
    """

    def __init__(self, path: str | Path, resume_hint: str = ""):
        self.path = Path(path)
        self.resume_hint = resume_hint
        self.requested = False
        self.message: str | None = None
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "deeprnn: interrupt received; saving a checkpoint at the end of this batch "
            "(Ctrl-C again to quit at once)",
            file=sys.stderr,
            flush=True,
        )

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def on_fit_start(self, trainer, pl_module) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _maybe_stop(self, trainer: pl.Trainer) -> None:
        requested = self.requested
        if trainer.world_size > 1:  # every rank must take the same decision at the same step
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if not requested:
            return
        trainer.save_checkpoint(self.path, weights_only=False)
        hint = f"; resume with: {self.resume_hint} --resume {self.path}" if self.resume_hint else ""
        self.message = (
            f"training interrupted at epoch {trainer.current_epoch}, global step "
            f"{trainer.global_step}; saved {self.path}{hint}"
        )
        if trainer.is_global_zero:
            print(f"deeprnn: {self.message}", file=sys.stderr, flush=True)
        raise TrainingInterrupted(self.message)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._maybe_stop(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.training or trainer.state.fn == "fit":
            self._maybe_stop(trainer)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.restore()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.restore()


class RNGState(pl.Callback):
    """Save the Python, NumPy and torch random states in every checkpoint and restore them on
    resume, so a resumed run draws the same dropout masks as an uninterrupted one.

    Everything is stored as tensors and lists (loadable with ``torch.load(weights_only=True)``).
    """

    def state_dict(self) -> dict:
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        py_version, py_state, py_gauss = random.getstate()
        state = {
            "torch": torch.random.get_rng_state(),
            "numpy": [str(kind), torch.from_numpy(keys.astype(np.int64)), int(pos)],
            "numpy_gauss": [int(has_gauss), float(cached)],
            "python": [int(py_version), list(py_state), py_gauss],
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        torch.random.set_rng_state(state["torch"])
        kind, keys, pos = state["numpy"]
        has_gauss, cached = state["numpy_gauss"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        version, py_state, gauss = state["python"]
        random.setstate((version, tuple(py_state), gauss))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class Unfreeze(BaseFinetuning):
    """Freeze the parameters whose names start with one of ``prefixes`` and make them trainable
    again from ``epoch`` on (freeze-then-fine-tune transfer learning), with Lightning's
    :class:`~lightning.pytorch.callbacks.BaseFinetuning`.

    The optimizer is built over the trainable parameters only, so at ``epoch`` the unfrozen
    ones join it as a new parameter group with the first group's settings (its learning rate
    included). The groups are saved in every checkpoint: a run resumed after ``epoch`` gets its
    second group back before the optimizer state loads, and the layers trainable again, so it
    goes on exactly as an uninterrupted run would.
    """

    def __init__(self, prefixes: list[str], epoch: int):
        super().__init__()
        self.prefixes = list(prefixes)
        self.epoch = epoch

    def _matching(self, pl_module) -> list[torch.nn.Parameter]:
        return [
            p
            for name, p in pl_module.named_parameters()
            if any(name.startswith(pre) for pre in self.prefixes)
        ]

    def freeze_before_training(self, pl_module) -> None:
        for p in self._matching(pl_module):
            p.requires_grad_(False)

    def finetune_function(self, pl_module, epoch: int, optimizer) -> None:
        if epoch < self.epoch:  # a resumed run starts later: unfreeze at every epoch after
            return
        params = self._matching(pl_module)
        for p in params:
            p.requires_grad_(True)
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        new = [p for p in params if id(p) not in present]  # none when resumed after epoch
        if new:
            group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
            optimizer.add_param_group({**group, "params": new})


class GradualUnfreeze(pl.Callback):
    """ULMFiT's gradual unfreezing: in epoch ``e`` (from 0) only the top ``e + 1`` layer groups
    of :func:`deeprnn.tasks.optim.layer_groups` train (epoch 0: the head; epoch 1: the
    head and the top recurrent block; ... down to the input layer), the rest are frozen.

    Every parameter stays in the optimizer from the start (a frozen one gets no gradient, so
    the optimizer leaves it and its moments as they are), so the per-step schedules and the
    per-group learning rates see one fixed set of groups, and a run resumed at epoch ``e``
    freezes exactly what an uninterrupted run had frozen. Parameters frozen by
    ``finetune.freeze`` for good (no ``unfreeze_at_epoch``) stay frozen."""

    def __init__(self) -> None:
        super().__init__()
        self._never: set[int] = set()
        self.trainable: list[str] = []  # the groups training in the current epoch

    def on_fit_start(self, trainer, pl_module) -> None:
        self._never = {id(p) for p in pl_module.parameters() if not p.requires_grad}

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        from deeprnn.tasks.optim import layer_groups

        groups = layer_groups(pl_module)
        top = len(groups) - 1 - trainer.current_epoch  # the lowest group training this epoch
        self.trainable = []
        for g, (name, params) in enumerate(groups):
            on = g >= top
            for _, p in params:
                if id(p) not in self._never:
                    p.requires_grad_(on)
            if on:
                self.trainable.append(name)
        log.info("epoch %d: training layer groups %s", trainer.current_epoch, self.trainable)
