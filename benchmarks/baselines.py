"""The baselines of a worked example, without training a network: the data module of
``examples/NAME.yaml`` (with ``--key value`` overrides, as ``deeprnn train`` reads them) and its
task's baselines (:mod:`deeprnn.tasks.baselines`) on exactly the val and test splits a run of
that config is scored on.

    python benchmarks/baselines.py forecast_airline
    python benchmarks/baselines.py ucr_osuleaf --baselines '[majority, minirocket]'
    python benchmarks/baselines.py imdb_folder_kfold --data.fold 0

Prints one JSON object (the metrics, each split's provenance, the seconds taken) and, with
``--out FILE``, appends it to that JSON-lines file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from deeprnn._schema import apply_overrides, load_yaml
    from deeprnn.cli._common import parse_overrides
    from deeprnn.tasks.baselines import compute
    from deeprnn.training.runner.config import run_config_from_dict
    from deeprnn.training.runner.run import build_datamodule, data_provenance

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("example", help="examples/NAME.yaml, or a YAML path")
    p.add_argument("--out", help="append the JSON object to this JSON-lines file")
    args, extra = p.parse_known_args(argv)
    path = Path(args.example)
    if not path.suffix:
        path = ROOT / "examples" / f"{args.example}.yaml"
    run = run_config_from_dict(apply_overrides(load_yaml(path), parse_overrides(extra)))
    start = time.perf_counter()
    dm = build_datamodule(run).prepare()
    loaded = time.perf_counter()
    metrics = compute(run.task, dm, run.baselines)
    done = time.perf_counter()
    record = {
        "example": args.example,
        "overrides": extra,
        "baselines": run.baselines,
        "metrics": metrics,
        "data": data_provenance(dm),
        "seconds": {"data": round(loaded - start, 1), "baselines": round(done - loaded, 1)},
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
