"""Training, in three wings that share the callbacks and the checkpoint I/O:

* :mod:`deeprnn.training.runner`: the config runner. A :class:`RunConfig` (``deeprnn train -c
  config.yaml``) trained, tested and exported into its run folder by :func:`fit_run` (also
  ``deeprnn.training.fit``), every fold of ``data.folds`` by :func:`fit_folds`;
* :mod:`deeprnn.training.keras`: Keras' ``model.fit`` / ``evaluate`` / ``predict`` for any
  ``nn.Module`` (``deeprnn.fit`` at the top level), with its :class:`History` and the
  :class:`FitModule` wrapper;
* :mod:`deeprnn.training.search`: hyper-parameter search (``deeprnn tune``), every trial a run
  of the config runner.

A run on disk is reopened by :func:`open_run` (its model and config; :class:`SavedRun` rebuilds
its data and evaluates it); :class:`RunFolder` names every file in it.

:mod:`deeprnn.training.callbacks` (NaN guard, unfreezing, exact resume) and
:mod:`deeprnn.training.checkpoint` (atomic checkpoint writes) serve them all.

The typed-config machinery (:func:`from_dict`, :func:`to_dict`, overrides, YAML) and the
optimizer / regulariser configs the task models use are re-exported here, where a run is put
together; they live below the tasks (:mod:`deeprnn._schema`, :mod:`deeprnn.tasks.optim`).
"""

from deeprnn._run_folder import RunFolder
from deeprnn._schema import apply_overrides, dump_yaml, from_dict, load_yaml, parse_value, to_dict
from deeprnn.tasks.optim import (
    OptimConfig,
    RegularizerConfig,
    SchedulerConfig,
    build_optimizers,
    weight_penalty,
)
from deeprnn.tasks.registry import load_checkpoint
from deeprnn.training.callbacks import NaNGuard, NonFiniteLossError, RNGState, Unfreeze
from deeprnn.training.checkpoint import AtomicCheckpointIO, read_checkpoint
from deeprnn.training.keras import FitModule, History
from deeprnn.training.runner import (
    FinetuneConfig,
    FitResult,
    RunConfig,
    SavedRun,
    TrainerConfig,
    build_datamodule,
    build_model,
    evaluate_model,
    fit_folds,
    fit_run,
    is_rank_zero,
    open_run,
    run_config_from_dict,
)

fit = fit_run
"""The config runner's :func:`fit_run`, by the name it has always had here (``deeprnn.fit`` is
Keras')."""

__all__ = [
    "AtomicCheckpointIO",
    "FinetuneConfig",
    "FitModule",
    "FitResult",
    "History",
    "NaNGuard",
    "NonFiniteLossError",
    "OptimConfig",
    "RNGState",
    "RegularizerConfig",
    "RunConfig",
    "RunFolder",
    "SavedRun",
    "SchedulerConfig",
    "TrainerConfig",
    "Unfreeze",
    "apply_overrides",
    "build_datamodule",
    "build_model",
    "build_optimizers",
    "dump_yaml",
    "evaluate_model",
    "fit",
    "fit_folds",
    "fit_run",
    "from_dict",
    "is_rank_zero",
    "load_checkpoint",
    "load_yaml",
    "open_run",
    "parse_value",
    "read_checkpoint",
    "run_config_from_dict",
    "to_dict",
    "weight_penalty",
]
