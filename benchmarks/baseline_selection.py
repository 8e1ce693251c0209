"""Which windows should ``model.baseline: auto`` choose on when the validation windows are few:
the validation windows alone, or every training and validation window (rolling origin)?

Measured on held-out series — neither airline nor Uschange's Consumption, the two forecasting
rows of the accuracy table — : Uschange's other four columns (quarterly, 16 -> 8, season 4) and
the seven columns of ETTh2 averaged per day, first 560 days (28 -> 7, season 7, stride 3). For
each series every candidate (none = the window mean under RevIN, naive, seasonal naive, AutoETS,
AutoARIMA, their mean; the classical ones refitted on each window's whole past) is scored on the
train, validation and test windows; each rule picks on its windows and the table gives the test
MSE (scaled) of its pick. No network is trained: the rule chooses what the network corrects.

    PYTHONPATH=src python benchmarks/baseline_selection.py            # about 1 CPU hour
    PYTHONPATH=src python benchmarks/baseline_selection.py uschange_Income

Writes ``benchmarks/results/baseline_selection.json``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPRNN_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "results" / "baseline_selection.json"


def series() -> dict:
    import pandas as pd

    out = {}
    us = pd.read_csv(DATA / "forecasting" / "Uschange.csv")
    for c in ["Income", "Production", "Savings", "Unemployment"]:
        out[f"uschange_{c}"] = (us[c].to_numpy(), dict(input_window=16, horizon=8, seasonality=4))
    ett = pd.read_csv(DATA / "ett" / "ETTh2.csv", parse_dates=["date"]).set_index("date")
    daily = ett.resample("D").mean()
    for c in daily.columns:
        cut = dict(input_window=28, horizon=7, seasonality=7, stride=3)
        out[f"etth2_daily_{c}"] = (daily[c].to_numpy()[:560], cut)
    return out


def scores(name: str, values, cut: dict, folder: Path) -> dict:
    import pandas as pd

    from deeprnn.tasks import ForecastData
    from deeprnn.tasks.forecast import classical
    from deeprnn.tasks.forecast.windows import baseline_scores
    from deeprnn.training import run_config_from_dict

    path = folder / f"{name}.csv"
    pd.DataFrame({"value": values}).to_csv(path, index=False)
    data = {"source": "csv", "path": str(path), "targets": ["value"], "val_fraction": 0.15,
            "test_fraction": 0.15, **cut}  # fmt: skip
    cfg = run_config_from_dict({"task": "forecast", "data": data}).data
    dm = ForecastData(cfg, batch_size=32, seed=0)
    dm.prepare()
    out = {}
    for split in ("train", "val", "test"):
        s = baseline_scores(dm.splits[split], cut["input_window"], 1, cut["seasonality"])
        s.update(classical.split_scores(dm, split))
        s.pop("zero")  # 'none' without RevIN; RevIN is the default
        out[split] = {"windows": len(dm.splits[split]), **s}
    return out


def picks(res: dict) -> dict:
    cands = [c for c in res["val"] if c != "windows"]
    a, b = res["train"]["windows"], res["val"]["windows"]
    pooled = {c: (a * res["train"][c] + b * res["val"][c]) / (a + b) for c in cands}
    val_only = min(cands, key=lambda c: res["val"][c])
    both = min(cands, key=pooled.get)
    return {"val_only": val_only, "val_only_test": res["test"][val_only], "train_val": both,
            "train_val_test": res["test"][both],
            "best_on_test": min(cands, key=lambda c: res["test"][c])}  # fmt: skip


def main(argv: list[str]) -> None:
    os.environ.setdefault("DEEPRNN_CLASSICAL_MAX_WINDOWS", "1000")
    every = series()
    names = argv or list(every)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            start = time.process_time()
            res = scores(name, *every[name], Path(folder))
            res["picks"] = picks(res)
            res["cpu_seconds"] = round(time.process_time() - start, 1)
            results[name] = res
            print(name, res["picks"], flush=True)
    rows = [r for k, r in results.items() if not k.startswith("_")]
    ratios = [r["picks"]["train_val_test"] / r["picks"]["val_only_test"] for r in rows]
    results["_summary"] = {
        "series": len(ratios),
        "train_val_better": sum(r < 1 - 1e-9 for r in ratios),
        "equal": sum(abs(r - 1) <= 1e-9 for r in ratios),
        "train_val_worse": sum(r > 1 + 1e-9 for r in ratios),
        "geometric_mean_ratio": math.exp(sum(map(math.log, ratios)) / len(ratios)),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(results["_summary"])


if __name__ == "__main__":
    main(sys.argv[1:])
