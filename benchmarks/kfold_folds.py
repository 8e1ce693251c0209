"""Run some folds of a k-fold config as separate processes (``--data.fold i``), several at a
time, then write the k-fold summary (``summary.json`` / ``summary.md``, the format of
``deeprnn train`` on a k-fold config) over the folds that finished.

    python benchmarks/kfold_folds.py examples/imdb_ulmfit_kfold.yaml --folds 0-9 --parallel 2
    python benchmarks/kfold_folds.py examples/imdb_ulmfit_kfold.yaml --summarize   # no training

On a machine with fewer free cores than folds, ``--parallel 2`` with one thread each finishes
sooner than one process after another; each fold is an ordinary run folder
(``OUT/fold_{i}``), and the summary says how many of the K folds it covers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _folds(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def summarize(config: Path, out_dir: Path) -> dict:
    from deeprnn._persist import atomic_write_text
    from deeprnn.training.runner.kfold import summarize_folds, summary_table

    raw = yaml.safe_load(config.read_text())
    k = raw["data"]["folds"]
    per_fold = []
    for i in range(k):
        metrics = out_dir / f"fold_{i}" / "metrics.json"
        if metrics.is_file():
            m = json.loads(metrics.read_text())
            per_fold.append({"fold": i, "run_dir": f"fold_{i}", "metrics": m})
    if not per_fold:
        raise SystemExit(f"no finished fold under {out_dir}")
    summary = summarize_folds(per_fold, k)
    summary["seed"] = raw.get("seed", 0)
    summary["config"] = raw
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out_dir / "summary.md", summary_table(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--folds", default="0-9", help="e.g. 0-9 or 0,3,5")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--summarize", action="store_true", help="only rewrite the summary")
    args, extra = ap.parse_known_args(argv)  # the rest: `deeprnn train` overrides
    args.extra = [a for a in extra if a != "--"]
    raw = yaml.safe_load(args.config.read_text())
    out_dir = ROOT / raw["out_dir"]
    if not args.summarize:
        queue = _folds(args.folds)
        running: list[tuple[int, subprocess.Popen, float]] = []
        while queue or running:
            while queue and len(running) < args.parallel:
                i = queue.pop(0)
                fold_dir = out_dir / f"fold_{i}"
                fold_dir.parent.mkdir(parents=True, exist_ok=True)
                cmd = [str(Path(sys.executable).with_name("deeprnn")), "train", "-c", str(args.config),
                       "--data.fold", str(i), "--out_dir", str(fold_dir),
                       "--trainer.num_threads", "1", *args.extra]  # fmt: skip
                log = (out_dir / f"fold_{i}.log").open("w")
                running.append(
                    (i, subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log), time.time())
                )
            time.sleep(5)
            for item in list(running):
                i, proc, start = item
                if proc.poll() is not None:
                    running.remove(item)
                    print(
                        f"fold {i}: exit {proc.returncode} after {time.time() - start:.0f} s",
                        flush=True,
                    )
    summary = summarize(args.config, out_dir)
    acc = summary["metrics"].get("test_acc")
    if acc:
        print(f"{summary['completed']} of {summary['folds']} folds: test_acc {acc['mean']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
