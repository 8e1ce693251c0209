"""Deprecated: the search moved to :mod:`deeprnn.training.search` (``from deeprnn.training.search
import TuneConfig, tune``); this module re-exports it and warns."""

import warnings

from deeprnn._run_folder import BEST_YAML, STUDY_DB, SUMMARY_MD
from deeprnn._run_folder import TEST_METRICS as TEST_JSON
from deeprnn.training.search.tuner import (
    OptunaPruning,
    TuneConfig,
    TuneResult,
    best_config,
    open_study,
    trials_table,
    tune,
)

summary_table = trials_table  # its name here before the move

__all__ = [
    "BEST_YAML",
    "STUDY_DB",
    "SUMMARY_MD",
    "TEST_JSON",
    "OptunaPruning",
    "TuneConfig",
    "TuneResult",
    "best_config",
    "open_study",
    "summary_table",
    "tune",
]

warnings.warn(
    "deeprnn.training.tune is deprecated; import from deeprnn.training.search",
    DeprecationWarning,
    stacklevel=2,
)
