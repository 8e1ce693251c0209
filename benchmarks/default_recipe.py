"""Which library-wide default training recipe should deeprnn ship?

Every dataset is given with ONLY its data keys (plus ``trainer.batch_size`` where the
benchmark's split needs it); each candidate recipe layers trainer / optim / model keys on top:

* ``A`` before: the defaults before this measurement (max_epochs 10, no early stopping,
  schedule or clipping, no RevIN);
* ``B`` revin (forecast only): ``model.revin: true``;
* ``C`` recipe: max_epochs 30, early_stopping_patience 5, plateau scheduler (factor 0.5,
  patience 2), gradient_clip_norm 1.0;
* ``D`` recipe+revin (forecast only): C plus ``model.revin: true``; D won, and is the
  library's default since (every recipe spells out its keys, so reruns mean the same);
* ``E`` D+snaive (forecast only): D with ``model.baseline: snaive`` (the network corrects
  the seasonal-naive forecast; every forecast dataset here has ``seasonality`` > 1). E won
  on the mean val / best ratio (1.29 vs D's 3.2: D is 9.9x E's validation loss on airline,
  where it lost to the seasonal-naive forecast by 2x; E is 1.28x and 1.86x D's on uschange and
  trend), so ``model.baseline: auto`` (snaive where the season fits the window) is the default
  since.

Nothing here was tuned on these datasets. Recipes are compared on the best VALIDATION loss of
each run (min ``val_loss`` of ``logs/csv/metrics.csv``); the test figures of the same run
(forecast: ``test_mse_scaled`` beside the naive / seasonal-naive ones; classify: ``test_acc``
beside the majority-class accuracy of the test labels) are reported, never selected on. The
summary is, per recipe, the mean over datasets of ``val_loss / best val_loss on that dataset``
(1.0 = best everywhere). Every run: seed as given, 1 torch thread, ``trainer.max_time`` 120 s.

    PYTHONPATH=src python benchmarks/default_recipe.py                  # everything, seed 0
    PYTHONPATH=src python benchmarks/default_recipe.py --only airline trend --recipes A C
    PYTHONPATH=src python benchmarks/default_recipe.py --seeds 0 1 --out /tmp/recipe.json

Cells already in ``--out`` are kept unless rerun (so the grid can be run in pieces); runs go
to ``--runs`` (default ``/tmp/dr_runs``). A run that errors records its message in its cell.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPRNN_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "results" / "default_recipe.json"
COMMON = {
    "trainer": {"progress_bar": False, "tensorboard": False, "num_threads": 1, "max_time": 120},
    "export": False,
}
# every recipe spells out all its keys, so that the grid means the same whatever the defaults
# are (D became the library's default after this measurement; A was the default before)
RECIPE_A = {
    "trainer": {"max_epochs": 10, "early_stopping_patience": None, "gradient_clip_norm": None},
    "optim": {"scheduler": {"name": "none"}},
}
RECIPE_C = {
    "trainer": {"max_epochs": 30, "early_stopping_patience": 5, "gradient_clip_norm": 1.0},
    "optim": {"scheduler": {"name": "plateau", "factor": 0.5, "patience": 2}},
}
RECIPES = {  # name -> (label, overlay, forecast only); forecast runs also set model.revin
    "A": ("before", RECIPE_A, False),
    "B": ("revin", {**RECIPE_A, "model": {"revin": True}}, True),
    "C": ("recipe", RECIPE_C, False),
    "D": ("recipe+revin", {**RECIPE_C, "model": {"revin": True}}, True),
    "E": ("D+snaive", {**RECIPE_C, "model": {"revin": True, "baseline": "snaive"}}, True),
}


def trend_csv(path: Path) -> Path:
    """Hourly, 480 rows: a = 5 + 2 sin(2 pi i / 24) + e, b = -3 + cos(2 pi i / 24) + 0.01 i + e."""
    rng = np.random.default_rng(0)
    i = np.arange(480)
    a = 5 + 2 * np.sin(2 * np.pi * i / 24) + rng.normal(0, 0.1, i.size)
    b = -3 + np.cos(2 * np.pi * i / 24) + 0.01 * i + rng.normal(0, 0.1, i.size)
    times = np.datetime64("2020-01-01T00") + i.astype("timedelta64[h]")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{t},{x:.6f},{y:.6f}" for t, x, y in zip(times.astype(str), a, b)]
    path.write_text("time,a,b\n" + "\n".join(rows) + "\n")
    return path


def datasets(runs: Path) -> dict[str, dict]:
    """name -> the data-only run config (task, data, and the batch size of ETTh2's setting)."""
    fc = DATA / "forecasting"

    def forecast(**data) -> dict:
        return {"task": "forecast", "data": {"source": "csv", **data}}

    def uea(name: str, **args) -> dict:
        path = str(DATA / "uea" / name)
        reader = "deeprnn.tasks.readers:uea"
        args = {"path": path, "val_fraction": 0.15, **args}
        return {
            "task": "classify",
            "data": {"source": "reader", "reader": reader, "reader_args": args},
        }

    etth2 = forecast(
        path=str(DATA / "ett" / "ETTh2.csv"), targets=["OT"], time_column="date",
        input_window=96, horizon=24, seasonality=24,
        split={"train": 8640, "val": 2880, "test": 2880},
    )  # fmt: skip
    etth2["trainer"] = {"batch_size": 64}
    return {
        "airline": forecast(
            path=str(fc / "airline-passengers.csv"),
            targets=["Passengers"],
            time_column="Month",
            input_window=24,
            horizon=12,
            seasonality=12,
        ),
        "uschange": forecast(
            path=str(fc / "Uschange.csv"),
            targets=["Consumption"],
            covariates=["Income", "Production", "Savings", "Unemployment"],
            input_window=16,
            horizon=8,
            seasonality=4,
        ),
        "etth2_ot": etth2,
        "trend": forecast(
            path=str(trend_csv(runs / "trend.csv")),
            targets=["a", "b"],
            time_column="time",
            input_window=24,
            horizon=6,
            seasonality=24,
            split={"train": 288, "val": 96, "test": 96},
        ),
        "japanese_vowels": uea("JapaneseVowels"),  # examples/japanese_vowels.yaml's data
        "osuleaf": uea("OSULeaf", normalize=False),  # examples/ucr_osuleaf.yaml's data
    }


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def majority_acc(data: dict) -> dict:
    """Test accuracy of always predicting the most frequent train label, and the share of the
    test split's own most frequent label (the best any constant prediction could do)."""
    from deeprnn.tasks.readers import uea

    splits = uea(**data["reader_args"])
    top = Counter(y for _, y in splits["train"]).most_common(1)[0][0]
    test = Counter(y for _, y in splits["test"])
    n = len(splits["test"])
    return {"majority_acc": test[top] / n, "test_majority_share": max(test.values()) / n}


def read_log(run_dir: Path) -> tuple[float, int]:
    """(min val_loss, epochs with a validation) from the run's CSV log."""
    with open(run_dir / "logs" / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_loss")]
    return min(float(r["val_loss"]) for r in rows), len({r["epoch"] for r in rows})


def run_cell(name: str, base: dict, recipe: str, seed: int, runs: Path) -> dict:
    from deeprnn.training import fit, run_config_from_dict

    out_dir = runs / f"{name}-{recipe}-s{seed}"
    cfg = merge(merge(base, COMMON), RECIPES[recipe][1])
    if cfg["task"] == "forecast":  # what a recipe leaves out is off (the defaults moved since)
        model = cfg.get("model", {})
        cfg = merge(cfg, {"model": {"revin": model.get("revin", False),
                                    "baseline": model.get("baseline", "none")}})  # fmt: skip
    cfg.update(seed=seed, out_dir=str(out_dir))
    cell = {"dataset": name, "recipe": recipe, "seed": seed, "task": cfg["task"]}
    t0 = time.perf_counter()
    try:
        result = fit(run_config_from_dict(cfg))
        cell["val_loss"], cell["epochs"] = read_log(out_dir)
        m = result.metrics
        keys = ["test_loss", "test_mse_scaled", "test_naive_mse_scaled", "test_snaive_mse_scaled"]
        keys += ["test_mae", "test_acc"]
        cell.update({k: m[k] for k in keys if k in m})
        cell["wall_s"] = round(time.perf_counter() - t0, 1)
        if cfg["task"] == "classify":
            cell.update(majority_acc(cfg["data"]))
    except Exception as e:  # recorded in the cell; the grid goes on
        cell["error"] = f"{type(e).__name__}: {e}"
        cell["wall_s"] = round(time.perf_counter() - t0, 1)
    return cell


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def aggregate(cells: list[dict]) -> tuple[dict, dict]:
    """(dataset -> recipe -> seed-mean figures, recipe -> mean val / best-val ratio)."""
    groups: dict[str, dict[str, list[dict]]] = {}
    for c in cells:
        groups.setdefault(c["dataset"], {}).setdefault(c["recipe"], []).append(c)
    table: dict[str, dict[str, dict]] = {}
    for ds, by_recipe in groups.items():
        for r, cs in by_recipe.items():
            ok = [c for c in cs if "error" not in c]
            row = {
                "seeds": [c["seed"] for c in cs],
                "errors": [c["error"] for c in cs if "error" in c],
            }
            for k in {k for c in ok for k, v in c.items() if isinstance(v, float | int)} - {"seed"}:
                row[k] = float(np.mean([c[k] for c in ok if k in c]))
            table.setdefault(ds, {})[r] = row
        vals = {r: row["val_loss"] for r, row in table[ds].items() if "val_loss" in row}
        if vals:
            best = min(vals.values())
            for r, v in vals.items():
                table[ds][r]["ratio"] = v / best if best > 0 else math.nan
                table[ds][r]["best"] = v == best
    ratios: dict[str, list[float]] = {}
    for rows in table.values():
        for r, row in rows.items():
            if "ratio" in row:
                ratios.setdefault(r, []).append(row["ratio"])
    summary = {r: {"mean_ratio": float(np.mean(v)), "datasets": len(v)} for r, v in ratios.items()}
    shared = [rows for rows in table.values() if all("ratio" in rows.get(r, {}) for r in summary)]
    for r in summary:  # the same mean over only the datasets every recipe ran on
        summary[r]["mean_ratio_shared"] = float(np.mean([rows[r]["ratio"] for rows in shared]))
        summary[r]["shared_datasets"] = len(shared)
    return table, dict(sorted(summary.items()))


def markdown(table: dict, summary: dict) -> str:
    def f(row: dict, k: str, fmt: str = "{:.4f}") -> str:
        return fmt.format(row[k]) if k in row else "-"

    lines = [
        "| dataset | recipe | seeds | best val_loss | val / best | test | naive | snaive "
        "| epochs | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ds, rows in table.items():
        for r in sorted(rows):
            row = rows[r]
            mark = " **(best val)**" if row.get("best") else ""
            if "test_acc" in row:
                test, naive, snaive = (
                    f(row, "test_acc"),
                    f(row, "majority_acc") + " (majority)",
                    "-",
                )
            else:
                test, naive = f(row, "test_mse_scaled"), f(row, "test_naive_mse_scaled")
                snaive = f(row, "test_snaive_mse_scaled")
            if row["errors"]:
                test += " ERROR: " + "; ".join(row["errors"]).replace("|", "/").replace("\n", " ")
            seeds = ",".join(map(str, row["seeds"]))
            lines.append(
                f"| {ds} | {r} {RECIPES[r][0]}{mark} | {seeds} | {f(row, 'val_loss')} "
                f"| {f(row, 'ratio', '{:.3f}')} | {test} | {naive} | {snaive} "
                f"| {f(row, 'epochs', '{:.1f}')} | {f(row, 'wall_s', '{:.0f}')} |"
            )
    parts = [f"{r} {v['mean_ratio']:.3f} (n={v['datasets']})" for r, v in summary.items()]
    winner = min(summary, key=lambda r: summary[r]["mean_ratio"]) if summary else "-"
    lines += ["", "mean val/best over datasets: " + ", ".join(parts) + f"; best: {winner}"]
    if summary and len({v["datasets"] for v in summary.values()}) > 1:
        n = next(iter(summary.values()))["shared_datasets"]
        parts = [f"{r} {v['mean_ratio_shared']:.3f}" for r, v in summary.items()]
        winner = min(summary, key=lambda r: summary[r]["mean_ratio_shared"])
        lines.append(f"same, on the {n} datasets every recipe ran: " + ", ".join(parts))
        lines[-1] += f"; best: {winner}"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", help="dataset names (default: all)")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--runs", type=Path, default=Path("/tmp/dr_runs"))
    p.add_argument("--table", action="store_true", help="print the table of --out, run nothing")
    p.add_argument("--readme", action="store_true", help="rewrite the docs/results.md block")
    args = p.parse_args(argv)
    if args.table or (args.readme and not (args.only or args.recipes != list(RECIPES))):
        saved = json.loads(args.out.read_text())
        text = markdown(saved["table"], saved["summary"])
        print(text)
        if args.readme:
            from _readme import write_block

            write_block("default_recipe", text)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    all_ds = datasets(args.runs)
    names = args.only or list(all_ds)
    unknown = set(names) - set(all_ds)
    if unknown:
        p.error(f"unknown dataset(s) {sorted(unknown)}; known: {list(all_ds)}")
    old = json.loads(args.out.read_text()).get("cells", []) if args.out.is_file() else []
    cells = {(c["dataset"], c["recipe"], c["seed"]): c for c in old}
    t0 = time.perf_counter()
    for name in names:
        for r in args.recipes:
            if RECIPES[r][2] and all_ds[name]["task"] != "forecast":
                continue
            for seed in args.seeds:
                cell = run_cell(name, all_ds[name], r, seed, args.runs)
                cells[(name, r, seed)] = cell
                print(json.dumps(cell), flush=True)
                table, summary = aggregate(list(cells.values()))
                write_json(args.out, {"cells": list(cells.values()), "table": table,
                                      "summary": summary, "recipes": RECIPES})  # fmt: skip
    table, summary = aggregate(list(cells.values()))
    print(markdown(table, summary))
    print(f"\nthis invocation: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
