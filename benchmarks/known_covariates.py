"""Do covariates known over the horizon help, on data nobody tuned for?

Each dataset runs with the library's default recipe (only data keys set, as in
``default_recipe.py``) in two variants that differ only in what the model may read over the
horizon:

* ``uschange`` (quarterly, Consumption with Income / Production / Savings / Unemployment):
  ``past_only`` (the covariates' past only) vs ``known`` (all four known over the horizon: the
  scenario forecasting of Hyndman & Athanasopoulos, FPP3 ch. 7.6, where the future covariates
  are given);
* ``etth2_ot`` (hourly OT, 96 -> 24): no calendar features vs ``time_features: [hour,
  dayofweek]`` (computed for the forecast steps, so known);
* ``airline`` (monthly, 24 -> 12): no calendar features vs ``time_features: [month]``.

Variants are compared on the best VALIDATION loss (min ``val_loss``), test figures reported
beside, never selected on. Seeds 0 and 1, 1 torch thread, ``trainer.max_time`` 120 s per run.

    PYTHONPATH=src python benchmarks/known_covariates.py [--only uschange] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_recipe import COMMON, datasets, merge, read_log, write_json

OUT = Path(__file__).resolve().parent / "results" / "known_covariates.json"
VARIANTS = {
    "uschange": {
        "past_only": {"data": {"known_covariates": []}},
        "known": {
            "data": {"known_covariates": ["Income", "Production", "Savings", "Unemployment"]}
        },
    },
    "etth2_ot": {
        "no_calendar": {},
        "calendar": {"data": {"time_features": ["hour", "dayofweek"]}},
    },
    "airline": {"no_calendar": {}, "calendar": {"data": {"time_features": ["month"]}}},
}


def run(name: str, base: dict, variant: str, seed: int, runs: Path) -> dict:
    from deeprnn.training import fit, run_config_from_dict

    out_dir = runs / f"known-{name}-{variant}-s{seed}"
    cfg = merge(merge(base, COMMON), VARIANTS[name][variant])
    cfg.update(seed=seed, out_dir=str(out_dir))
    t0 = time.perf_counter()
    m = fit(run_config_from_dict(cfg)).metrics
    val, epochs = read_log(out_dir)
    keep = ("test_mse_scaled", "test_naive_mse_scaled", "test_snaive_mse_scaled", "test_mae")
    return {"val_loss": val, "epochs": epochs, "wall_s": round(time.perf_counter() - t0, 1),
            **{k: m[k] for k in keep if k in m}}  # fmt: skip


def markdown(results: dict) -> str:
    lines = [
        "| dataset | variant | val_loss (seeds 0, 1 mean) | test mse_scaled | naive | snaive |",
        "|---|---|---|---|---|---|",
    ]
    for name, variants in results.items():
        means = {v: {k: float(np.mean([c[k] for c in cs])) for k in cs[0]}
                 for v, cs in variants.items()}  # fmt: skip
        best = min(means, key=lambda v: means[v]["val_loss"])
        for v, m in means.items():
            mark = " **(best val)**" if v == best else ""
            lines.append(
                f"| {name} | {v}{mark} | {m['val_loss']:.4f} | {m['test_mse_scaled']:.4f} "
                f"| {m['test_naive_mse_scaled']:.4f} | {m.get('test_snaive_mse_scaled', 0):.4f} |"
            )
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--runs", type=Path, default=Path("/tmp/dr_known"))
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    bases = datasets(args.runs)  # once: it writes the synthetic series' file
    for name in args.only:
        results[name] = {
            v: [run(name, bases[name], v, s, args.runs) for s in args.seeds] for v in VARIANTS[name]
        }
        write_json(args.out, results)
        print(markdown({name: results[name]}), flush=True)
    print(markdown(results))
    from _readme import write_block

    write_block("known_covariates", markdown(results) + "\n")


if __name__ == "__main__":
    main()
