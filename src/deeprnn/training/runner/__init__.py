"""The config runner: a run described by a :class:`RunConfig` (``deeprnn train -c
config.yaml``), trained, tested and exported into its run folder.

* :mod:`~deeprnn.training.runner.config`: :class:`RunConfig` and its trainer / finetune sections;
* :mod:`~deeprnn.training.runner.run`: :func:`fit_run` (one run) and the builders it uses;
* :mod:`~deeprnn.training.runner.kfold`: :func:`fit_folds` (every fold of ``data.folds``).
"""

from deeprnn.training.runner.config import (
    FinetuneConfig,
    RunConfig,
    TrainerConfig,
    run_config_from_dict,
)
from deeprnn.training.runner.kfold import KFoldResult, fit_folds, fold_run, summarize_folds
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
    "TrainerConfig",
    "build_datamodule",
    "build_model",
    "build_trainer",
    "evaluate_model",
    "fit_folds",
    "fit_run",
    "fold_run",
    "is_rank_zero",
    "run_config_from_dict",
    "seed_run",
    "summarize_folds",
]
