"""The baselines of a worked example, without training a network: the data module of
``examples/NAME.yaml`` (with ``--key value`` overrides, as ``deeprnn train`` reads them) and its
task's baselines (:mod:`deeprnn.tasks.baselines`) on exactly the val and test splits a run of
that config is scored on.

    python benchmarks/baselines.py forecast_airline
    python benchmarks/baselines.py ucr_osuleaf --baselines '[majority, minirocket]'
    python benchmarks/baselines.py imdb_folder_kfold --data.fold 0

Prints one JSON object (the metrics, each split's provenance, the seconds taken); ``--record``
also keeps it in ``benchmarks/results/baselines.json`` under the example's name (``NAME/fold_I``
with ``--data.fold I``), where ``benchmarks/accuracy.py`` reads the table's baseline column.
A forecasting example also gets the naive and seasonal-naive metrics on the same windows (a
run has them among its own metrics), so that its ratios can be shown beside the model's.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "baselines.json"


def naive_metrics(dm) -> dict:
    """``{stage}_{naive|snaive}_{metric}`` of a forecasting data module's val / test windows,
    scored as a run scores them (:class:`~deeprnn.tasks.forecast.metrics.ForecastScorer`)."""
    import torch

    from deeprnn.tasks._baseline_util import stages
    from deeprnn.tasks.forecast.metrics import ForecastScorer

    art = dm.artifacts
    k, w, h = len(art["targets"]), int(art["input_window"]), int(art["horizon"])
    scorer = ForecastScorer(dm.scaler, k, h, int(art.get("seasonality", 1)))
    out, groups = {}, dict(scorer.metrics.items())
    for stage, split in stages(dm).items():
        x = torch.stack([x for x, _ in dm.splits[split]])
        y = torch.stack([t for _, t in dm.splits[split]])
        observed = torch.isfinite(y)
        y = torch.where(observed, y, torch.zeros_like(y))
        scorer.score(stage, x[:, :w], y, y, None if bool(observed.all()) else observed)
        for name in ("naive", "snaive"):
            for metric, value in groups.get(f"{stage}_{name}", {}).items():
                out[f"{stage}_{name}_{metric}"] = float(value.compute())
    return out


def main(argv: list[str] | None = None) -> int:
    from deeprnn._schema import apply_overrides, load_yaml
    from deeprnn.cli._common import parse_overrides
    from deeprnn.tasks.baselines import compute
    from deeprnn.training.runner.config import run_config_from_dict
    from deeprnn.training.runner.run import build_datamodule, data_provenance

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("example", help="examples/NAME.yaml, or a YAML path")
    p.add_argument("--record", action="store_true", help=f"keep it in {RESULTS.name}")
    args, extra = p.parse_known_args(argv)
    path = Path(args.example)
    if not path.suffix:
        path = ROOT / "examples" / f"{args.example}.yaml"
    run = run_config_from_dict(apply_overrides(load_yaml(path), parse_overrides(extra)))
    start = time.perf_counter()
    dm = build_datamodule(run).prepare()
    loaded = time.perf_counter()
    metrics = compute(run.task, dm, run.baselines)
    if run.task == "forecast":
        metrics.update(naive_metrics(dm))
    done = time.perf_counter()
    record = {
        "command": shlex.join(["python", "benchmarks/baselines.py", args.example, *extra]),
        "overrides": extra,
        "baselines": run.baselines,
        "metrics": metrics,
        "data": data_provenance(dm),
        "seconds": {"data": round(loaded - start, 1), "baselines": round(done - loaded, 1)},
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.record:
        fold = getattr(run.data, "fold", None)
        key = args.example if fold is None else f"{args.example}/fold_{fold}"
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        results[key] = record
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
