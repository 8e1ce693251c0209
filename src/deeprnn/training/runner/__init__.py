"""The config runner: a run described by a :class:`RunConfig` (``deeprnn train -c
config.yaml``), trained, tested and exported into its run folder.

* :mod:`~deeprnn.training.runner.config`: :class:`RunConfig` and its trainer / finetune sections;
* :mod:`~deeprnn.training.runner.run`: :func:`fit_run` (one run) and the builders it uses;
* :mod:`~deeprnn.training.runner.kfold`: :func:`fit_folds` (every fold of ``data.folds``);
* :mod:`~deeprnn.training.runner.reopen`: :func:`open_run` (a run on disk: its model and
  config) and :class:`SavedRun` (rebuild its data, evaluate it).

Every file name in a run folder is :class:`~deeprnn._run_folder.RunFolder`'s.
"""

from deeprnn.training.runner.config import (
    FinetuneConfig,
    RunConfig,
    TrainerConfig,
    run_config_from_dict,
)
from deeprnn.training.runner.kfold import KFoldResult, fit_folds, fold_run, summarize_folds
from deeprnn.training.runner.reopen import SavedRun, open_export, open_run, run_datamodule
from deeprnn.training.runner.run import (
    FitResult,
    build_datamodule,
    build_model,
    build_trainer,
    evaluate_model,
    fit_run,
    is_rank_zero,
    seed_run,
)

__all__ = [
    "FinetuneConfig",
    "FitResult",
    "KFoldResult",
    "RunConfig",
    "SavedRun",
    "TrainerConfig",
    "build_datamodule",
    "build_model",
    "build_trainer",
    "evaluate_model",
    "fit_folds",
    "fit_run",
    "fold_run",
    "is_rank_zero",
    "open_export",
    "open_run",
    "run_config_from_dict",
    "run_datamodule",
    "seed_run",
    "summarize_folds",
]
