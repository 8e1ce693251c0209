"""Probabilistic forecasts against the point model and the seasonal-naive quantiles.

    python benchmarks/probabilistic.py                  # ETTh2 OT and airline (~30 min, 2 cores)
    python benchmarks/probabilistic.py airline --readme # one dataset; rewrite the docs table
    python benchmarks/probabilistic.py --collect --readme  # re-read runs/probabilistic/*
    python benchmarks/probabilistic.py --table --readme    # the stored results only

For each dataset the point config (``examples/NAME.yaml``) is trained as it is, then once per
likelihood (``gaussian``, ``student_t``, ``quantile`` at the levels 0.05 .. 0.95) with nothing
else changed. The likelihood kept is the sharpest calibrated one on validation (:func:`choose`: the lowest
validation CRPS among those whose validation 80% interval covers 70-90%, at the epoch of the
best validation loss, the checkpoint that is tested): test figures never choose. The targets
(issue 19): the probabilistic median at least as good as the point forecast (test MSE and MAE on
the scaled values), an 80% interval covering 75-85% of the test values, and a CRPS below the
seasonal-naive empirical-quantile baseline's on the same windows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _readme import write_block

from deeprnn._persist import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "probabilistic"
RESULTS = ROOT / "benchmarks" / "results" / "probabilistic.json"
DATASETS = {"etth2_ot": "examples/etth2_ot.yaml", "airline": "examples/forecast_airline.yaml"}
LEVELS = "[" + ", ".join(f"{i / 20:.2f}" for i in range(1, 20)) + "]"
CANDIDATES = {
    "point": [],
    "gaussian": ["--model.likelihood", "gaussian"],
    "student_t": ["--model.likelihood", "student_t"],
    "quantile": ["--model.likelihood", "quantile", "--model.quantiles", LEVELS],
}


def train(dataset: str, name: str, threads: int) -> dict:
    out = RUNS / f"{dataset}_{name}"
    exe = Path(sys.executable).with_name("deeprnn")
    cmd = [str(exe), "train", "-c", DATASETS[dataset], "--out_dir", str(out)]
    cmd += ["--trainer.num_threads", str(threads), *CANDIDATES[name]]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{dataset}/{name} failed:\n{proc.stderr[-3000:]}")
    return {"seconds": time.perf_counter() - start, **collect_run(out)}


def collect_run(out: Path) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "logs" / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_loss")]
    best = min(rows, key=lambda r: float(r["val_loss"]))
    val = {k: float(v) for k, v in best.items() if k.startswith("val_") and v}
    return {"test": {k: v for k, v in metrics.items() if isinstance(v, float)}, "val": val,
            "epochs": len(rows)}  # fmt: skip


CALIBRATED = (0.70, 0.90)  # validation coverage of the 80% interval that counts as calibrated


def choose(probs: dict) -> str:
    """Sharpness subject to calibration (Gneiting, Balabdaoui & Raftery 2007): the lowest
    validation CRPS among the likelihoods whose validation 80% interval covers 70-90% of the
    values (binomial noise on a small validation split), else the lowest validation CRPS."""
    lo, hi = CALIBRATED
    ok = [k for k, v in probs.items() if lo <= v["val"].get("val_coverage_80", -1) <= hi]
    return min(ok or probs, key=lambda k: probs[k]["val"]["val_crps_scaled"])


def verdict(runs: dict) -> dict:
    probs = {k: v for k, v in runs.items() if k != "point" and "val_crps_scaled" in v["val"]}
    chosen = choose(probs)
    p, q = runs["point"]["test"], probs[chosen]["test"]
    return {
        "chosen": chosen,
        "median_vs_point_mse": q["test_mse_scaled"] / p["test_mse_scaled"],
        "median_vs_point_mae": q["test_mae_scaled"] / p["test_mae_scaled"],
        "coverage_80": q["test_coverage_80"],
        "crps_scaled": q["test_crps_scaled"],
        "snaive_crps_scaled": q["test_snaive_crps_scaled"],
        "snaive_coverage_80": q["test_snaive_coverage_80"],
        "point_mse_scaled": p["test_mse_scaled"],
        "median_mse_scaled": q["test_mse_scaled"],
        "ok_median": q["test_mse_scaled"] <= p["test_mse_scaled"]
        and q["test_mae_scaled"] <= p["test_mae_scaled"],
        "ok_coverage": 0.75 <= q["test_coverage_80"] <= 0.85,
        "ok_crps": q["test_crps_scaled"] < q["test_snaive_crps_scaled"],
    }


def table(results: dict) -> str:
    yes = {True: "yes", False: "**no**"}
    lines = [
        "| dataset | kept (val CRPS; val coverage) | test MSE point / median | coverage of the 80% interval "
        "| CRPS / seasonal-naive CRPS (scaled) | median ≤ point | coverage 75-85% | CRPS < naive |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for name, r in results.items():
        v = r["verdict"]
        val = ", ".join(f"{k} {x['val']['val_crps_scaled']:.3f}; {x['val']['val_coverage_80']:.2f}"
                        for k, x in r["runs"].items() if "val_crps_scaled" in x["val"])  # fmt: skip
        lines.append(
            f"| {name} | **{v['chosen']}** ({val}) | {v['point_mse_scaled']:.4f} / "
            f"{v['median_mse_scaled']:.4f} | {v['coverage_80']:.3f} (naive "
            f"{v['snaive_coverage_80']:.3f}) | {v['crps_scaled']:.4f} / "
            f"{v['snaive_crps_scaled']:.4f} | {yes[v['ok_median']]} | {yes[v['ok_coverage']]} "
            f"| {yes[v['ok_crps']]} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="train these only")
    ap.add_argument("--collect", action="store_true", help="re-read the run folders")
    ap.add_argument("--readme", action="store_true", help="rewrite the docs/results.md table")
    ap.add_argument("--table", action="store_true", help="print the stored results, run nothing")
    args = ap.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if args.table:  # the stored results only (the verdicts recomputed from the stored runs)
        results = {ds: {**r, "verdict": verdict(r["runs"])} for ds, r in results.items()}
        atomic_write_text(RESULTS, json.dumps(results, indent=2) + "\n")
        print(table(results))
        if args.readme:
            write_block("probabilistic", table(results))
        return
    for ds in args.datasets:
        if ds not in DATASETS:
            raise SystemExit(f"unknown dataset {ds!r}; known: {sorted(DATASETS)}")
        runs = results.get(ds, {}).get("runs", {})
        for name in args.only or CANDIDATES:
            if args.collect:
                runs[name] = {**runs.get(name, {}), **collect_run(RUNS / f"{ds}_{name}")}
            else:
                runs[name] = train(ds, name, args.threads)
            print(f"{ds}/{name}: {json.dumps(runs[name]['val'])[:200]}", flush=True)
        results[ds] = {"runs": runs, "verdict": verdict(runs)}
        atomic_write_text(RESULTS, json.dumps(results, indent=2) + "\n")
    print(table(results))
    if args.readme:
        write_block("probabilistic", table(results))


if __name__ == "__main__":
    main()
