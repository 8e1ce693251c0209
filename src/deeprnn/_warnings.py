"""Warning category for everything deeprnn warns about (tests turn it into errors), and the one
list of other libraries' warnings that are not about the user's run (silenced by the command
line and by ``deeprnn.fit``)."""

import logging
import warnings


class DeepRNNWarning(UserWarning):
    """Base class for deeprnn's own warnings."""


CHATTER = (  # Lightning's (and torch's) messages about its own set-up, not the user's run
    ".*isinstance.treespec, LeafSpec.*",
    ".*does not have many workers.*",
    ".*smaller than the logging interval.*",
    ".*IterableDataset. has .__len__. defined.*",
    ".*litlogger.*",
    ".*Checkpoint directory .* exists and is not empty.*",
    ".*Experiment logs directory .* exists and is not empty.*",
    ".*defined a `validation_step` but have no `val_dataloader`.*",
    ".*`max_epochs` was not set.*",
    ".*torch.compile is ignored.*",
)
CHATTY_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


def ignore_chatter() -> list[logging.Logger]:
    """Filter the warnings of :data:`CHATTER` and raise :data:`CHATTY_LOGGERS` to ``WARNING``;
    returns those loggers. Inside ``warnings.catch_warnings()`` the filters end with the block
    (the caller restores the loggers' levels)."""
    for pattern in CHATTER:
        warnings.filterwarnings("ignore", message=pattern)
    loggers = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    return loggers
