"""Panels of many series (issue 29): load time and memory, and the cost of the data path in
training, for synthetic hourly panels of 100k, 1M and 10M rows (2,000 steps per series: 50, 500
and 5,000 series; columns series id, timestamp, target and one covariate).

    python benchmarks/panel_scale.py                       # 100k, 1M, 10M rows
    python benchmarks/panel_scale.py --rows 100000 1000000 --steps 30

Each size is written once as CSV and Parquet (pyarrow) in a temporary folder; every measure runs
in a fresh subprocess, so its peak RSS (``ru_maxrss``) is its own:

* ``load``: ``ForecastData.prepare()`` of the file (input 96, horizon 24, data keys only with
  ``series_column`` / ``time_column``): seconds, and the peak RSS above the RSS after importing
  deeprnn, Lightning and torch (also per row of the table);
* ``train``: windows per second of ``--steps`` optimizer steps of the forecast model (batch 32,
  LSTM 2 x 64, windows drawn by ``data.windows_per_epoch``) through the data path (the
  DataLoader gathering each batch from the panel) against the same steps on batches gathered
  beforehand, at 1 and 2 torch threads, the best of 5 alternating rounds each; the ratio is
  data path / pre-built, and the DataLoader's own time (no model) over the steps' time;
* ``ddp``: the same steps in Lightning with 2 CPU processes (gloo; each process loads the panel
  and draws its half of every batch) against 1 process, windows per second over all processes.

Times depend on the machine and what else runs on it; the table says which machine. The markdown
table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS_PER_SERIES = 2000
W, H, BATCH = 96, 24, 32
MEASURES = ("load", "train", "ddp", "cache", "sharded")


def _rss_peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux: KiB


def write_panel(rows: int, folder: Path) -> dict[str, Path]:
    """``panel.csv`` and ``panel.parquet`` of ``rows`` rows, written a block of series at a time
    with pyarrow (the generator never holds the whole table as Python objects)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    n_series = max(1, rows // STEPS_PER_SERIES)
    paths = {"csv": folder / "panel.csv", "parquet": folder / "panel.parquet"}
    rng = np.random.default_rng(0)
    t = np.arange(STEPS_PER_SERIES)
    stamps = np.datetime64("2020-01-01T00:00", "ns") + t.astype("timedelta64[h]")
    schema = pa.schema(
        [
            ("series", pa.string()),
            ("time", pa.timestamp("ns")),
            ("target", pa.float32()),
            ("temp", pa.float32()),
        ]
    )
    csv_writer = pcsv.CSVWriter(paths["csv"], schema)
    pq_writer = pq.ParquetWriter(paths["parquet"], schema)
    for first in range(0, n_series, 250):
        ids = range(first, min(n_series, first + 250))
        level = rng.uniform(5, 50, (len(ids), 1))
        season = 1 + 0.3 * np.sin(2 * np.pi * t / 24)
        target = level * season + rng.normal(0, 1, (len(ids), len(t)))
        temp = np.cos(2 * np.pi * t / 168) + rng.normal(0, 0.1, (len(ids), len(t)))
        block = pa.table(
            {
                "series": np.repeat([f"s{i:05d}" for i in ids], len(t)),
                "time": np.tile(stamps, len(ids)),
                "target": target.ravel().astype("float32"),
                "temp": temp.ravel().astype("float32"),
            },
            schema=schema,
        )
        csv_writer.write_table(block)
        pq_writer.write_table(block)
    csv_writer.close()
    pq_writer.close()
    return paths


def _data_keys(path: str, windows_per_epoch: int | None = None, cache: str | None = None):
    return dict(
        source="csv",
        path=path,
        targets=["target"],
        covariates=["temp"],
        series_column="series",
        time_column="time",
        input_window=W,
        horizon=H,
        seasonality=24,
        windows_per_epoch=windows_per_epoch,
        cache=cache,
    )


def _data_config(path: str, windows_per_epoch: int | None = None, cache: str | None = None):
    from deeprnn.tasks.forecast import ForecastDataConfig

    return ForecastDataConfig(**_data_keys(path, windows_per_epoch, cache))


def child_load(path: str, cache: str | None = None) -> dict:
    """``prepare()`` of the file (with ``cache``: building the cache, or opening it)."""
    import lightning  # noqa: F401

    from deeprnn.tasks.forecast import ForecastData

    base = _rss_peak_gb()
    t0 = time.perf_counter()
    dm = ForecastData(_data_config(path, cache=cache), batch_size=BATCH).prepare()
    seconds = time.perf_counter() - t0
    rows = len(dm.panel.values)
    peak = _rss_peak_gb() - base
    return {
        "seconds": seconds,
        "import_gb": base,
        "peak_above_import_gb": peak,
        "bytes_per_row": peak * 1e9 / rows,
        "panel_bytes_per_row": dm.panel.nbytes / rows,
        "rows": rows,
        "series": len(dm.panel.ids),
        "windows": {s: len(v) for s, v in dm.splits.items()},
    }


def _model(dm):
    from deeprnn.tasks.forecast import Forecast

    model = {"rnn": {"hidden_size": 64, "num_layers": 2}}
    return Forecast(model, dm.artifacts, optim={"scheduler": {"name": "none"}})


def child_train(path: str, steps: int, threads: int, rounds: int = 5) -> dict:
    """Windows/s of ``steps`` optimizer steps fed by the DataLoader (the data path) and fed
    batches gathered beforehand, in ``rounds`` alternating rounds (the best round of each: on a
    shared machine the best is the least disturbed), and the DataLoader alone (no model)."""
    import torch

    from deeprnn.tasks.forecast import ForecastData

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dm = ForecastData(_data_config(path, steps * BATCH), batch_size=BATCH).prepare()
    model = _model(dm)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step(batch) -> None:
        loss, _ = model.step(batch, "train")
        opt.zero_grad()
        loss.backward()
        opt.step()

    def timed(batches, train: bool = True) -> float:
        t0 = time.perf_counter()
        for batch in batches:
            if train:
                step(batch)
        return time.perf_counter() - t0

    prebuilt = list(dm.train_dataloader())  # the same batches, gathered beforehand
    for batch in prebuilt[:3]:  # warm-up
        step(batch)
    best = {"data_path": float("inf"), "prebuilt": float("inf"), "loader_only": float("inf")}
    for _ in range(rounds):
        best["data_path"] = min(best["data_path"], timed(dm.train_dataloader()))
        best["prebuilt"] = min(best["prebuilt"], timed(prebuilt))
        best["loader_only"] = min(best["loader_only"], timed(dm.train_dataloader(), False))
    return {
        "threads": threads,
        "data_path_windows_per_s": steps * BATCH / best["data_path"],
        "prebuilt_windows_per_s": steps * BATCH / best["prebuilt"],
        "ratio": best["data_path"] / best["prebuilt"],
        "loader_share": best["loader_only"] / best["prebuilt"],
        "peak_gb": _rss_peak_gb(),
    }


def child_ddp(path: str, steps: int, devices: int, out: str) -> None:
    import lightning.pytorch as pl
    import torch

    from deeprnn.tasks.forecast import ForecastData

    torch.set_num_threads(1)

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            if trainer.global_step == 3:
                self.t0 = time.perf_counter()

        def on_train_end(self, trainer, *args) -> None:
            if trainer.global_rank == 0:
                seconds = time.perf_counter() - self.t0
                windows = steps * BATCH * trainer.world_size
                Path(out).write_text(
                    json.dumps({"devices": trainer.world_size, "windows_per_s": windows / seconds})
                )

    n = (steps + 3) * BATCH * devices
    dm = ForecastData(_data_config(path, n), batch_size=BATCH)
    dm.prepare()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        max_steps=steps + 3,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Clock()],
    )
    trainer.fit(_model(dm), datamodule=dm)
    print("{}")


def child_sharded(path: str, steps: int, devices: int, folder: str, seed: int = 0) -> None:
    """``fit_run`` with ``data.cache`` (built beforehand) on ``devices`` gloo processes: the
    global batch 32, ``steps`` optimizer steps; each rank writes its peak RSS above import and
    the series of its training shard, rank 0 the test metrics (``folder/ddp{devices}*.json``)."""
    import lightning.pytorch as pl
    import numpy as np

    from deeprnn.training import fit_run, run_config_from_dict

    base = _rss_peak_gb()

    class Shard(pl.Callback):
        def on_train_start(self, trainer, *args) -> None:
            self.t0 = time.perf_counter()

        def on_train_end(self, trainer, *args) -> None:
            dm = trainer.datamodule
            order = trainer.train_dataloader.sampler
            rows = getattr(order, "mine", np.arange(len(dm.splits["train"])))
            seen = np.unique(dm.splits["train"].series[rows])
            info = {
                "rank": trainer.global_rank,
                "train_seconds": time.perf_counter() - self.t0,
                "peak_above_import_gb": _rss_peak_gb() - base,
                "train_series": len(seen),
                "series": len(dm.panel.ids),
            }
            Path(folder, f"ddp{devices}_rank{trainer.global_rank}.json").write_text(
                json.dumps(info)
            )

    run = run_config_from_dict(
        {
            "task": "forecast",
            "seed": seed,
            "out_dir": str(Path(folder) / f"run{devices}"),
            "data": _data_keys(path, steps * BATCH, str(Path(folder) / "cache")),
            # the network alone (no baseline to fall back on), so the metrics show its training
            "model": {"rnn": {"hidden_size": 64, "num_layers": 2}, "baseline": "none"},
            "optim": {"lr": 1e-3, "scheduler": {"name": "none"}},
            "trainer": {
                "max_epochs": 1,
                "batch_size": BATCH // devices,
                "accelerator": "cpu",
                "devices": devices,
                "strategy": "ddp" if devices > 1 else "auto",
                "num_threads": 1,
                "early_stopping_patience": None,
                "progress_bar": False,
            },
            "export": False,
        }
    )
    result = fit_run(run, extra_callbacks=[Shard()])
    if result.metrics:
        keep = {
            k: v
            for k, v in result.metrics.items()
            if (k.startswith("test_") or "baseline" in k) and isinstance(v, (int, float, str))
        }
        Path(folder, f"ddp{devices}_metrics.json").write_text(json.dumps(keep))
    print("{}")


def _run(*args: str) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if proc.returncode:
        raise RuntimeError(f"{args}: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--measures",
        nargs="+",
        default=list(MEASURES),
        choices=MEASURES,
        help="load / train / ddp: reading the file; cache / sharded: data.cache (building and "
        "opening it; 1 and 2 gloo processes each training on its own series, 1M rows and less)",
    )
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="sharded runs")
    parser.add_argument("--seed", type=int, default=0, help="of the sharded runs")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, *rest = args.child
        if kind == "load":
            print(json.dumps(child_load(path, *rest)))
        elif kind == "sharded":
            child_sharded(path, int(rest[0]), int(rest[1]), rest[2], int(rest[3]))
        elif kind == "train":
            print(json.dumps(child_train(path, int(rest[0]), int(rest[1]))))
        else:
            child_ddp(path, int(rest[0]), int(rest[1]), rest[2])
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    rows_out = []
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as folder:
            t0 = time.perf_counter()
            paths = write_panel(rows, Path(folder))
            mb = {k: p.stat().st_size / 1e6 for k, p in paths.items()}
            print(f"{rows} rows written in {time.perf_counter() - t0:.0f} s ({mb})", flush=True)
            row = {"rows": rows, "file_mb": mb}
            for kind, p in paths.items():
                if "load" in args.measures:
                    row[f"load_{kind}"] = _run("load", str(p))
                    print(kind, row[f"load_{kind}"], flush=True)
            cache = str(Path(folder) / "cache")
            if "cache" in args.measures or "sharded" in args.measures:
                row["cache_build"] = _run("load", str(paths["parquet"]), cache)
                row["cache_open"] = _run("load", str(paths["parquet"]), cache)
                row["cache_mb"] = sum(f.stat().st_size for f in Path(cache).iterdir()) / 1e6
                print("cache", row["cache_build"], row["cache_open"], flush=True)
            if "sharded" in args.measures and rows <= 1_000_000:
                for devices in args.processes:
                    where = (str(paths["parquet"]), str(args.steps), str(devices), folder)
                    _run("sharded", *where, str(args.seed))
                    f = Path(folder)
                    row[f"sharded_{devices}"] = {
                        "metrics": json.loads((f / f"ddp{devices}_metrics.json").read_text()),
                        "ranks": [
                            json.loads((f / f"ddp{devices}_rank{r}.json").read_text())
                            for r in range(devices)
                        ],
                    }
                    print(row[f"sharded_{devices}"], flush=True)
            if rows <= 1_000_000 and {"train", "ddp"} & set(args.measures):
                for threads in (1, 2) if "train" in args.measures else ():
                    row[f"train_{threads}"] = _run(
                        "train", str(paths["parquet"]), str(args.steps), str(threads)
                    )
                    print(row[f"train_{threads}"], flush=True)
                for devices in (1, 2) if "ddp" in args.measures else ():
                    out = Path(folder) / f"ddp{devices}.json"
                    _run("ddp", str(paths["parquet"]), str(args.steps), str(devices), str(out))
                    row[f"ddp_{devices}"] = json.loads(out.read_text())
                    print(row[f"ddp_{devices}"], flush=True)
            rows_out.append(row)
    print()
    print("| rows | series | file | load s | peak above import | bytes/row |")
    print("|---:|---:|---|---:|---:|---:|")
    for row in rows_out:
        for kind in ("parquet", "csv"):
            r = row.get(f"load_{kind}")
            if r is None:
                continue
            print(
                f"| {row['rows']:,} | {r['series']:,} | {kind} ({row['file_mb'][kind]:.0f} MB) | "
                f"{r['seconds']:.1f} | {r['peak_above_import_gb']:.3f} GB | "
                f"{r['bytes_per_row']:.0f} |"
            )
    print()
    print(
        "| rows | threads | data path windows/s | pre-built windows/s | ratio | DataLoader "
        "alone / steps |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows_out:
        for threads in (1, 2):
            r = row.get(f"train_{threads}")
            if r:
                print(
                    f"| {row['rows']:,} | {threads} | {r['data_path_windows_per_s']:.0f} | "
                    f"{r['prebuilt_windows_per_s']:.0f} | {r['ratio']:.2f} | "
                    f"{r['loader_share']:.3f} |"
                )
    print()
    print("| rows | processes | windows/s (all processes) |")
    print("|---:|---:|---:|")
    for row in rows_out:
        for d in (1, 2):
            r = row.get(f"ddp_{d}")
            if r:
                print(f"| {row['rows']:,} | {d} | {r['windows_per_s']:.0f} |")
    _print_cache(rows_out)


def _print_cache(rows_out: list[dict]) -> None:
    print()
    print("| rows | build s (Parquet -> cache) | open s | peak above import, open | cache MB |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows_out:
        if "cache_open" in row:
            b, o = row["cache_build"], row["cache_open"]
            print(
                f"| {row['rows']:,} | {b['seconds']:.1f} | {o['seconds']:.2f} | "
                f"{o['peak_above_import_gb']:.3f} GB | {row['cache_mb']:.0f} |"
            )
    print()
    print("| rows | processes | rank | train series | peak above import | test MSE | test MAE |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows_out:
        for d in (1, 2):
            r = row.get(f"sharded_{d}")
            for rank in r["ranks"] if r else ():
                m = r["metrics"]
                print(
                    f"| {row['rows']:,} | {d} | {rank['rank']} | {rank['train_series']} of "
                    f"{rank['series']} | {rank['peak_above_import_gb']:.3f} GB | "
                    f"{m['test_mse']:.4f} | {m['test_mae']:.4f} |"
                )


if __name__ == "__main__":
    main()
