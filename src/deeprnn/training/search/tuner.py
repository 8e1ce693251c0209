"""Hyper-parameter search: what ``deeprnn tune -c base.yaml -s space.yaml --trials 50`` does.

The space (:mod:`deeprnn.training.search.space`) maps dotted config keys to distributions;
`Optuna <https://optuna.org>`__ samples them (TPE by default, seeded) and every trial is a normal
run (:func:`deeprnn.training.fit_run`) in its own run folder. Each validation of ``trainer.monitor``
is reported to Optuna by :class:`OptunaPruning`, so the median or Hyperband pruner can stop a
poor trial early. Trials never look at the test split (``fit_run(test=False)``); at the end the
best trial alone is evaluated on test, once::

    OUT/
      study.db                 the Optuna study (SQLite): rerun the command to resume it
      trials/trial_0000/ ...   one run folder per trial (config.yaml, checkpoints/, logs/)
      best.yaml                the full config of the best trial (out_dir: OUT/best)
      summary.md               every trial: state, trainer.monitor, parameters, seconds
      optimization_history.png, intermediate_values.png, param_importances.png
      test_metrics.json        the best trial's test metrics (and which trial it was)

``trials`` is the number of finished (complete or pruned) trials the study should reach: a
killed search resumes where it stopped (a trial cut short by the kill is left as ``RUNNING``
and marked ``FAIL`` by Optuna's heartbeat once it is stale). ``jobs: N`` runs N worker processes
on the same study; several machines join one search through a shared database
(``storage: postgresql://...``, Optuna's distributed mode), each stopping once the study has
``trials`` finished trials (with W workers at most W - 1 more may finish). From Python::

    from deeprnn.training.search import TuneConfig, tune

    result = tune(load_yaml("base.yaml"), {"optim.lr": {"log_uniform": [1e-4, 1e-2]}},
                  TuneConfig(trials=20))
    result.best_yaml, result.best_trial.value, result.test_metrics
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl

from deeprnn._persist import atomic_write_text
from deeprnn._run_folder import RunFolder, SearchFolder
from deeprnn._schema import apply_overrides, dump_yaml, from_dict, to_dict
from deeprnn.training._markdown import markdown_table
from deeprnn.training.callbacks import NonFiniteLossError
from deeprnn.training.runner.config import RunConfig, run_config_from_dict
from deeprnn.training.runner.reopen import SavedRun
from deeprnn.training.runner.run import fit_run, seed_run
from deeprnn.training.search.space import Param, check_space, parse_space, space_dict

__all__ = [
    "OptunaPruning",
    "TuneConfig",
    "TuneResult",
    "best_config",
    "open_study",
    "trials_table",
    "tune",
]

log = logging.getLogger("deeprnn.training")
FINISHED = ("COMPLETE", "PRUNED")
HEARTBEAT_S, GRACE_S = 30, 120  # a RUNNING trial silent for GRACE_S is marked FAIL


@dataclass
class TuneConfig:
    """How to search: ``trials`` finished trials, ``jobs`` worker processes, the sampler
    (``tpe`` or ``random``, seeded by ``seed``, default the run's seed), the pruner (``median``,
    ``hyperband`` or ``none``), where the study lives (``storage``: an SQLAlchemy URL; default
    ``sqlite:///OUT/study.db``), an optional ``timeout`` in seconds per worker, and whether the
    best trial is evaluated on test at the end."""

    trials: int = 20
    jobs: int = 1
    sampler: Literal["tpe", "random"] = "tpe"
    pruner: Literal["median", "hyperband", "none"] = "median"
    seed: int | None = None
    storage: str | None = None
    study_name: str = "deeprnn"
    timeout: float | None = None
    test: bool = True

    def validate(self, where: str) -> None:
        for name in ("trials", "jobs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{where}.{name} must be a positive int, got {v!r}")
        if self.timeout is not None and not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(f"{where}.timeout must be a positive number, got {self.timeout!r}")
        if not self.study_name:
            raise ValueError(f"{where}.study_name must be a non-empty string")


@dataclass
class TuneResult:
    """What :func:`tune` wrote: the study, its best trial and that trial's full config."""

    out_dir: Path
    study: Any  # optuna.Study
    best_trial: Any  # optuna.trial.FrozenTrial
    best_config: RunConfig
    best_yaml: Path
    summary: Path
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # plots skipped, test not evaluated ...
    test_metrics: dict | None = None
    best_params: dict = field(default_factory=dict)  # the best trial's config values, by key


class OptunaPruning(pl.Callback):
    """Report ``monitor`` to an Optuna trial after every validation; stop when it should prune.

    Training stops gracefully (``trainer.should_stop``), so a pruned trial keeps a complete run
    folder; :attr:`pruned` tells the objective to raise ``optuna.TrialPruned``. :attr:`best` is
    the best reported value (``mode`` min or max): what ``ModelCheckpoint`` kept."""

    def __init__(self, trial, monitor: str, mode: str = "min"):
        self.trial, self.monitor, self.mode = trial, monitor, mode
        self.step = 0
        self.best: float | None = None
        self.pruned = False
        self.seen: list[str] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            self.seen = sorted(trainer.callback_metrics)
            return
        value = float(value)
        self.trial.report(value, self.step)
        self.step += 1
        if math.isfinite(value) and (
            self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        ):
            self.best = value
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True


# -- the study ---------------------------------------------------------------------------------


def _storage(url: str, attempts: int = 8):
    """The study database at ``url``. Workers started together (the documented multi-machine
    search) race to create its tables: the losers' CREATE fails on a database the winner has
    just set up, so creation is retried (with jitter) until it finds the tables there."""
    import random
    import time

    import optuna
    from sqlalchemy.exc import DBAPIError

    kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
                )
        except DBAPIError:  # IntegrityError / ProgrammingError of a concurrent schema creation
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 + random.random() * 0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _sampler(opts: TuneConfig, seed: int):
    import optuna

    if opts.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _pruner(opts: TuneConfig):
    import optuna

    if opts.pruner == "median":
        return optuna.pruners.MedianPruner()
    if opts.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")
    return optuna.pruners.NopPruner()


def open_study(url: str, opts: TuneConfig, direction: str, space: dict | None = None, seed=0):
    """Create or load the study ``opts.study_name`` at ``url``. A study made with another
    search space or direction is an error (start a new ``out_dir`` or ``--study-name``)."""
    import optuna

    study = optuna.create_study(
        storage=_storage(url),
        study_name=opts.study_name,
        direction=direction,
        sampler=_sampler(opts, seed),
        pruner=_pruner(opts),
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise ValueError(
            f"study {opts.study_name!r} at {url} {study.direction.name.lower()}s, but "
            f"trainer.mode asks to {direction}; use another out_dir or study name"
        )
    if space is not None:
        stored = study.user_attrs.get("space")
        if stored is None:
            study.set_user_attr("space", space)
        elif stored != json.loads(json.dumps(space)):
            raise ValueError(
                f"study {opts.study_name!r} at {url} was made with another search space "
                f"({stored}); use another out_dir or --study-name to search a new space"
            )
    return study


def _load_study(url: str, opts: TuneConfig, seed: int = 0):
    import optuna

    return optuna.load_study(
        study_name=opts.study_name,
        storage=_storage(url),
        sampler=_sampler(opts, seed),
        pruner=_pruner(opts),
    )


def _counts(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def _finished(study) -> int:
    c = _counts(study)
    return sum(c.get(s, 0) for s in FINISHED)


# -- one worker ----------------------------------------------------------------------------------


def _objective(base: dict, params: list[Param], out_dir: Path):
    import optuna

    def objective(trial) -> float:
        overrides = [(p.key, p.suggest(trial)) for p in params]
        cfg = apply_overrides(base, overrides)
        cfg["out_dir"] = str(SearchFolder(out_dir).trial(trial.number).path)
        run = run_config_from_dict(cfg)
        trial.set_user_attr("run_dir", str(Path(run.out_dir).resolve()))
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        pruning = OptunaPruning(trial, run.trainer.monitor, run.trainer.mode)
        try:
            fit_run(run, extra_callbacks=[pruning], test=False)
        except NonFiniteLossError as e:  # a diverging trial is a poor one, not a broken search
            trial.set_user_attr("diverged", str(e))
            raise optuna.TrialPruned(str(e)) from None
        if pruning.pruned:
            raise optuna.TrialPruned(f"pruned after {pruning.step} validation(s)")
        if pruning.best is None:
            raise ValueError(
                f"trainer.monitor {run.trainer.monitor!r} was never logged with a finite value; "
                f"logged: {pruning.seen}"
            )
        return pruning.best

    return objective


def _work(settings: dict, n_trials: int, worker: int = 0) -> int:
    """Run up to ``n_trials`` trials of the study in this process (one ``jobs`` worker). A
    spawned worker whose tuner died (``kill -9``) stops after its current trial."""
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    opts = TuneConfig(**settings["opts"])
    params = parse_space(settings["space"])
    study = _load_study(settings["url"], opts)
    before = len(study.trials)
    study.sampler = _sampler(opts, settings["seed"] + 10007 * worker + before)  # fresh on resume
    parent = settings["pid"]

    def orphaned(study, trial) -> None:
        if worker and os.getppid() != parent:
            study.stop()

    study.optimize(
        _objective(settings["base"], params, Path(settings["out_dir"])),
        n_trials=n_trials,
        timeout=opts.timeout,
        callbacks=[
            MaxTrialsCallback(opts.trials, states=(TrialState.COMPLETE, TrialState.PRUNED)),
            orphaned,
        ],
        gc_after_trial=True,
    )
    return len(study.trials) - before


def _run_workers(settings: dict, remaining: int, jobs: int) -> None:
    """Share ``remaining`` trials between this process and ``jobs - 1`` spawned workers."""
    shares = [remaining // jobs + (i < remaining % jobs) for i in range(jobs)]
    shares = [s for s in shares if s]
    if len(shares) == 1:
        _work(settings, shares[0])
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(len(shares) - 1, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_work, settings, n, i) for i, n in enumerate(shares[1:], 1)]
        _work(settings, shares[0])
        for f in futures:
            f.result()  # a worker's error (a bad config in a trial ...) is raised here


# -- the search ----------------------------------------------------------------------------------


def tune(
    base: dict | RunConfig,
    space: dict | None = None,
    options: TuneConfig | dict | None = None,
    *,
    where: str = "config",
    space_where: str = "search space",
) -> TuneResult:
    """Search ``space`` around the run config ``base`` (a dict as read from YAML, or a
    :class:`RunConfig`; its ``search:`` block is the space when ``space`` is None).

    The base config and every key of the space are validated before any trial runs. Trials go
    to ``base.out_dir/trials/``; the study, ``best.yaml``, ``summary.md``, the plots and the best
    trial's ``test_metrics.json`` to ``base.out_dir``. Returns a :class:`TuneResult`."""
    base = to_dict(base) if isinstance(base, RunConfig) else copy.deepcopy(dict(base))
    block = base.pop("search", None)
    if space is None:
        space, space_where = block, "config search"
    if space is None:
        raise ValueError("no search space: give -s SPACE.yaml or a search: block in the config")
    if options is None or isinstance(options, dict):
        options = from_dict(TuneConfig, options or {}, "tune")
    else:
        options.validate("tune")
    run0 = run_config_from_dict(base, where)
    if run0.trainer.monitor.startswith("test"):
        raise ValueError(
            f"trainer.monitor {run0.trainer.monitor!r}: a search selects on validation, never "
            "on test; monitor a val_ metric"
        )
    params = parse_space(space, space_where)
    check_space(params, base, run_config_from_dict, space_where)

    out_dir = Path(run0.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    url = options.storage or f"sqlite:///{SearchFolder(out_dir).study_db.resolve()}"
    direction = "minimize" if run0.trainer.mode == "min" else "maximize"
    seed = run0.seed if options.seed is None else options.seed
    study = open_study(url, options, direction, space_dict(params), seed=seed)
    remaining = options.trials - _finished(study)
    if remaining > 0:
        log.info("tune: %d of %d trials to run (%s)", remaining, options.trials, url)
        settings = {
            "base": base,
            "space": space_dict(params),
            "opts": to_dict(options),
            "url": url,
            "out_dir": str(out_dir),
            "seed": seed,
            "pid": os.getpid(),
        }
        _run_workers(settings, remaining, options.jobs)
    study = _load_study(url, options)
    return _report(study, base, params, out_dir, options, run0.trainer.monitor)


def best_config(study, base: dict, params: list[Param], out_dir: str | Path) -> RunConfig:
    """The full run config of ``study``'s best trial, with ``out_dir`` set to ``out_dir``."""
    best = study.best_trial
    missing = [p.key for p in params if p.key not in best.params]
    if missing:
        raise ValueError(f"best trial {best.number} has no value for {missing}")
    cfg = apply_overrides(base, [(p.key, p.decode(best.params[p.key])) for p in params])
    cfg["out_dir"] = str(out_dir)
    return run_config_from_dict(cfg)


def _report(study, base, params, out_dir: Path, opts: TuneConfig, monitor: str) -> TuneResult:
    from deeprnn.training.search.plots import write_plots

    counts = _counts(study)
    if not counts.get("COMPLETE"):
        raise ValueError(
            f"no trial of study {opts.study_name!r} completed ({counts or 'no trials'}); "
            "nothing to report"
        )
    best = study.best_trial
    folder = SearchFolder(out_dir)
    run = best_config(study, base, params, folder.best_run.path)
    best_yaml = folder.best_yaml
    atomic_write_text(best_yaml, dump_yaml(to_dict(run)))
    summary = folder.summary_md
    atomic_write_text(summary, trials_table(study, monitor))
    notes: list[str] = []
    plots = write_plots(study, out_dir, notes, monitor)
    test = _test_best(best, run, out_dir, notes) if opts.test else None
    values = {p.key: p.decode(best.params[p.key]) for p in params}
    return TuneResult(out_dir, study, best, run, best_yaml, summary, plots, notes, test, values)


def _test_best(best, run: RunConfig, out_dir: Path, notes: list[str]) -> dict | None:
    """The best trial's test metrics, evaluated once: a ``test_metrics.json`` for the same
    trial is read back, never recomputed."""
    from deeprnn.tasks.registry import load_checkpoint

    path = SearchFolder(out_dir).test_metrics
    if path.is_file():
        done = json.loads(path.read_text(encoding="utf-8"))
        if done.get("trial") == best.number:
            return done["metrics"]
    ckpt = RunFolder(best.user_attrs.get("run_dir", "")).best_checkpoint
    if not ckpt.is_file():
        host = best.user_attrs.get("host", "?")
        notes.append(f"test not evaluated: the best trial ran on {host}; {ckpt} is not here")
        return None
    seed_run(run)
    metrics = SavedRun(load_checkpoint(ckpt), run).evaluate()
    record = {"trial": best.number, "checkpoint": str(ckpt), "metrics": metrics}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return metrics


def trials_table(study, monitor: str = "value") -> str:
    """``summary.md``: every trial of ``study`` as a Markdown table (the best one marked ``*``)."""
    trials = study.get_trials(deepcopy=False)
    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    try:
        best = study.best_trial.number
    except ValueError:
        best = None

    def fmt(v) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    rows = []
    for t in trials:
        value = t.value
        if value is None and t.intermediate_values:  # a pruned trial: its last report
            value = t.intermediate_values[max(t.intermediate_values)]
        secs = t.duration.total_seconds() if t.duration is not None else None
        row = [
            f"{t.number}{' *' if t.number == best else ''}",
            t.state.name,
            fmt(value),
            *(fmt(t.params.get(k)) for k in keys),
            fmt(secs),
        ]
        rows.append(row)
    return "\n".join(markdown_table(["trial", "state", monitor, *keys, "seconds"], rows)) + "\n"
