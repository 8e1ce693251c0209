"""Tiny data files and run configs for the task, export and CLI tests (written per test)."""

from __future__ import annotations

import copy
import math
import os
import random
import subprocess
import sys
from pathlib import Path

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin"]
PLACES = ["Paris", "London", "Rome", "Oslo"]
WORDS = ["went", "to", "the", "market", "in", "saw", "and", "met", "a", "dog"]


def write_ner(path: Path, sentences: int = 80, seed: int = 0) -> Path:
    """CoNLL lines "token POS tag": names are B-PER, places B-LOC, the rest O."""
    rng = random.Random(seed)
    lines = ["-DOCSTART- -X- O", ""]
    for _ in range(sentences):
        for _ in range(rng.randint(3, 8)):
            r = rng.random()
            if r < 0.2:
                lines.append(f"{rng.choice(NAMES)} NNP B-PER")
            elif r < 0.35:
                lines.append(f"{rng.choice(PLACES)} NNP B-LOC")
            else:
                lines.append(f"{rng.choice(WORDS)} X O")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_names(path: Path, n: int = 200, seed: int = 0) -> Path:
    rng = random.Random(seed)
    stems = ["anna", "bella", "carla", "diana", "emma", "fiona", "gina"]
    path.write_text("\n".join(rng.choice(stems) for _ in range(n)) + "\n", encoding="utf-8")
    return path


def write_reviews(path: Path, n: int = 200, seed: int = 0) -> Path:
    """CSV text,label: sentiment given by the words good/great vs bad/awful."""
    rng = random.Random(seed)
    pos, neg = ["good", "great", "fine"], ["bad", "awful", "poor"]
    filler = ["the", "film", "was", "plot", "and", "actors", "very", "quite"]
    rows = ["text,label"]
    for _ in range(n):
        label = rng.random() < 0.5
        words = [rng.choice(filler) for _ in range(rng.randint(2, 8))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(pos if label else neg))
        rows.append(f"{' '.join(words)},{'pos' if label else 'neg'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_series(path: Path, steps: int = 240, seed: int = 0) -> Path:
    """CSV of two series (id a/b) with a seasonal target and a covariate."""
    rng = random.Random(seed)
    rows = ["id,value,temp"]
    for sid, phase in (("a", 0.0), ("b", 1.0)):
        for t in range(steps):
            temp = math.cos(2 * math.pi * t / 12)
            value = 10 + 3 * math.sin(2 * math.pi * t / 12 + phase) + 0.5 * temp + rng.gauss(0, 0.1)
            rows.append(f"{sid},{value:.4f},{temp:.4f}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


QUIET = {
    "progress_bar": False,
    "tensorboard": False,
    "log_every_n_steps": 5,
    "num_threads": 1,
}

SMALL_RNN = {"hidden_size": 16}


def tiny_config(task: str, data_dir: Path, out_dir: Path, **trainer) -> dict:
    """A run config dict that trains in a few seconds."""
    data_dir.mkdir(parents=True, exist_ok=True)
    t = {"max_epochs": 3, "batch_size": 16, **QUIET, **trainer}
    if task == "classify":
        cfg = {
            "data": {"source": "csv", "path": str(write_reviews(data_dir / "reviews.csv"))},
            "model": {"input": {"embedding_dim": 16}, "rnn": dict(SMALL_RNN)},
            "optim": {"lr": 1e-2},
        }
    elif task == "classify_numeric":
        task = "classify"
        cfg = {"data": {"num_examples": 120}, "model": {"rnn": dict(SMALL_RNN)}}
    elif task == "tag":
        cfg = {
            "data": {"path": str(write_ner(data_dir / "ner.txt"))},
            "model": {
                "input": {"embedding_dim": 16},
                "rnn": {"hidden_size": 16, "bidirectional": True},
            },
            "optim": {"lr": 1e-2},
        }
    elif task == "forecast":
        cfg = {
            "data": {
                "source": "csv",
                "path": str(write_series(data_dir / "series.csv")),
                "targets": ["value"],
                "covariates": ["temp"],
                "series_column": "id",
                "input_window": 24,
                "horizon": 3,
                "seasonality": 12,
            },
            "model": {"rnn": {"hidden_size": 16, "num_layers": 1}},
            "optim": {"lr": 1e-2},
        }
    elif task == "lm":
        cfg = {
            "data": {
                "path": str(write_names(data_dir / "names.txt")),
                "documents": "line",
                "add_bos": True,
                "add_eos": True,
            },
            "model": {"input": {"embedding_dim": 16}, "rnn": {"hidden_size": 32}},
            "optim": {"lr": 1e-2},
        }
    else:
        raise ValueError(task)
    return copy.deepcopy({"task": task, "seed": 0, "out_dir": str(out_dir), "trainer": t, **cfg})


def reader_splits(n: int = 60) -> dict:
    """A ``data.reader`` function: pre-tokenised examples, labelled by their first token."""
    rng = random.Random(1)
    items = []
    for _ in range(n):
        first = rng.choice(["yes", "no"])
        items.append(([first, *rng.choices(WORDS, k=rng.randint(0, 5))], first))
    return {"train": items[:40], "val": items[40:50], "test": items[50:]}


def forecast_reader(form: str = "frame", steps: int = 120) -> object:
    """A forecast ``data.reader``: two seasonal series (``id`` a / b) with a covariate, as one
    DataFrame (``form="frame"``), ``{"frame": DataFrame}`` (``"dict"``), splits of (T, 2) arrays
    (``"arrays"``: series a and b cut in time) or splits of DataFrames (``"frames"``)."""
    import numpy as np
    import pandas as pd

    t = np.arange(steps)
    parts = []
    for sid, phase in (("a", 0.0), ("b", 1.0)):
        temp = np.cos(2 * np.pi * t / 12)
        value = 10 + 3 * np.sin(2 * np.pi * t / 12 + phase) + 0.5 * temp
        parts.append(pd.DataFrame({"id": sid, "value": value, "temp": temp}))
    frame = pd.concat(parts, ignore_index=True)
    if form == "frame":
        return frame
    if form == "dict":
        return {"frame": frame}
    cuts = {"train": (0, 80), "val": (56, 100), "test": (76, steps)}
    if form == "frames":
        return {s: frame[(frame.index % steps >= a) & (frame.index % steps < b)]
                for s, (a, b) in cuts.items()}  # fmt: skip
    values = [p[["value", "temp"]].to_numpy() for p in parts]
    return {s: [v[a:b] for v in values] for s, (a, b) in cuts.items()}


def train_cli(cfg: dict, tmp_path: Path, name: str, *extra: str, timeout: int = 600) -> dict:
    """``deeprnn train -c NAME.yaml *extra`` in a subprocess (DDP launches its processes from a
    command line), one thread per process; the state dict of its ``last.ckpt``."""
    import yaml

    from deeprnn.training import read_checkpoint

    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    exe = Path(sys.executable).parent / "deeprnn"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(exe), "train", "-c", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_checkpoint(Path(cfg["out_dir"]) / "checkpoints" / "last.ckpt")["state_dict"]
