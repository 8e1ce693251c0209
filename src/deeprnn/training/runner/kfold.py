"""k-fold cross-validation: what ``deeprnn train`` does when ``data.folds`` is set.

Fold ``i`` of ``K`` is a normal run (:func:`~deeprnn.training.runner.run.fit_run` with
``data.fold: i``) in its own run folder; the folds' test metrics are summarised with their mean
and sample standard deviation (``ddof=1``), as small-corpus papers report them::

    OUT/
      fold_0/ ... fold_{K-1}/   run folders (config.yaml, checkpoints/, metrics.json, model/)
      summary.json              per-fold metrics, mean / std / min / max of every metric
      summary.md                the same as a table

With ``data.refit: true`` the folds choose a fixed number of epochs, the median of their best
epochs (each on its own held-out fold), and one more run trains on all the training data (train +
val) for that many epochs without validating, then tests once: ``OUT/refit/``, the model to
export and report (its ``metrics.json`` and ``summary.json["refit"]`` say how the epochs were
chosen). The schedule must not follow validation (``optim.scheduler: plateau`` is refused: the
refit has none to follow), so the folds and the refit train alike; a schedule with a horizon
(``cosine``, ``onecycle``, ``slanted_triangular``) keeps the folds' (``horizon_epochs``), so
the refit's epoch ``e`` trains at the rate the folds' epoch ``e`` did and stops there.

The summary is rewritten (atomically) after every fold, so a long run shows its progress and
an interrupted one keeps what it finished. How the data is cut into folds is the task's
business (for ``classify``: stratified by class with the run's seed; without a test split of
the data's own, the held-out fold is also the test split — see
:mod:`deeprnn.tasks.classify_data`).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deeprnn._persist import atomic_write_text
from deeprnn._run_folder import FoldsFolder
from deeprnn._schema import to_dict
from deeprnn.tasks.optim import SPANNING
from deeprnn.training._markdown import markdown_table
from deeprnn.training.runner.config import RunConfig
from deeprnn.training.runner.run import FitResult, fit_run, is_rank_zero

__all__ = [
    "KFoldResult",
    "fit_folds",
    "fold_run",
    "refit_epochs",
    "refit_run",
    "summarize_folds",
    "summary_table",
]

log = logging.getLogger("deeprnn.training")


@dataclass
class KFoldResult:
    """What :func:`fit_folds` did: the output folder, each fold's :class:`FitResult`, the refit
    run's (``data.refit``; else ``None``), and the summary written to ``summary.json``."""

    out_dir: Path
    results: list[FitResult] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    refit: FitResult | None = None


def _folds_of(run: RunConfig) -> int:
    data = run.data
    if not hasattr(data, "folds"):
        raise ValueError(
            f"data.folds: task {run.task!r} does not support k-fold cross-validation (its data "
            "config has no 'folds' key)"
        )
    k = data.folds
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"data.folds must be an int >= 2 to run k folds, got {k!r}")
    return k


def fold_run(run: RunConfig, fold: int) -> RunConfig:
    """A copy of ``run`` for fold ``fold``: ``data.fold`` set, ``out_dir/fold_{fold}``."""
    k = _folds_of(run)
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < k:
        raise ValueError(f"fold must be an int in [0, {k - 1}], got {fold!r}")
    one = copy.deepcopy(run)
    one.data.fold = fold
    one.out_dir = str(FoldsFolder(run.out_dir).fold(fold).path)
    return one


def _check_refit(run: RunConfig) -> bool:
    refit = bool(getattr(run.data, "refit", False))
    if refit and run.optim.scheduler.name == "plateau":
        raise ValueError(
            "data.refit: optim.scheduler 'plateau' follows the validation score, and the refit "
            "run has no validation split; use a schedule by epochs (none, step, exponential, "
            "cosine, ...) so the folds and the refit train alike"
        )
    t = run.trainer
    by_steps = t.max_steps not in (-1, None) or not t.max_epochs
    if refit and run.optim.scheduler.name in SPANNING and by_steps:
        raise ValueError(
            f"data.refit: optim.scheduler {run.optim.scheduler.name!r} spans the folds' "
            f"trainer.max_epochs, and trainer.max_steps={t.max_steps!r} / "
            f"max_epochs={t.max_epochs!r} bound it otherwise; the refit trains by epochs: set "
            "trainer.max_steps: -1 and a max_epochs"
        )
    return refit


def refit_epochs(best_epochs: Sequence[int | None]) -> int:
    """The refit's epoch count: the median (rounded, at least 1) of the folds' best epochs."""
    if not best_epochs or any(e is None for e in best_epochs):
        raise ValueError(
            f"data.refit needs every fold's best epoch (a validation score each epoch), got "
            f"{list(best_epochs)}"
        )
    return max(1, round(statistics.median(best_epochs)))


def refit_run(run: RunConfig, epochs: int) -> RunConfig:
    """A copy of ``run`` for the refit (``data.refit``): all the training data, ``epochs``
    epochs, no validation, no early stopping, no time limit, the last epoch's weights (the
    checkpoint "monitors" the step) into ``out_dir/refit``."""
    one = copy.deepcopy(run)
    one.data.fold = None
    one.out_dir = str(FoldsFolder(run.out_dir).refit.path)
    t = one.trainer
    t.max_epochs, t.max_steps, t.max_time = int(epochs), -1, None
    t.early_stopping_patience, t.monitor, t.mode = None, "step", "max"
    t.limit_val_batches, t.val_check_interval = 0, None
    sched = one.optim.scheduler
    if sched.name in SPANNING and sched.horizon_epochs is None:
        sched.horizon_epochs = run.trainer.max_epochs  # the folds' rates, epoch by epoch
    return one


def _stats(values: list[float]) -> dict:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"mean": mean, "std": std, "min": min(values), "max": max(values), "values": values}


def summarize_folds(per_fold: Sequence[dict], folds: int | None = None) -> dict:
    """Mean, sample std (``ddof=1``; ``None`` for a single fold), min and max of every numeric
    metric over the folds.

    Args:
        per_fold: one entry per finished fold: ``{"fold": i, "metrics": {name: value}, ...}``.
        folds: K (default: the number of entries).

    Returns:
        ``{"folds": K, "completed": n, "metrics": {name: {"mean", "std", "min", "max",
        "values"}}, "per_fold": per_fold}``; a metric missing from some fold is summarised over
        the folds that have it.
    """
    names: list[str] = []
    for entry in per_fold:
        for name, value in entry["metrics"].items():
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and name not in names
            ):
                names.append(name)
    metrics = {}
    for name in sorted(names):
        values = [float(e["metrics"][name]) for e in per_fold if name in e["metrics"]]
        metrics[name] = _stats(values)
    return {
        "folds": folds if folds is not None else len(per_fold),
        "completed": len(per_fold),
        "metrics": metrics,
        "per_fold": list(per_fold),
    }


def _fmt(v) -> str:
    return "" if v is None else f"{v:.4f}"


def summary_table(summary: dict) -> str:
    """``summary.md``: one row per fold and a ``mean ± std`` row (Markdown)."""
    names = list(summary["metrics"])
    rows = [
        [str(entry["fold"]), *(_fmt(entry["metrics"].get(n)) for n in names)]
        for entry in summary["per_fold"]
    ]
    mean = ["mean ± std"]
    for n in names:
        m = summary["metrics"][n]
        mean.append(_fmt(m["mean"]) + (f" ± {_fmt(m['std'])}" if m["std"] is not None else ""))
    lines = [
        f"# {summary['folds']}-fold cross-validation ({summary['completed']} done)",
        "",
        *markdown_table(["fold", *names], [*rows, mean], align=":"),
    ]
    refit = summary.get("refit")
    if refit:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in refit["metrics"].items())
        lines += [
            "",
            f"**Refit** (`{refit['run_dir']}/`, the model to report): trained on all "
            f"{refit['train_size']} training examples for {refit['epochs']} epochs, the median "
            f"of the folds' best epochs {refit['fold_best_epochs']} (each chosen on its "
            f"held-out fold by {refit['chosen_on']}); tested once on {refit['test_source']} "
            f"({refit['test_size']} examples): {shown}.",
        ]
    if summary.get("test_is_fold"):
        lines += [
            "",
            "The data has no test split of its own: each fold's test metrics are measured on "
            "its held-out fold, which also chose the best epoch (an optimistic estimate).",
        ]
    return "\n".join(lines) + "\n"


def _write(out_dir: Path, summary: dict) -> None:
    folder = FoldsFolder(out_dir)
    atomic_write_text(folder.summary_json, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(folder.summary_md, summary_table(summary))


def fit_folds(run: RunConfig, *, extra_callbacks=()) -> KFoldResult:
    """Train every fold of ``run`` (``data.folds: K``) with :func:`fit_run`, each into
    ``run.out_dir/fold_{i}``, and write ``summary.json`` and ``summary.md`` there.

    Args:
        run: the run config; ``data.fold`` is ignored (every fold is run).
        extra_callbacks: Lightning callbacks given to every fold's trainer (the same objects).

    Returns:
        :class:`KFoldResult`.

    Raises:
        ValueError: the task has no ``data.folds``, or it is not an int >= 2.
    """
    k = _folds_of(run)
    refit = _check_refit(run)
    out_dir = Path(run.out_dir)
    result = KFoldResult(out_dir)
    per_fold: list[dict] = []
    for i in range(k):
        one = fold_run(run, i)
        log.info("fold %d of %d -> %s", i + 1, k, one.out_dir)
        fitted = fit_run(one, extra_callbacks=extra_callbacks)
        result.results.append(fitted)
        info = getattr(fitted.datamodule, "fold_info", None) or {}
        entry = {"fold": i, "run_dir": FoldsFolder.fold_name(i), "metrics": dict(fitted.metrics)}
        entry.update({k_: v for k_, v in info.items() if k_ not in ("fold", "folds")})
        entry["best_epoch"] = (fitted.metrics.get("training") or {}).get("best_epoch")
        per_fold.append(entry)
        summary = summarize_folds(per_fold, k)
        summary["seed"] = run.seed
        summary["test_is_fold"] = any(e.get("test_is_fold") for e in per_fold)
        summary["config"] = to_dict(run)
        result.summary = summary
        if is_rank_zero():
            _write(out_dir, summary)
    if refit:
        result.refit = _fit_refit(run, per_fold, result.summary, extra_callbacks)
        if is_rank_zero():
            _write(out_dir, result.summary)
    return result


def _fit_refit(run: RunConfig, per_fold: list[dict], summary: dict, extra_callbacks) -> FitResult:
    """The refit run of :func:`fit_folds`; its record goes into ``summary["refit"]`` and its
    ``metrics.json["refit"]``."""
    best = [e["best_epoch"] for e in per_fold]
    epochs = refit_epochs(best)
    one = refit_run(run, epochs)
    log.info("refit on all the training data for %d epochs -> %s", epochs, one.out_dir)
    fitted = fit_run(one, extra_callbacks=extra_callbacks)
    data = fitted.metrics.get("data") or {}
    record = {
        "run_dir": "refit",
        "epochs": epochs,
        "fold_best_epochs": best,
        "chosen_on": f"{run.trainer.monitor} ({run.trainer.mode})",
        "train_size": (data.get("train") or {}).get("examples"),
        "test_source": (data.get("test") or {}).get("source"),
        "test_size": (data.get("test") or {}).get("examples"),
        "metrics": {
            k: v
            for k, v in fitted.metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        },
    }
    summary["refit"] = record
    if is_rank_zero() and fitted.metrics:
        fitted.metrics["refit"] = {k: v for k, v in record.items() if k != "metrics"}
        metrics_path = FoldsFolder(run.out_dir).refit.metrics
        atomic_write_text(metrics_path, json.dumps(fitted.metrics, indent=2) + "\n")
    return fitted
