"""Global models over a panel (issue 29): the same forecaster trained on the synthetic hourly panel
of ``benchmarks/panel_scale.py`` (500 series of 2,000 steps by default, levels 5 to 50) as it is,
with per-series mean scaling (``data.series_scaler: mean``), with a series-id embedding
(``model.series_embedding: 8``) and with both, and without RevIN (``model.revin: false``, the
per-window normalisation on by default) without and with the series scaling; test accuracy on
the original scale, peak RSS and CPU time of each run. Every model corrects the seasonal-naive
forecast (``model.baseline: snaive``, so no variant falls back to a baseline alone).

    python benchmarks/panel_global.py                       # 1M rows (500 series)
    python benchmarks/panel_global.py --rows 100000 --epochs 2
    python benchmarks/panel_global.py --spread --rows 200000  # levels 1 to 10,000

``--spread`` writes another panel instead (:func:`write_spread_panel`): levels log-uniform from
1 to 10,000 and noise proportional to the level (10%), the retail-like case where one series'
errors would otherwise outweigh another's by orders of magnitude; MASE (scale-free, the mean
over windows) is then the metric that weighs every series alike.

Every run is ``deeprnn``'s own training (``fit_run``) in a fresh subprocess (its peak RSS is its
own), on the Parquet file, input 96, horizon 24, windows every 24 steps (``data.stride``, so the
val / test splits are ~16 / 8 windows per series), ``data.windows_per_epoch`` windows per epoch,
LSTM 2 x 32, seed ``--seed`` (0), one torch thread. Times depend on the machine and its load. The markdown
table is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "as today": ({}, {}),
    "series_scaler: mean": ({"series_scaler": "mean"}, {}),
    "series_embedding: 8": ({}, {"series_embedding": 8}),
    "both": ({"series_scaler": "mean"}, {"series_embedding": 8}),
    "revin: false": ({}, {"revin": False}),
    "revin: false, series_scaler: mean": ({"series_scaler": "mean"}, {"revin": False}),
}
METRICS = (
    "test_mae",
    "test_rmse",
    "test_mase",
    "test_mse_scaled",
    "test_snaive_mae",
    "test_snaive_mase",
)


def write_spread_panel(rows: int, folder: Path) -> Path:
    """A Parquet panel of ``rows // 2000`` hourly series of 2,000 steps (columns as in
    ``panel_scale.py``): level 10 ** U(0, 4), a daily season, noise of 10% of the level."""
    import numpy as np
    import pandas as pd

    steps, n = 2000, max(1, rows // 2000)
    rng = np.random.default_rng(0)
    t = np.arange(steps)
    level = 10 ** rng.uniform(0, 4, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    target = level * (1 + 0.3 * np.sin(2 * np.pi * t / 24 + phase))
    target = target + 0.1 * level * rng.normal(0, 1, (n, steps))
    temp = np.cos(2 * np.pi * t / 168) + rng.normal(0, 0.1, (n, steps))
    frame = pd.DataFrame(
        {
            "series": np.repeat([f"s{i:05d}" for i in range(n)], steps),
            "time": np.tile(pd.date_range("2020-01-01", periods=steps, freq="h"), n),
            "target": target.ravel().astype("float32"),
            "temp": temp.ravel().astype("float32"),
        }
    )
    path = folder / "spread.parquet"
    frame.to_parquet(path, index=False)
    return path


def run_config(
    path: str, out: str, data: dict, model: dict, epochs: int, windows: int, seed: int
) -> dict:
    return {
        "task": "forecast",
        "seed": seed,
        "out_dir": out,
        "export": False,
        "data": {
            "source": "csv",
            "path": path,
            "targets": ["target"],
            "covariates": ["temp"],
            "series_column": "series",
            "time_column": "time",
            "input_window": 96,
            "horizon": 24,
            "seasonality": 24,
            "stride": 24,
            "windows_per_epoch": windows,
            **data,
        },
        "model": {"rnn": {"hidden_size": 32, "num_layers": 2}, "baseline": "snaive", **model},
        "trainer": {
            "max_epochs": epochs,
            "batch_size": 32,
            "num_threads": 1,
            "progress_bar": False,
            "tensorboard": False,
            "early_stopping_patience": None,
        },
    }


def child(config: str) -> dict:
    from deeprnn.training import fit_run, run_config_from_dict

    t0 = time.perf_counter()
    result = fit_run(run_config_from_dict(json.loads(config)))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {m: result.metrics.get(m) for m in METRICS}
    out["steps"] = result.metrics["training"]["optimizer_steps"]
    out["wall_s"] = time.perf_counter() - t0
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["peak_rss_gb"] = usage.ru_maxrss / 1e6  # Linux: KiB
    test = result.metrics["data"]["test"]
    out["test_source"] = f"{test['source']} ({test['examples']} windows)"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--windows-per-epoch", type=int, default=6400)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0, help="the runs' seed (not the panel's)")
    parser.add_argument("--spread", action="store_true", help="levels 1 to 10,000 (above)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child)))
        return
    sys.path.insert(0, str(HERE))
    from panel_scale import write_panel

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.spread:
            path = str(write_spread_panel(args.rows, Path(tmp)))
        else:
            path = str(write_panel(args.rows, Path(tmp))["parquet"])
        for name in args.variants:
            data, model = VARIANTS[name]
            cfg = run_config(
                path,
                f"{tmp}/{len(rows)}",
                data,
                model,
                args.epochs,
                args.windows_per_epoch,
                args.seed,
            )
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(cfg)],
                capture_output=True,
                text=True,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                raise SystemExit(f"{name}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
            rows.append((name, json.loads(lines[-1][7:])))
            print(name, rows[-1][1], file=sys.stderr, flush=True)
    print(
        f"\n{args.rows:,} rows, {args.epochs} epochs of {args.windows_per_epoch} windows, "
        f"seed {args.seed}{', levels 1 to 10,000 (--spread)' if args.spread else ''}"
    )
    print(f"test split: {rows[0][1]['test_source']}\n")
    print("| variant | test MAE | test RMSE | test MASE | test mse_scaled | snaive MAE | "
          "snaive MASE | steps | peak RSS | CPU s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['test_mae']:.4f} | {r['test_rmse']:.4f} | {r['test_mase']:.4f} | "
            f"{r['test_mse_scaled']:.5f} | {r['test_snaive_mae']:.4f} | "
            f"{r['test_snaive_mase']:.4f} | "
            f"{r['steps']} | {r['peak_rss_gb']:.2f} GB | {r['cpu_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
