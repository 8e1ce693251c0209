"""Training: the run config, callbacks, checkpoint I/O and ``fit`` (a run from its config).

Keras' ``model.fit`` / ``evaluate`` / ``predict`` for any ``nn.Module`` are in
:mod:`deeprnn.training.keras_fit` (``deeprnn.fit`` at the top level), with its
:class:`History` and the :class:`FitModule` wrapper.

The typed-config machinery (:func:`from_dict`, :func:`to_dict`, overrides, YAML) and the
optimizer / regulariser configs the task models use are re-exported here, where a run is put
together; they live below the tasks (:mod:`deeprnn._schema`, :mod:`deeprnn.tasks.optim`).
"""

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
from deeprnn.training.config import (
    FinetuneConfig,
    RunConfig,
    TrainerConfig,
    run_config_from_dict,
)
from deeprnn.training.fit import (
    FitResult,
    build_datamodule,
    build_model,
    evaluate_model,
    fit,
    is_rank_zero,
)
from deeprnn.training.keras_fit import FitModule, History
from deeprnn.training.kfold import fit_folds

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
    "from_dict",
    "is_rank_zero",
    "load_checkpoint",
    "load_yaml",
    "parse_value",
    "read_checkpoint",
    "run_config_from_dict",
    "to_dict",
    "weight_penalty",
]
