"""Train, evaluate and export one run: what ``deeprnn train -c config.yaml`` does.

A run folder holds everything needed to reproduce, resume, inspect and ship it: the resolved
``config.yaml``, ``checkpoints/best.ckpt`` and ``last.ckpt``, the CSV and TensorBoard logs, the
test metrics (``metrics.json``) and the export folder ``model/``; every name is
:class:`~deeprnn._run_folder.RunFolder`'s.

Scale-out is Lightning's: ``trainer.devices: 4, trainer.strategy: ddp`` (``num_nodes`` for
several machines, launched by ``torchrun`` or a SLURM / cluster environment). The data modules
shard one global order themselves — rank ``r`` of ``w`` takes every ``w``-th example, the
language model's stream every rank its own block of rows — so with ``trainer.batch_size`` per
process, ``w`` processes see exactly the batches of one process with ``w`` times the batch (a
test checks the weights agree).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from deeprnn._distributed import is_rank_zero
from deeprnn._persist import atomic_write_text, read_checkpoint
from deeprnn._run_folder import BEST, CSV, LAST, LOGS, TENSORBOARD, RunFolder
from deeprnn._schema import dump_yaml, to_dict
from deeprnn.export.folder import export_folder, init_from_export, read_export_config
from deeprnn.tasks.registry import get_task
from deeprnn.training.callbacks import (
    GracefulInterrupt,
    GradualUnfreeze,
    NaNGuard,
    NonFiniteLossError,
    RNGState,
    TrainingInterrupted,
    Unfreeze,
)
from deeprnn.training.checkpoint import AtomicCheckpointIO, remove_stale_temp_files
from deeprnn.training.progress import EpochLines, EpochProgressBar, stdout_is_terminal
from deeprnn.training.runner import health
from deeprnn.training.runner.config import RunConfig, TrainerConfig
from deeprnn.training.transfer import check_same_tokens, resolve_export, vocab_path_for

log = logging.getLogger("deeprnn.training")


def write_config(run: RunConfig, path: str | Path) -> Path:
    """The resolved run config as YAML (written atomically)."""
    path = Path(path)
    atomic_write_text(path, dump_yaml(to_dict(run)))
    return path


def build_datamodule(run: RunConfig, artifacts: dict | None = None):
    """The task's data module for ``run`` (artifacts from a checkpoint/export are reused).
    With ``finetune.init_from`` and no ``data.vocab_path``, the data reads with the
    pretrained model's vocabulary."""
    spec = get_task(run.task)
    data = run.data
    if run.finetune.init_from and artifacts is None:
        export = resolve_export(run.finetune.init_from)
        vocab = vocab_path_for(data, export)
        if vocab is not None:
            log.info("data.vocab_path: %s (the vocabulary of finetune.init_from)", vocab)
            data = dataclasses.replace(data, vocab_path=vocab)
    return spec.datamodule(
        data,
        batch_size=run.trainer.batch_size,
        seed=run.seed,
        num_workers=run.trainer.num_workers,
        shuffle=run.trainer.shuffle,
        artifacts=artifacts,
    )


def build_model(run: RunConfig, artifacts: dict):
    """The task model for ``run``; ``finetune.init_from`` / ``freeze`` are applied."""
    spec = get_task(run.task)
    model = spec.module(
        run.model,
        artifacts,
        optim=run.optim,
        regularizers=run.regularizers,
        clip_norm=run.trainer.gradient_clip_norm,
        clip_value=run.trainer.gradient_clip_value,
    )
    ft = run.finetune
    if ft.init_from:
        export = resolve_export(ft.init_from)
        check_same_tokens(artifacts, read_export_config(export)["artifacts"], export)
        copied = init_from_export(model, export)
        fresh = sorted({n.split(".")[0] for n in model.state_dict() if n not in set(copied)})
        model.transfer = {
            "init_from": str(export),
            "copied": len(copied),
            "copied_modules": sorted({".".join(n.split(".")[:3]) for n in copied}),
            "fresh_modules": fresh,
        }
        if is_rank_zero():  # said where the epoch lines go: what the run starts from
            print(
                f"finetune.init_from: {len(copied)} tensors copied from {export} "
                f"({', '.join(model.transfer['copied_modules'])}); fresh: {', '.join(fresh) or 'none'}"
            )
    if ft.freeze:
        frozen = 0
        for name, p in model.named_parameters():
            if any(name.startswith(pre) for pre in ft.freeze):
                p.requires_grad_(False)
                frozen += 1
        if not frozen:
            names = sorted({n.rsplit(".", 2)[0] for n, _ in model.named_parameters()})
            raise ValueError(f"finetune.freeze {ft.freeze} matches no parameter; modules: {names}")
    return model


class ValidateAtMaxSteps(pl.Callback):
    """``trainer.max_steps`` reached before the end of an epoch: validate then, so the run ends
    with a validation score (early stopping and the best checkpoint monitor it; without this
    Lightning stops mid-epoch unvalidated and early stopping fails on the missing metric)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        last = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if 0 < trainer.max_steps <= trainer.global_step and not last:
            trainer.should_stop = True  # Lightning validates before it stops


def build_trainer(run: RunConfig, run_dir: Path, extra_callbacks=(), logger: bool = True):
    """A ``lightning.Trainer`` with best/last checkpoints (written atomically), early stopping,
    the NaN guard, a checkpoint on Ctrl-C, exact resume of random states, the run's health
    record, a progress bar (epochs from 1) on a terminal or else one line per epoch
    (``trainer.progress_bar: false``, or stdout a file or a pipe), and CSV + TensorBoard
    logs."""
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    t = run.trainer
    folder = RunFolder(run_dir)
    checkpoints = ModelCheckpoint(
        dirpath=folder.checkpoints,
        filename=BEST,
        monitor=t.monitor,
        mode=t.mode,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # last.ckpt: the latest epoch, every time. Lightning's save_last writes it only when the
    # monitored score improved (a run stopped by max_time resumed from its best epoch, and lost
    # the epochs after it without a word); a checkpoint with no monitor keeps the latest one.
    latest = ModelCheckpoint(
        dirpath=folder.checkpoints,
        filename=LAST,
        monitor=None,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    callbacks: list[pl.Callback] = [
        checkpoints,
        latest,
        NaNGuard(check_gradients=not t.precision.startswith("16"), mode=t.nonfinite),
        RNGState(),
        GracefulInterrupt(
            folder.interrupted_checkpoint, resume_hint=f"deeprnn train -c {folder.config}"
        ),
        health.RunHealth(t.monitor, t.mode),
        ValidateAtMaxSteps(),
    ]
    if t.early_stopping_patience is not None:
        callbacks.append(
            EarlyStopping(monitor=t.monitor, mode=t.mode, patience=t.early_stopping_patience)
        )
    if run.finetune.freeze and run.finetune.unfreeze_at_epoch is not None:
        callbacks.append(Unfreeze(run.finetune.freeze, run.finetune.unfreeze_at_epoch))
    if run.finetune.gradual_unfreeze:
        callbacks.append(GradualUnfreeze())
    bar = t.progress_bar and stdout_is_terminal()  # a bar redrawn in a log file is noise
    callbacks.append(EpochProgressBar(max(1, t.log_every_n_steps)) if bar else EpochLines())
    loggers: list = []
    if logger:
        loggers.append(CSVLogger(run_dir, name=LOGS, version=CSV))
        if t.tensorboard:
            try:
                loggers.append(TensorBoardLogger(run_dir, name=LOGS, version=TENSORBOARD))
            except ModuleNotFoundError:  # the base install: the CSV log only, said in one line
                log.warning(
                    "TensorBoard log skipped: tensorboard is not installed (pip install "
                    "'deeprnn[tensorboard]'; trainer.tensorboard: false skips it quietly)"
                )
        if run.optim.scheduler.name != "none" or run.optim.scheduler.warmup_steps:
            callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    callbacks.extend(extra_callbacks)
    kwargs: dict[str, Any] = {}
    for name in (
        "limit_train_batches",
        "limit_val_batches",
        "limit_test_batches",
        "val_check_interval",
    ):
        if getattr(t, name) is not None:
            kwargs[name] = getattr(t, name)
    if t.max_time is not None:
        kwargs["max_time"] = {"seconds": t.max_time}
    return pl.Trainer(
        default_root_dir=run_dir,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
        deterministic=t.deterministic,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=loggers or False,
        log_every_n_steps=t.log_every_n_steps,
        enable_progress_bar=bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # the data modules shard one global order themselves
        **kwargs,
    )


@dataclass
class FitResult:
    """What :func:`fit_run` returns: the run folder, the trained model (the best weights) and
    its data module, the test metrics, the export folder and the best checkpoint (``None`` when
    not written), the global steps a ``trainer.nonfinite: skip`` run dropped, and the run's
    health warnings (also in ``metrics["warnings"]``)."""

    run_dir: Path
    model: Any
    datamodule: Any
    metrics: dict
    export_dir: Path | None
    best_checkpoint: Path | None
    skipped_steps: list[int] = dataclasses.field(default_factory=list)  # trainer.nonfinite: skip
    warnings: list[str] = dataclasses.field(default_factory=list)


def seed_run(run: RunConfig) -> None:
    from deeprnn.determinism import set_deterministic

    set_deterministic(run.seed, enabled=run.trainer.deterministic)
    pl.seed_everything(run.seed, workers=True, verbose=False)
    if run.trainer.num_threads is not None:
        torch.set_num_threads(run.trainer.num_threads)


def fit_run(
    run: RunConfig, *, resume: str | Path | None = None, extra_callbacks=(), test: bool = True
) -> FitResult:
    """Train ``run`` (optionally resuming from a ``.ckpt``), test the best weights, write
    ``metrics.json`` and the export folder. Returns a :class:`FitResult`.

    ``metrics.json`` holds the test metrics and what they were computed on: ``data`` (each
    split's source, size and any fallback: :meth:`TaskData.provenance`), ``training`` (the
    batch size, epochs, optimizer steps, best epoch, what stopped it) and ``warnings`` (the
    run's health checks, :mod:`~deeprnn.training.runner.health`; also in the log).
    ``trainer.batch_size: null`` is resolved from the training split
    (:func:`~deeprnn.tasks._data.auto_batch_size`) and written so into ``config.yaml``.

    ``test=False`` never touches the test split (a hyper-parameter search's trials select on
    validation): no test metrics, no ``metrics.json``; ``FitResult.metrics`` is empty."""

    from deeprnn._validation import check_out_folder

    artifacts = None
    folder = RunFolder(check_out_folder("out_dir", run.out_dir))  # a file there fails first
    logged_before: list[dict] = []
    if resume is not None:  # a bad --resume fails before anything is written
        ckpt = read_checkpoint(resume)
        artifacts = (ckpt.get("hyper_parameters") or {}).get("artifacts")
        logged_before = _rows_before(folder.csv_log, int(ckpt.get("global_step", 0)))
    seed_run(run)
    run_dir = folder.path
    dm = build_datamodule(run, artifacts).prepare()  # bad data or model configs fail here,
    model = build_model(run, dm.artifacts)  # before the run folder is made
    trainer = build_trainer(run, run_dir, extra_callbacks)
    auto_batch = run.trainer.batch_size is None
    run = _resolve_batch_size(run, dm, trainer.world_size)
    run = _resolve_min_steps(run, model, dm, trainer)
    if is_rank_zero():
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run, folder.config)
        remove_stale_temp_files(folder.checkpoints)  # a save cut short by a kill
    if logged_before:
        _carry_csv_log(trainer, logged_before)
    stop = next(cb for cb in trainer.callbacks if isinstance(cb, GracefulInterrupt))
    try:
        trainer.fit(model, datamodule=dm, ckpt_path=resume, weights_only=True)
    except SystemExit:  # Lightning's graceful shutdown after a KeyboardInterrupt
        if stop.message is not None:
            raise SystemExit(130) from TrainingInterrupted(stop.message)
        raise
    finally:
        stop.restore()
    guard = next(cb for cb in trainer.callbacks if isinstance(cb, NaNGuard))
    if guard.message:  # raised inside a hook that Lightning swallowed
        raise NonFiniteLossError(guard.message)
    record = next(cb for cb in trainer.callbacks if isinstance(cb, health.RunHealth))
    training = health.training_summary(trainer, record, dm.batch_size, auto_batch)
    notes = dm.health_warnings() + health.training_warnings(
        training, train=dm.split_size("train"), max_time=run.trainer.max_time, skipped=guard.skipped
    )
    ckpt_cb = trainer.checkpoint_callback
    best = Path(ckpt_cb.best_model_path) if ckpt_cb and ckpt_cb.best_model_path else None
    if best is not None and best.is_file():
        state = read_checkpoint(best)["state_dict"]
        model.load_state_dict(state)
    notes += _guard_baseline(model, dm, best if trainer.is_global_zero else None)
    metrics = evaluate_model(model, dm, trainer, run.baselines) if test else {}
    notes += health.metric_warnings(metrics)
    health.report(notes)  # (the test fallback was said by evaluate_model)
    if test:
        notes = metrics.pop("warnings") + notes
        metrics.update(training=training, warnings=notes)
        if getattr(model, "transfer", None):
            metrics["transfer"] = model.transfer
    export_dir = None
    if trainer.is_global_zero:
        if test:
            atomic_write_text(folder.metrics, json.dumps(metrics, indent=2) + "\n")
        if run.export:
            export_dir = export_folder(model, folder.model_dir, run=run)
    return FitResult(run_dir, model, dm, metrics, export_dir, best, list(guard.skipped), notes)


def _resolve_min_steps(run: RunConfig, model, dm, trainer: pl.Trainer) -> RunConfig:
    """``run`` with ``trainer.min_steps`` resolved (the one given, or the task's
    ``default_min_steps``) and set on ``trainer``: early stopping cannot end training before
    that many optimizer steps, and with the task's default and the default ``max_epochs`` the
    epochs are raised to reach them (a few dozen windows make epochs of a handful of steps:
    such a run trains by steps). Logged when it changes anything."""
    t = run.trainer
    default = t.min_steps is None
    steps = getattr(model, "default_min_steps", 0) if default else t.min_steps
    if default and t.max_steps > 0:  # a step budget given: the run trains by steps already
        steps = 0
    trainer.fit_loop.epoch_loop.min_steps = steps or None  # Lightning's Trainer(min_steps=)
    per_epoch = max(1, -(-dm.batch_rows() // max(1, dm.batch_size * trainer.world_size)))
    epochs = t.max_epochs
    if default and steps and epochs == TrainerConfig.max_epochs and epochs * per_epoch < steps:
        epochs = -(-steps // per_epoch)
        trainer.fit_loop.max_epochs = epochs
    patience = t.early_stopping_patience
    if steps and (
        epochs != t.max_epochs or (patience is not None and per_epoch * patience < steps)
    ):
        log.warning(
            "trainer.min_steps: %d (%s): early stopping waits for %d optimizer steps "
            "(epochs of %d steps; max_epochs %d%s)",
            steps,
            "the task's default" if default else "given",
            steps,
            per_epoch,
            epochs,
            f", raised from {t.max_epochs} to reach them" if epochs != t.max_epochs else "",
        )
    # config.yaml keeps min_steps as given (null: the task's default, which resolves the same
    # again); the value used is metrics.json["training"]["min_steps"]; raised epochs are kept
    trainer_cfg = dataclasses.replace(t, max_epochs=epochs)
    return dataclasses.replace(run, trainer=trainer_cfg)


def _resolve_batch_size(run: RunConfig, dm, world: int) -> RunConfig:
    """``run`` with ``trainer.batch_size`` resolved: the one given, or the data module's
    :func:`~deeprnn.tasks._data.auto_batch_size` over ``world`` processes (logged); the run
    config written to the run folder says the value trained with."""
    auto = run.trainer.batch_size is None
    size = dm.resolve_batch_size(world)
    if auto:
        n, unit = dm.batch_rows(), dm.split_size("train")[1]
        log.info(
            "trainer.batch_size: %d (auto: 32, or smaller so that an epoch of the %d training "
            "rows (%s) has at least 16 optimizer steps, never below 8)",
            size,
            n,
            unit,
        )
    return dataclasses.replace(run, trainer=dataclasses.replace(run.trainer, batch_size=size))


def _rows_before(csv_log: Path, global_step: int) -> list[dict]:
    """The rows of a run's CSV log written before the checkpoint a resume starts from (their
    ``step`` below its global step); the rows after it belong to steps the resume runs again."""
    import csv

    if not csv_log.is_file():
        return []
    with csv_log.open(newline="", encoding="utf-8") as f:
        rows = [{k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]
    return [r for r in rows if "step" in r and int(float(r["step"])) < global_step]


def _carry_csv_log(trainer: pl.Trainer, rows: list[dict]) -> None:
    """Keep the curves of the epochs before a resume: Lightning's CSV writer deletes the old
    ``metrics.csv`` when it starts, so its rows go back in front of what the resumed run logs."""
    from lightning.pytorch.loggers import CSVLogger

    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger) and trainer.is_global_zero:
            writer = logger.experiment  # created now: the old file is gone, its rows are here
            writer.metrics[:0] = rows


def _guard_baseline(model, dm, best: Path | None) -> list[str]:
    """A task's check of the restored model against its chosen baseline on validation (the
    forecaster's ``model.baseline: auto``, :func:`deeprnn.tasks.forecast.baselines.guard`): its
    line, and the artifacts it changed written into the best checkpoint too, so a reopened run
    forecasts as the tested one."""
    check = getattr(model, "guard_baseline", None)
    line = check(dm) if check is not None else None
    if line is None:
        return []
    if best is not None and best.is_file():
        import io

        from deeprnn._persist import atomic_write_bytes

        ckpt = read_checkpoint(best)
        ckpt.setdefault("hyper_parameters", {})["artifacts"] = dict(model.artifacts)
        buffer = io.BytesIO()
        torch.save(ckpt, buffer)
        atomic_write_bytes(best, buffer.getvalue())
    return [line]


def evaluate_model(model, dm, trainer: pl.Trainer | None = None, baselines=True) -> dict:
    """Test metrics of ``model`` on the data module's test split, plus task extras, and the
    task's baselines on the val and test splits (:mod:`deeprnn.tasks.baselines`; ``baselines``
    is the run config's key: true, false or a list of names)."""
    if trainer is None:
        trainer = pl.Trainer(
            accelerator="auto",
            devices=1,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
        )
    results = trainer.test(model, datamodule=dm, verbose=False)
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    if isinstance(getattr(model, "headline_metric", None), str):
        metrics["headline_metric"] = model.headline_metric
    extra = getattr(model, "extra_metrics", None)
    if extra is not None:
        metrics.update(extra(dm))
    from deeprnn.tasks.baselines import compute

    metrics.update(compute(getattr(model, "task_name", ""), dm, baselines))
    metrics["data"] = data_provenance(dm, trainer)
    metrics["warnings"] = dm.fallback_warnings()
    health.report(metrics["warnings"])
    return metrics


def data_provenance(dm, trainer: pl.Trainer | None = None) -> dict:
    """``metrics.json["data"]``: what each split was (:meth:`TaskData.provenance`), with the
    ``trainer.limit_*_batches`` that computed a split's numbers on part of it."""
    out = dm.provenance()
    if trainer is None:
        return out
    for split, limit in (
        ("train", trainer.limit_train_batches),
        ("val", trainer.limit_val_batches),
        ("test", trainer.limit_test_batches),
    ):
        if limit is not None and limit != 1.0 and split in out:
            out[split]["limited_to"] = f"trainer.limit_{split}_batches={limit} (part of the split)"
    return out


def trained_parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter (for comparing runs)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
