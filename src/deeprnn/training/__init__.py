"""Training: typed run configs, optimizers and penalties, callbacks, checkpoints, ``fit``."""

from deeprnn.training.callbacks import NaNGuard, NonFiniteLossError, RNGState, Unfreeze
from deeprnn.training.config import (
    FinetuneConfig,
    OptimConfig,
    RegularizerConfig,
    RunConfig,
    SchedulerConfig,
    TrainerConfig,
    apply_overrides,
    from_dict,
    load_yaml,
    run_config_from_dict,
    to_dict,
)
from deeprnn.training.fit import FitResult, evaluate_model, fit

__all__ = [
    "FinetuneConfig",
    "FitResult",
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
    "evaluate_model",
    "fit",
    "from_dict",
    "load_yaml",
    "run_config_from_dict",
    "to_dict",
]
