"""Keras' ``model.fit`` / ``evaluate`` / ``predict`` for any ``nn.Module``, on Lightning.

::

    model = MyStack()                      # SimpleRNN -> LSTM -> Linear, from deeprnn layers
    history = deeprnn.fit(model, x, y, validation_split=0.2, epochs=20,
                          callbacks=[EarlyStopping(monitor="val_loss", patience=3)])
    plot_curves(history, "curves.png")     # history.history["loss"], ["val_loss"]
    deeprnn.evaluate(model, x_test, y_test)
    deeprnn.predict(model, x_new)          # (N, 1)

One Lightning ``Trainer`` runs underneath (progress bar, callbacks, gradient clipping, seeding,
devices): :class:`FitModule` wraps the model, and nothing is written to disk unless
``default_root_dir`` is given (Lightning's files go to a temporary folder, removed after).
The wrapped model and the History are in :mod:`deeprnn.training.keras.module`; losses and
metrics by name in :mod:`deeprnn.training.keras.compile`, optimizers by
:func:`deeprnn.tasks.optim.build_optimizer`; the inputs in :mod:`deeprnn.training.keras.data`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import Tensor, nn
from torch.utils.data import DataLoader

from deeprnn._persist import read_checkpoint
from deeprnn._run_folder import BEST, CSV, LOGS, RunFolder
from deeprnn._warnings import CHATTY_LOGGERS, ignore_chatter
from deeprnn.tasks.optim import build_optimizer
from deeprnn.training.callbacks import NaNGuard
from deeprnn.training.keras.data import check_int, inputs, is_number, train_val_loaders
from deeprnn.training.keras.module import FitModule, History, _Recorder
from deeprnn.training.progress import EpochLines, EpochProgressBar, stdout_is_terminal

# ----------------------------------------------------------------------- the Trainer


@contextlib.contextmanager
def _session(default_root_dir: str | os.PathLike | None):
    """A root folder for Lightning (a temporary one, removed after, unless given), Lightning's
    chatter muted, and torch's global determinism flags restored on the way out."""
    tmp = None if default_root_dir is not None else tempfile.mkdtemp(prefix="deeprnn-fit-")
    root = Path(default_root_dir if tmp is None else tmp)
    loggers = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    levels = [lg.level for lg in loggers]
    flags = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    try:
        with warnings.catch_warnings():
            ignore_chatter()
            yield root
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[2:]
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _trainer(root: Path, verbose: Any, accelerator: str, **kwargs: Any) -> pl.Trainer:
    options = {
        "accelerator": accelerator,
        "devices": 1,
        "default_root_dir": root,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": bool(verbose),
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    options.update(kwargs)
    return pl.Trainer(**options)


def _display(verbose: Any) -> tuple[bool, bool]:
    """``(progress bar, one line per epoch)`` for Keras' ``verbose``: 0 nothing, 1 a progress
    bar (a line per epoch when stdout is not a terminal), 2 a line per epoch."""
    level = int(verbose) if isinstance(verbose, bool) else verbose
    if level not in (0, 1, 2) or not isinstance(level, int):
        raise ValueError(f"verbose must be 0, 1, 2 or a bool, got {verbose!r}")
    bar = level == 1 and stdout_is_terminal()
    return bar, level == 2 or (level == 1 and not bar)


def _device_of(model: nn.Module) -> torch.device | None:
    return next((p.device for p in model.parameters()), None)


# --------------------------------------------------------------------- the public API


def fit(
    model: nn.Module,
    x: Any,
    y: Any = None,
    *,
    validation_split: float = 0.0,
    validation_data: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    loss: str | Callable = "mse",
    optimizer: Any = "adam",
    lr: float | None = None,
    metrics: Any = None,
    callbacks: Sequence[pl.Callback] | None = None,
    lengths: Any = None,
    mask: Any = None,
    shuffle: bool = True,
    restore_best: bool = False,
    monitor: str | None = None,
    mode: str = "auto",
    gradient_clip_norm: float | None = None,
    gradient_clip_value: float | None = None,
    seed: int | None = None,
    verbose: bool | int = True,
    accelerator: str = "auto",
    default_root_dir: str | os.PathLike | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` in place, as Keras' ``model.fit`` does; returns a :class:`History`.

    Args:
        model: any ``nn.Module``. ``forward(x)`` returns the predictions (N, *) or a tuple whose
            first element they are (deeprnn layers return ``(out, states)``; ``states`` is
            dropped). A tuple / list ``x`` of several inputs is passed as ``forward(*x)``.
        x: inputs (N, ...) as a tensor or array (or a tuple of them), or a ``DataLoader`` whose
            batches are ``(x, y)``, ``(x, y, {forward kwargs})``, PadCollate's
            ``(x, lengths, y)`` or dicts ``{"x", "y", ...}`` (then ``y``, ``lengths``, ``mask``
            and ``validation_split`` stay unset). Float arrays are cast to the model's dtype.
        y: targets (N, ...); a (N,) target against (N, 1) predictions is reshaped.
        validation_split: the fraction in [0, 1) of the samples held out for validation: the
            LAST ``N - int(N * (1 - validation_split))`` samples, before any shuffling, as Keras
            takes them.
        validation_data: ``(x_val, y_val)``, ``(x_val, y_val, {"lengths": ...})``, a dict like
            a batch, or a DataLoader; not together with ``validation_split``.
        epochs: epochs to train (fewer when a callback such as ``EarlyStopping`` stops it).
        batch_size: samples per batch (tensor inputs).
        loss: a name (``"mse"``, ``"mae"``, ``"binary_crossentropy"`` on probabilities,
            ``"bce_with_logits"``, ``"sparse_categorical_crossentropy_from_logits"`` ...; the
            table in :mod:`deeprnn.training.keras.compile`) or a callable ``(pred, y) -> scalar``.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"``, an optimizer
            class or factory ``params -> Optimizer``, or an instance on ``model.parameters()``.
        lr: learning rate for a named optimizer or a factory (default: Keras' for that name).
        metrics: names (``"accuracy"``, ``"mae"``, ``"mse"``), callables ``(pred, y) -> scalar``
            or a ``{name: callable}`` dict; each gets a history key and a ``val_`` one.
        callbacks: Lightning callbacks: ``EarlyStopping(monitor="val_loss", patience=3)``,
            ``ModelCheckpoint(dirpath=...)``, ``LearningRateMonitor`` ...; Keras' metric names
            (``loss``, ``val_loss``, ``val_accuracy``) are what they monitor. A NaN / Inf loss
            or gradient stops training with :class:`~deeprnn.training.NonFiniteLossError`
            naming the epoch and step, before the step spoils the weights (as ``deeprnn train``
            does); pass your own ``NaNGuard(mode="skip")`` to drop such batches instead. Inputs
            and targets with NaN / Inf are a ``ValueError`` naming the first one.
        lengths: (N,) valid steps per sample, passed as ``forward(x, lengths=...)`` per batch.
        mask: (N, T) True at real steps, passed as ``forward(x, mask=...)`` per batch.
        shuffle: reshuffle the training samples every epoch (tensor inputs).
        restore_best: load the weights of the best epoch on ``monitor`` at the end (Keras'
            ``EarlyStopping(restore_best_weights=True)``, stopped early or not).
        monitor: the key ``restore_best`` watches: ``"val_loss"`` with validation, else ``"loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, else min).
        gradient_clip_norm: clip the global gradient norm to this (Keras' ``clipnorm``).
        gradient_clip_value: clip every gradient element to ``[-v, v]`` (``clipvalue``).
        seed: seed Python, NumPy and torch (shuffling, dropout) and make torch deterministic
            for this fit; two fits of the same initial weights give identical weights. The
            initial weights are the model's: seed before building it to fix those too.
        verbose: ``1`` / ``True``: a progress bar with the epoch's metrics, its epochs counted
            from 1 as Keras counts them (``Epoch 3/20``), or when stdout is not a terminal one
            line per epoch; ``2``: one line per epoch, as Keras' ``verbose=2``
            (``epoch 3/20 - 0.4s - loss 0.512 - val_loss 0.498``); ``0`` / ``False``: nothing.
        accelerator: ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"gpu"`` ...; the model
            is moved back to its device afterwards.
        default_root_dir: keep Lightning's files here (a CSV log in ``logs/csv/`` that
            ``plot_curves(default_root_dir)`` reads, and checkpoints); by default nothing is
            written outside a temporary folder that is removed.
        trainer_kwargs: more ``lightning.Trainer`` arguments (``max_time``, ``precision`` ...).

    Returns:
        :class:`History`: ``history.history["loss"]`` and ``["val_loss"]`` (with validation),
        one float per epoch run, and each metric likewise.

    Example:
        >>> import torch, deeprnn
        >>> model = deeprnn.LSTM(1, 8, return_sequences=False)  # returns (out, states)
        >>> x, y = torch.randn(20, 5, 1), torch.randn(20, 8)
        >>> h = deeprnn.fit(model, x, y, epochs=2, validation_split=0.2, verbose=False)
        >>> sorted(h.history), len(h["loss"])
        (['loss', 'val_loss'], 2)
    """
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    bar, lines = _display(verbose)
    if not is_number(validation_split) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    if validation_split and validation_data is not None:
        raise ValueError(
            f"give validation_split or validation_data, not both (got validation_split="
            f"{validation_split!r} and validation_data)"
        )
    if mode not in ("min", "max", "auto"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    if gradient_clip_norm is not None and gradient_clip_value is not None:
        raise ValueError("give gradient_clip_norm or gradient_clip_value, not both")
    clip = gradient_clip_norm if gradient_clip_value is None else gradient_clip_value
    if clip is not None and not (is_number(clip) and clip > 0):
        which = "gradient_clip_norm" if gradient_clip_value is None else "gradient_clip_value"
        raise ValueError(f"{which} must be a positive number, got {clip!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, pl.Callback):
            raise TypeError(f"callbacks must be Lightning callbacks, got {type(cb).__name__}")
        if isinstance(cb, ModelCheckpoint) and cb.dirpath is None and default_root_dir is None:
            raise ValueError(
                "callbacks: a ModelCheckpoint without dirpath would write into the temporary "
                "folder fit removes; give it dirpath=... or pass default_root_dir"
            )

    wrapped = FitModule(model, loss, metrics, None, progress_bar=bar)  # names checked
    train, val = train_val_loaders(
        model,
        x,
        y,
        lengths,
        mask,
        validation_split=validation_split,
        validation_data=validation_data,
        batch_size=batch_size,
        shuffle=shuffle,
    )
    monitor = monitor or ("val_loss" if val is not None else "loss")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    keys = [p + k for p in ("", "val_") for k in ("loss", *wrapped.metric_fns)]
    history = History(
        model,
        {
            "epochs": epochs,
            "steps": len(train),
            "batch_size": batch_size if not isinstance(x, DataLoader) else x.batch_size,
            "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", repr(loss)),
            "metrics": list(wrapped.metric_fns),
        },
    )
    device = _device_of(model)
    with _session(default_root_dir) as root:
        if seed is not None:
            pl.seed_everything(seed, workers=True, verbose=False)
        wrapped._optimizer = build_optimizer(model.parameters(), optimizer, lr)
        best = None
        if restore_best:  # the user's own checkpoint on the same monitor serves (Lightning
            # refuses two ModelCheckpoints with the same state key)
            best = next(
                (
                    cb
                    for cb in callbacks
                    if isinstance(cb, ModelCheckpoint) and cb.monitor == monitor and cb.mode == mode
                ),
                None,
            )
        if restore_best and best is None:
            best = ModelCheckpoint(
                dirpath=RunFolder(root).checkpoints,
                filename=BEST,
                monitor=monitor,
                mode=mode,
                save_top_k=1,
                save_weights_only=True,
                auto_insert_metric_name=False,
            )
            callbacks.append(best)
        if not any(isinstance(cb, NaNGuard) for cb in callbacks):  # as the CLI: stop, and say
            callbacks.append(NaNGuard(mode="stop"))
        shown = [EpochProgressBar()] if bar else []
        shown += [EpochLines()] if lines else []
        options: dict[str, Any] = {
            "max_epochs": epochs,
            "callbacks": [_Recorder(history, keys), *shown, *callbacks],
            "enable_checkpointing": any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
            "deterministic": True if seed is not None else None,
        }
        if default_root_dir is not None:
            from lightning.pytorch.loggers import CSVLogger

            options["logger"] = CSVLogger(root, name=LOGS, version=CSV)  # what plot_curves reads
            options["log_every_n_steps"] = 1
        if clip is not None:
            options["gradient_clip_val"] = clip
            options["gradient_clip_algorithm"] = "value" if gradient_clip_value else "norm"
        options.update(trainer_kwargs or {})
        trainer = _trainer(root, bar, accelerator, **options)
        trainer.fit(wrapped, train_dataloaders=train, val_dataloaders=val)
        if best is not None and best.best_model_path:
            wrapped.load_state_dict(read_checkpoint(best.best_model_path)["state_dict"])
    if device is not None:
        model.to(device)
    model._deeprnn_fit_config = {"loss": loss, "metrics": metrics}  # for evaluate(model, x, y)
    return history


def evaluate(
    model: nn.Module,
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 32,
    loss: str | Callable | None = None,
    metrics: Any = None,
    lengths: Any = None,
    mask: Any = None,
    return_dict: bool = False,
    verbose: bool = False,
    accelerator: str = "auto",
) -> float | list[float] | dict[str, float]:
    """The loss and metrics of ``model`` on ``(x, y)`` (or a DataLoader ``x``), as Keras'
    ``model.evaluate``: the mean over samples, computed in eval mode (dropout off).

    ``loss`` and ``metrics`` default to those of the model's last :func:`fit`. Returns the loss
    (a float) without metrics, else ``[loss, *metrics]`` in the order given (so
    ``test_loss, test_acc = evaluate(...)`` works as in Keras), or ``{"loss": ..., name: ...}``
    with ``return_dict=True``. Other arguments as in :func:`fit`.
    """
    check_int("batch_size", batch_size)
    config = getattr(model, "_deeprnn_fit_config", None)
    if loss is None:
        if config is None:
            raise ValueError(
                "loss must be given (a name or a callable) for a model not trained with "
                "deeprnn.fit, got None"
            )
        loss, metrics = config["loss"], config["metrics"] if metrics is None else metrics
    wrapped = FitModule(model, loss, metrics, None, progress_bar=bool(verbose))
    loader = inputs(model, x, y, lengths, mask, batch_size, shuffle=False, need_y=True)
    device = _device_of(model)
    with _session(None) as root:
        results = _trainer(root, verbose, accelerator).test(wrapped, loader, verbose=False)
    if device is not None:
        model.to(device)
    logged = {k.removeprefix("test_"): float(v) for k, v in (results[0] if results else {}).items()}
    out = {k: logged[k] for k in ("loss", *wrapped.metric_fns)}
    if return_dict:
        return out
    return out["loss"] if len(out) == 1 else list(out.values())


def predict(
    model: nn.Module,
    x: Any,
    *,
    batch_size: int = 32,
    lengths: Any = None,
    mask: Any = None,
    verbose: bool = False,
    accelerator: str = "auto",
) -> Tensor | list[Tensor]:
    """The predictions of ``model`` on ``x`` (a tensor / array, a tuple of them, or a
    DataLoader), in eval mode and without gradients, as Keras' ``model.predict``.

    Returns the batches' outputs (the first element of a tuple output) concatenated: a CPU tensor
    (N, *); a list of the per-batch tensors when their shapes beyond N differ (a DataLoader
    padding each batch to its own length). ``lengths`` / ``mask`` as in :func:`fit`.

    DataLoader batches are read as in :func:`fit`, so a 2-tuple is ``(x, y)`` with ``y`` unused:
    PadCollate's unlabelled ``(x, lengths)`` batches would lose their lengths; yield
    ``{"x": x, "lengths": lengths}`` (or PadCollate's labelled ``(x, lengths, y)``) instead.
    """
    check_int("batch_size", batch_size)
    loader = inputs(model, x, None, lengths, mask, batch_size, shuffle=False, need_y=False)
    wrapped = FitModule(model, "mse", None, None, progress_bar=bool(verbose))
    device = _device_of(model)
    with _session(None) as root:
        outs = _trainer(root, verbose, accelerator).predict(wrapped, loader)
    if device is not None:
        model.to(device)
    outs = [o.detach().cpu() for o in outs or []]
    if not outs:
        raise ValueError("x holds no samples: predict got an empty input")
    if all(o.shape[1:] == outs[0].shape[1:] for o in outs):
        return torch.cat(outs)
    return outs
