"""Hyper-parameter search (``deeprnn tune``): Optuna trials, each a run of the config runner.

* :mod:`~deeprnn.training.search.tuner`: :func:`tune`, :class:`TuneConfig`, the study and its
  pruning callback;
* :mod:`~deeprnn.training.search.space`: the search space (distributions over dotted keys);
* :mod:`~deeprnn.training.search.plots`: the search's plots.
"""

from deeprnn.training.search.tuner import (
    OptunaPruning,
    TuneConfig,
    TuneResult,
    best_config,
    open_study,
    trials_table,
    tune,
)

__all__ = [
    "OptunaPruning",
    "TuneConfig",
    "TuneResult",
    "best_config",
    "open_study",
    "trials_table",
    "tune",
]
