"""Lightning callbacks: the NaN/Inf guard, exact-resume RNG state, and unfreezing layers."""

from __future__ import annotations

import random

import lightning.pytorch as pl
import numpy as np
import torch


class NonFiniteLossError(RuntimeError):
    """Raised by :class:`NaNGuard`; the message says where it happened and what was kept."""


class NaNGuard(pl.Callback):
    """Stop training at the first NaN/Inf loss or gradient, before the optimizer step applies it.

    Raising before ``optimizer.step`` keeps the in-memory weights finite, and no checkpoint is
    written after the bad step, so ``last.ckpt`` stays the last good one. With fp16 mixed
    precision, the gradient scaler skips steps with Inf gradients by design, so only the loss is
    checked there.
    """

    def __init__(self, check_gradients: bool = True):
        self.check_gradients = check_gradients
        self.message: str | None = None

    def _fail(self, trainer: pl.Trainer, what: str) -> None:
        ckpt = None
        for cb in trainer.checkpoint_callbacks:
            path = getattr(cb, "last_model_path", "") or getattr(cb, "best_model_path", "")
            if path:
                ckpt = path
        kept = f"the last good checkpoint is {ckpt}" if ckpt else "no checkpoint had been written"
        self.message = (
            f"training stopped: {what} at epoch {trainer.current_epoch}, global step "
            f"{trainer.global_step}; {kept}. Lower optim.lr, set trainer.gradient_clip_norm, "
            "or check the data for NaN/Inf values."
        )
        raise NonFiniteLossError(self.message)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all()):
            self._fail(trainer, f"the training loss is {loss.item()}")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if not self.check_gradients or str(trainer.precision).startswith("16"):
            return
        for name, p in pl_module.named_parameters():
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                self._fail(trainer, f"the gradient of {name} is not finite (NaN/Inf)")


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


class Unfreeze(pl.Callback):
    """Make the parameters whose names start with one of ``prefixes`` trainable again at the
    start of ``epoch`` (the second half of freeze-then-fine-tune transfer learning).

    The optimizer was built over the trainable parameters only, so the unfrozen ones are added
    to it as a new parameter group with the first group's learning rate.
    """

    def __init__(self, prefixes: list[str], epoch: int):
        self.prefixes = list(prefixes)
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch != self.epoch:
            return
        params = []
        for name, p in pl_module.named_parameters():
            if not p.requires_grad and any(name.startswith(pre) for pre in self.prefixes):
                p.requires_grad_(True)
                params.append(p)
        if params and trainer.optimizers:
            opt = trainer.optimizers[0]
            group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
            opt.add_param_group({**group, "params": params})
