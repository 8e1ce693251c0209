"""Which process of a distributed run this is, read from the launcher's environment (torchrun,
Lightning's subprocess launcher, SLURM through Lightning), before any process group exists."""

from __future__ import annotations

import os

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK")


def is_rank_zero() -> bool:
    """True outside distributed runs and on global rank 0."""
    return all(os.environ.get(k, "0") == "0" for k in RANK_VARIABLES)


def rank_name() -> str:
    """This process as the launcher names it (``RANK=1``), for messages."""
    named = [f"{k}={os.environ[k]}" for k in RANK_VARIABLES if k in os.environ]
    return ", ".join(named) or "0"
