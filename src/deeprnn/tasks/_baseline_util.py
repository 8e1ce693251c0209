"""What every task's baselines share (:mod:`deeprnn.tasks.baselines`,
:mod:`deeprnn.tasks.forecast.baselines`): the splits they are scored on and the line that says
one was skipped."""

from __future__ import annotations

import logging

log = logging.getLogger("deeprnn.baselines")


def stages(dm) -> dict[str, str]:
    """``{metric stage: split}``: ``val`` is the val split, ``test`` the split the model's test
    metrics are computed on (``val`` where the data has no test split). Where the val split is
    not held out (``dm.val_held_out`` false: a refit trains on it) there is no ``val`` stage: a
    score on training data is not a validation score."""
    if not getattr(dm, "val_held_out", True):
        return {"test": dm.test_split()}
    return {"val": "val", "test": dm.test_split()}


def skipped(name: str, why: str) -> None:
    """One line: the baseline ``name`` was not computed, and why."""
    log.warning("baseline %s skipped: %s", name, why)
