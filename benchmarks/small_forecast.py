"""Forecasting on small data with the data keys only (issue 27): airline (144 months, 24 -> 12)
and Uschange (187 quarters, Consumption with four covariates, 16 -> 8), trained with nothing
but their ``data`` section, i.e. the library's defaults (``model.baseline: auto`` choosing on
validation among none / naive / seasonal naive and, the windows being few, AutoETS / AutoARIMA /
their mean refitted on each window's past; ``trainer.min_steps``), beside seasonal naive,
AutoETS and AutoARIMA on the same test windows (the run's own baseline metrics).

The classical fits do not depend on the seed: they are made once per dataset (the first seed's
run) and reused by the other seeds' runs (``--refit`` fits again every run). Every run: 1 torch
thread.

    PYTHONPATH=src python benchmarks/small_forecast.py                    # both, seeds 0 1 2
    PYTHONPATH=src python benchmarks/small_forecast.py --only airline --seeds 0
    PYTHONPATH=src python benchmarks/small_forecast.py --ensemble 5   # + model.ensemble: 5

Writes ``benchmarks/results/small_forecast.json`` (cells already there are kept unless rerun).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPRNN_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "results" / "small_forecast.json"


def datasets() -> dict[str, dict]:
    fc = DATA / "forecasting"
    return {
        "airline": {  # examples/forecast_airline.yaml's data section
            "source": "csv", "path": str(fc / "airline-passengers.csv"),
            "targets": ["Passengers"], "input_window": 24, "horizon": 12, "seasonality": 12,
            "scaler": "standard", "val_fraction": 0.15, "test_fraction": 0.15,
        },
        "uschange": {  # benchmarks/default_recipe.py's uschange data section
            "source": "csv", "path": str(fc / "Uschange.csv"), "targets": ["Consumption"],
            "covariates": ["Income", "Production", "Savings", "Unemployment"],
            "input_window": 16, "horizon": 8, "seasonality": 4,
        },
    }  # fmt: skip


KEEP = ("mse", "mase", "mse_scaled")


def one(name: str, data: dict, seed: int, runs: Path, cache: dict, ensemble: int = 1) -> dict:
    from deeprnn.tasks.forecast import classical
    from deeprnn.training import fit, run_config_from_dict

    fitted = classical.window_forecasts

    def reuse(dm):  # the same fits for every seed of a dataset
        if name in cache:
            dm.classical_forecasts = cache[name]
        out = fitted(dm)
        cache[name] = out
        return out

    classical.window_forecasts = reuse
    run = {"task": "forecast", "seed": seed, "out_dir": str(runs / f"{name}_s{seed}"),
           "data": data, "export": False,
           "trainer": {"num_threads": 1, "progress_bar": False, "tensorboard": False}}  # fmt: skip
    if ensemble > 1:  # the data keys plus model.ensemble
        run["model"] = {"ensemble": ensemble}
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result = fit(run_config_from_dict(run))
    finally:
        classical.window_forecasts = fitted
    m = result.metrics
    cell = {
        "seed": seed,
        "baseline_chosen": m.get("baseline_chosen"),
        "baseline_only": m.get("baseline_only"),
        "baseline_val_mse_scaled": m.get("baseline_val_mse_scaled"),
        "training": m["training"],
        "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "test_windows": m["data"]["test"].get("examples"),
    }
    for who in ("", "snaive_", "ets_", "arima_"):
        for metric in KEEP:
            key = f"test_{who}{metric}"
            if key in m:
                cell[key] = m[key]
    return cell


def table(results: dict) -> str:
    """The markdown rows of docs/results.md: per dataset and seed, the choice, whether the
    network's correction was kept, and the test MSE / MASE beside the baselines'."""
    rows = [
        "| data | seed | `auto` chose | network kept | test MSE | seasonal naive | AutoETS "
        "| AutoARIMA | test MASE (AutoARIMA's) | steps | CPU s |",
        "|---|---|---|:---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, seeds in results.items():
        for seed, c in sorted(seeds.items()):
            rows.append(
                f"| {name} | {seed} | {c['baseline_chosen']} | "
                f"{'no' if c['baseline_only'] else 'yes'} | {c['test_mse']:.4g} | "
                f"{c['test_snaive_mse']:.4g} | {c['test_ets_mse']:.4g} | {c['test_arima_mse']:.4g} | "
                f"{c['test_mase']:.3f} ({c['test_arima_mase']:.3f}) | "
                f"{c['training']['optimizer_steps']} | {c['cpu_seconds']:.0f} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--runs", default="/tmp/dr_small_forecast")
    p.add_argument("--refit", action="store_true", help="refit the classical models every run")
    p.add_argument("--ensemble", type=int, default=1, help="model.ensemble (k networks averaged)")
    p.add_argument("--out", default=None, help="default: results/small_forecast[_ensembleK].json")
    p.add_argument("--table", action="store_true", help="print the results as markdown rows")
    args = p.parse_args(argv)
    out = Path(args.out or OUT)
    if args.out is None and args.ensemble > 1:
        out = OUT.with_name(f"small_forecast_ensemble{args.ensemble}.json")
    results = json.loads(out.read_text()) if out.is_file() else {}
    if args.table:
        print(table(results))
        return 0
    cache: dict = {}
    for name, data in datasets().items():
        if args.only and name not in args.only:
            continue
        for seed in args.seeds:
            if args.refit:
                cache.clear()
            cell = one(name, data, seed, Path(args.runs), cache, args.ensemble)
            results.setdefault(name, {})[str(seed)] = cell
            print(name, seed, json.dumps({k: v for k, v in cell.items() if k.startswith("test")}))
            out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
