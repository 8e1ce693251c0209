"""The folders a run writes, and the name of every file in them: the one place they are spelled.

A run folder (``deeprnn train``, :func:`deeprnn.training.fit_run`)::

    RUN_DIR/
      config.yaml               the resolved config (every default filled in)
      checkpoints/best.ckpt     best on trainer.monitor;   checkpoints/last.ckpt  (resume)
      checkpoints/interrupted.ckpt  written on Ctrl-C
      logs/csv/metrics.csv      CSV log (``deeprnn plot RUN_DIR``)
      logs/tensorboard/         TensorBoard events (``tensorboard --logdir RUN_DIR/logs``)
      metrics.json              test metrics (with the baselines, for forecasting)
      model/                    the export folder: config.json, model.safetensors, run.yaml ...
      attention_{i}.png         a seq2seq run's attention heatmaps; report.html (deeprnn report)

k-fold (``data.folds: K``)::

    OUT/
      fold_0/ ... fold_{K-1}/   run folders
      summary.json, summary.md  per-fold metrics, mean / std / min / max of every metric

A search (``deeprnn tune``)::

    OUT/
      study.db                  the Optuna study (SQLite)
      trials/trial_0000/ ...    one run folder per trial
      best.yaml                 the full config of the best trial (out_dir: OUT/best)
      summary.md                every trial: state, trainer.monitor, parameters, seconds
      test_metrics.json         the best trial's test metrics (and which trial it was)

Lightning writes some of these itself: ``ModelCheckpoint(dirpath=checkpoints, filename=BEST)``
gives ``best.ckpt`` (and ``last.ckpt`` with ``save_last``), ``CSVLogger(path, name=LOGS,
version=CSV)`` gives ``logs/csv/metrics.csv``; the names given to it are here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deeprnn._persist import CONFIG_NAME

CONFIG = "config.yaml"
METRICS = "metrics.json"
MODEL = "model"  # the export folder
CHECKPOINTS = "checkpoints"
BEST = "best"  # ModelCheckpoint's filename for the best checkpoint (".ckpt" added)
LAST = "last"  # ModelCheckpoint's name for the last one
INTERRUPTED = "interrupted"
CKPT = ".ckpt"
LOGS = "logs"  # the loggers' name (a folder); their versions are sub-folders
CSV = "csv"
TENSORBOARD = "tensorboard"
CSV_LOG = "metrics.csv"  # what Lightning's CSVLogger calls its file
REPORT = "report.html"
EXPORT_RUN_CONFIG = "run.yaml"  # in the export folder: the run config that trained the model

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
STUDY_DB = "study.db"
BEST_YAML = "best.yaml"
TEST_METRICS = "test_metrics.json"


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is created or read).

    >>> RunFolder("runs/imdb").best_checkpoint.as_posix()
    'runs/imdb/checkpoints/best.ckpt'
    """

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))  # a str is welcome

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def model_dir(self) -> Path:
        return self.path / MODEL

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / (BEST + CKPT)

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / (LAST + CKPT)

    @property
    def interrupted_checkpoint(self) -> Path:
        return self.checkpoints / (INTERRUPTED + CKPT)

    @property
    def logs(self) -> Path:
        return self.path / LOGS

    @property
    def csv_log(self) -> Path:
        return self.logs / CSV / CSV_LOG

    @property
    def report(self) -> Path:
        return self.path / REPORT

    def attention_figure(self, i: int) -> Path:
        return self.path / f"attention_{i}.png"

    def attention_figures(self) -> list[Path]:
        return sorted(self.path.glob("attention_*.png"))

    def is_run(self) -> bool:
        """A finished or running training run: its config is written first."""
        return self.config.is_file()

    def looks_like_run(self) -> bool:
        """Any trace of a run: the config, the metrics, the export folder or the logs."""
        return any(p.exists() for p in (self.config, self.metrics, self.model_dir, self.logs))

    def checkpoint(self) -> Path | None:
        """The best checkpoint, else the last one, else ``None``."""
        return next((p for p in (self.best_checkpoint, self.last_checkpoint) if p.is_file()), None)

    def has_export(self) -> bool:
        return is_export(self.model_dir)


def is_export(folder: str | Path) -> bool:
    """An export folder (or a ``save_pretrained`` one): its ``config.json`` is written last."""
    return (Path(folder) / CONFIG_NAME).is_file()


def export_run_config(folder: str | Path) -> Path:
    """The run config an export folder keeps beside the model (``run.yaml``)."""
    return Path(folder) / EXPORT_RUN_CONFIG


def run_of_checkpoint(ckpt: str | Path) -> RunFolder:
    """The run folder a checkpoint ``RUN_DIR/checkpoints/NAME.ckpt`` belongs to."""
    return RunFolder(Path(ckpt).parent.parent)


@dataclass(frozen=True)
class FoldsFolder:
    """The paths of a k-fold output folder: a run folder per fold and the summary."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))  # a str is welcome

    @staticmethod
    def fold_name(i: int) -> str:
        return f"fold_{i}"

    def fold(self, i: int) -> RunFolder:
        return RunFolder(self.path / self.fold_name(i))

    @property
    def refit(self) -> RunFolder:
        """``data.refit``: the run on all the training data for the folds' epoch count."""
        return RunFolder(self.path / "refit")

    @property
    def summary_json(self) -> Path:
        return self.path / SUMMARY_JSON

    @property
    def summary_md(self) -> Path:
        return self.path / SUMMARY_MD


@dataclass(frozen=True)
class SearchFolder:
    """The paths of a ``deeprnn tune`` output folder."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))  # a str is welcome

    @property
    def study_db(self) -> Path:
        return self.path / STUDY_DB

    @property
    def best_yaml(self) -> Path:
        return self.path / BEST_YAML

    @property
    def summary_md(self) -> Path:
        return self.path / SUMMARY_MD

    @property
    def test_metrics(self) -> Path:
        return self.path / TEST_METRICS

    @property
    def best_run(self) -> RunFolder:
        """Where ``best.yaml`` trains (its ``out_dir``)."""
        return RunFolder(self.path / "best")

    def trial(self, number: int) -> RunFolder:
        return RunFolder(self.path / "trials" / f"trial_{number:04d}")

    def is_search(self) -> bool:
        """A search folder, and not a run folder."""
        files = (self.study_db, self.best_yaml, self.summary_md)
        return not RunFolder(self.path).is_run() and any(p.is_file() for p in files)
