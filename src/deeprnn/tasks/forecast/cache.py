"""``data.cache: DIR``: the prepared panel on disk, memory-mapped by every later run (issue 29).

The first run reads the table (CSV or Parquet), fits the scaler, cuts the windows and scores the
baselines as always, then writes what it built into ``DIR``:

* ``values.npy`` (N, F) float32, the scaled panel (``truth.npy`` (N, K) where targets have
  masked gaps), ``offsets.npy`` (S + 1,);
* ``{split}_rows.npy`` / ``{split}_series.npy``: each window's first row and its series;
* ``index.json``: the fingerprint, the series ids, the artifacts (scaler, series ids and
  scales, frequency, season, the baselines' validation scores ...), where each split came from.

Later runs (and every DDP rank) open those arrays with ``numpy.load(mmap_mode="r")``: loading
takes milliseconds, nothing is copied, and a batch reads only the rows of its windows, so a
rank that trains on its own series (:mod:`deeprnn.tasks.forecast.shards`) reads only its shard
of the panel, and a panel larger than memory trains from the page cache (Megatron's and HF
datasets' practice: prepare once, memory-map after).

The fingerprint is the file's resolved path, size and modification time and every ``data`` key
that changes the arrays (not ``windows_per_epoch`` / ``window_sampling`` / ``cache``); a cache
with another fingerprint is rebuilt, never used (a stale cache would be a silently wrong
panel). Artifacts handed in (a resumed run's) that disagree with the cache's are not used
either: the data is read from the file with them, and a line says so. Files are written into a
temporary folder renamed into place, ``index.json`` last, so a cut-off build leaves no cache
that looks complete; ranks other than 0 wait for rank 0's build (:data:`WAIT_S`).

Shape symbols: N rows of all series, F features (K targets first), S series.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprnn._distributed import is_rank_zero, rank_name
from deeprnn.data.timeseries import Scaler
from deeprnn.tasks.forecast.windows import Panel, Windows, WindowStarts

log = logging.getLogger("deeprnn.tasks.forecast")

VERSION = 1
INDEX = "index.json"
SPLITS = ("train", "val", "test")
WAIT_S = 3600.0  # how long a rank other than 0 waits for rank 0 to build the cache
# data keys that do not change the cached arrays
IGNORED = ("cache", "windows_per_epoch", "window_sampling")


def _plain(value):
    """``json.dumps``'s ``default``: NumPy scalars and arrays as numbers and lists; anything
    else is an error (never its ``str``, which would come back as text)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"data.cache: cannot store {type(value).__name__} {value!r} in index.json")


def as_json(value):
    """``value`` as it comes back from ``index.json``."""
    return json.loads(json.dumps(value, default=_plain))


def fingerprint(cfg) -> dict:
    """What the cached arrays depend on: the file (resolved path, size, mtime) and the data
    keys (a ForecastDataConfig ``cfg``)."""
    path = Path(cfg.path).resolve()
    st = path.stat()
    keys = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in IGNORED}
    keys.pop("path", None)
    return {
        "version": VERSION,
        "file": {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns},
        "data": as_json(keys),
    }


def read_index(directory: Path) -> dict | None:
    """The cache's index, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((directory / INDEX).read_text())
    except (OSError, ValueError):
        return None


def disagreement(index: dict, artifacts: dict) -> str | None:
    """The first artifact handed in whose value differs from the cache's (None: they agree)."""
    cached = index["artifacts"]
    for key, value in artifacts.items():
        if key in cached and as_json(value) != cached[key]:
            return key
    return None


def wait_for(directory: Path, fp: dict, rank: str, timeout: float = WAIT_S) -> dict:
    """Rank ``rank`` (not 0) waits until rank 0 has written a cache of fingerprint ``fp``."""
    start = time.monotonic()
    while True:
        index = read_index(directory)
        if index is not None and index["fingerprint"] == fp:
            return index
        if time.monotonic() - start > timeout:
            raise TimeoutError(
                f"data.cache: rank {rank} waited {timeout:.0f} s for rank 0 to build the cache "
                f"in {directory}; build it first with one process (the same config), or put "
                "data.cache on a file system every node shares"
            )
        time.sleep(1.0)


def check_replaceable(directory: Path) -> None:
    """``data.cache`` may name a new or empty folder, or one holding a cache (``index.json``):
    anything else (a file, a folder of the user's own files) is an error, never replaced."""
    if directory.is_file():
        raise ValueError(f"data.cache must name a folder, got the file {directory}")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / INDEX).is_file():
        raise ValueError(
            f"data.cache: {directory} holds files but no {INDEX}: it is not a deeprnn cache, "
            "and building one there would replace them; name a new or empty folder"
        )


def write(directory: Path, fp: dict, dm) -> None:
    """Write the prepared data module ``dm`` (a ForecastData) as the cache in ``directory``."""
    directory = Path(directory)
    check_replaceable(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        panel = dm.panel
        np.save(tmp / "values.npy", panel.values)
        np.save(tmp / "offsets.npy", panel.offsets)
        if panel.truth is not None:
            np.save(tmp / "truth.npy", panel.truth)
        for split in SPLITS:
            np.save(tmp / f"{split}_rows.npy", dm.splits[split].rows)
            np.save(tmp / f"{split}_series.npy", dm.splits[split].series)
        index = {
            "fingerprint": fp,
            "ids": panel.ids,
            "artifacts": as_json(dm.artifacts),
            "split_sources": dm.split_sources,
            "shape": list(panel.values.shape),
        }
        (tmp / INDEX).write_text(json.dumps(index) + "\n")
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(directory: Path, index: dict, dm) -> None:
    """Fill ``dm`` (a ForecastData) from the cache: a memory-mapped panel, its windows, the
    artifacts and the split sources."""
    directory = Path(directory)

    def array(name: str) -> np.ndarray:
        return np.load(directory / name, mmap_mode="r")

    truth = array("truth.npy") if (directory / "truth.npy").exists() else None
    dm.panel = Panel(array("values.npy"), np.asarray(array("offsets.npy")), index["ids"], truth)
    for key, value in index["artifacts"].items():
        dm.artifacts.setdefault(key, value)
    dm.split_sources = dict(index["split_sources"])
    art = dm.artifacts
    w, h, k = art["input_window"], art["horizon"], len(art["targets"])
    dm.splits, dm.window_starts = {}, {}
    for split in SPLITS:
        windows = Windows(
            dm.panel, array(f"{split}_rows.npy"), array(f"{split}_series.npy"), w, h, k
        )
        dm.splits[split] = windows
        dm.window_starts[split] = WindowStarts(windows)
    dm.scaler = Scaler.from_state_dict(art["scaler"])


def use(dm) -> bool:
    """Fill ``dm`` (a ForecastData with ``data.cache``) from the cache when it holds this data,
    rank 0 or not (the others wait for rank 0's build); False: ``dm`` reads the file (and
    rank 0 writes the cache: :func:`build`)."""
    cfg = dm.config
    directory = Path(cfg.cache)
    check_replaceable(directory)  # before the table is read
    fp = fingerprint(cfg)
    index = read_index(directory)
    if (index is None or index["fingerprint"] != fp) and not is_rank_zero():
        index = wait_for(directory, fp, rank_name())
    if index is None or index["fingerprint"] != fp:
        why = "none there yet" if index is None else "another file or data keys"
        log.info("data.cache: building %s (%s)", directory, why)
        return False
    key = disagreement(index, dm.artifacts)
    if key is not None:
        dm.cache_skipped = True
        log.warning(
            "data.cache: %s holds another %r than the one given (a resumed or reopened run's): "
            "reading %s with the given artifacts instead",
            directory,
            key,
            cfg.path,
        )
        return False
    load(directory, index, dm)
    log.info(
        "data.cache: %s memory-mapped (%d rows, %d series)",
        directory,
        len(dm.panel.values),
        len(dm.panel.ids),
    )
    return True


def build(dm) -> None:
    """Write the cache of the prepared ``dm``, then map it back: the copy in memory goes."""
    directory = Path(dm.config.cache)
    write(directory, fingerprint(dm.config), dm)
    load(directory, read_index(directory), dm)
    log.info("data.cache: the prepared panel written to %s", directory)
