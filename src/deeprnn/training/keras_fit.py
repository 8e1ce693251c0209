"""Deprecated: Keras-style ``fit`` / ``evaluate`` / ``predict`` moved to
:mod:`deeprnn.training.keras` (``deeprnn.fit`` at the top level is unchanged); this module
re-exports them and warns."""

import warnings

from deeprnn.training.keras import FitModule, History, evaluate, fit, predict

__all__ = ["FitModule", "History", "evaluate", "fit", "predict"]

warnings.warn(
    "deeprnn.training.keras_fit is deprecated; import from deeprnn.training.keras "
    "(or use deeprnn.fit / evaluate / predict / History)",
    DeprecationWarning,
    stacklevel=2,
)
