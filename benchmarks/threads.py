"""Thread-count axis of the speed table (issue 31): the compiled variants beside nn.LSTM / nn.GRU
at 1, 2 and all cores, B = 16, 32, 64, T = 100 and 1000, and a scaling run.

    python benchmarks/threads.py             # the grid and the scaling run (quiet machine: ~30 min)
    python benchmarks/threads.py --quick     # T=100, B=16 and 64, 3 repeats
    python benchmarks/threads.py --readme    # also rewrite the threads block of docs/results.md

Grid: per (threads, B, T) one interleaved run (repeat r times every row before repeat r+1) of
the baselines ``nn.LSTM`` / ``nn.GRU`` and deeprnn's LSTM and GRU with recurrent_dropout=0.25,
zoneout=0.1 and layer_norm (2 layers, I=64, H=256), train step (forward + backward + clipping +
SGD, as benchmarks/speed.py) and inference (eval, no grad); each cell is "train / inference"
as a multiple of the baseline's median from the same run. The variants run the compiled loop's
default threading (the shared path: each step's GEMM on MKL's threads). ``--ab`` adds, for an
A/B in the same run, rows that force a scheme: "(shared path)" ``DEEPRNN_ROW_BLOCKS=0``, "(row
blocks)" one row block per thread (each thread its own time loop over a block of batch rows,
single-threaded GEMMs), "(unit blocks)" one unit block per thread (each thread a slice of the
hidden units and of W_hh, a barrier per step; not the layer-norm kinds), and "(LN_ih outside
the loop)" ``DEEPRNN_FUSE_LN_INPUT=0`` (the input projection's layer norm by ``F.layer_norm``
and autograd, as before it moved into the compiled loop). ``--rows REGEX`` runs only the rows
whose name matches (and their baselines).

Scaling: train step ms at 1, 2 and 4 threads (4 oversubscribes a 2-core machine) for nn.LSTM
and LSTM recurrent_dropout=0.25 with each scheme, B=64, T=100: nothing in a scheme stops at 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _readme import write_block  # noqa: E402
from speed import infer, train_step  # noqa: E402

import deeprnn  # noqa: E402
from deeprnn._persist import atomic_write_text  # noqa: E402
from deeprnn.kernels import compiled  # noqa: E402

I, H, L = 64, 256, 2
SHARED = {"DEEPRNN_ROW_BLOCKS": "0"}
LN_OUTSIDE = {"DEEPRNN_FUSE_LN_INPUT": "0"}  # the input projection's LN as before issue 31
ROW_BLOCKS = {"DEEPRNN_ROW_BLOCKS": "threads"}  # one row block per thread
UNIT_BLOCKS = {"DEEPRNN_UNIT_BLOCKS": "threads"}  # always unit blocks, one per thread
FORCED = (SHARED, ROW_BLOCKS, UNIT_BLOCKS)  # rows only worth running at 2+ threads
AB = (*FORCED, LN_OUTSIDE)  # the A/B rows, run with --ab
#: the compiled variants: name -> (build(), baseline name)
ROWS_BASE = {
    "LSTM recurrent_dropout=0.25": (
        lambda: deeprnn.LSTM(I, H, L, recurrent_dropout=0.25),
        "torch nn.LSTM",
    ),
    "LSTM zoneout=0.1": (lambda: deeprnn.LSTM(I, H, L, zoneout=0.1), "torch nn.LSTM"),
    "LSTM layer_norm": (lambda: deeprnn.LSTM(I, H, L, layer_norm=True), "torch nn.LSTM"),
    "GRU recurrent_dropout=0.25": (
        lambda: deeprnn.GRU(I, H, L, recurrent_dropout=0.25),
        "torch nn.GRU",
    ),
    "GRU zoneout=0.1": (lambda: deeprnn.GRU(I, H, L, zoneout=0.1), "torch nn.GRU"),
    "GRU layer_norm": (lambda: deeprnn.GRU(I, H, L, layer_norm=True), "torch nn.GRU"),
}
#: the threading schemes forced for an A/B beside the automatic choice (rows "(scheme)")
SCHEMES = {"shared path": SHARED, "row blocks": ROW_BLOCKS, "unit blocks": UNIT_BLOCKS}
#: name -> (build(), baseline name, environment while it runs)
ROWS = {
    "torch nn.LSTM": (lambda: nn.LSTM(I, H, L, batch_first=True), "torch nn.LSTM", {}),
    "torch nn.GRU": (lambda: nn.GRU(I, H, L, batch_first=True), "torch nn.GRU", {}),
    **{name: (build, base, {}) for name, (build, base) in ROWS_BASE.items()},
    **{
        f"{name} ({how})": (ROWS_BASE[name][0], ROWS_BASE[name][1], env)
        for name in ROWS_BASE
        for how, env in SCHEMES.items()
        if not (how == "unit blocks" and "layer_norm" in name)  # LN kinds: rows or shared only
    },
    "LSTM layer_norm (LN_ih outside the loop)": (
        lambda: deeprnn.LSTM(I, H, L, layer_norm=True),
        "torch nn.LSTM",
        LN_OUTSIDE,
    ),
    "GRU layer_norm (LN_ih outside the loop)": (
        lambda: deeprnn.GRU(I, H, L, layer_norm=True),
        "torch nn.GRU",
        LN_OUTSIDE,
    ),
}
TARGET = 1.15  # issue 31: train step and inference <= 1.15x the baseline


@contextlib.contextmanager
def environment(env: dict):
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def timed(names, threads: int, B: int, T: int, repeats: int) -> dict:
    """Median train / inference seconds of each row, interleaved, at ``threads`` threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    models = {n: ROWS[n][0]() for n in names}
    opts = {n: torch.optim.SGD(m.parameters(), lr=0.01) for n, m in models.items()}
    x = torch.randn(B, T, I)
    times = {n: {"train": [], "infer": []} for n in names}
    for rep in range(repeats + 1):  # repeat 0 warms up
        for n in names:
            env = {k: str(threads) if v == "threads" else v for k, v in ROWS[n][2].items()}
            with environment(env):
                for what, fn in (
                    ("train", lambda n=n: train_step(models[n], opts[n], x, None)),
                    ("infer", lambda n=n: infer(models[n], x, None)),
                ):
                    t0 = time.perf_counter()
                    fn()
                    if rep:
                        times[n][what].append(time.perf_counter() - t0)
    return {n: {w: statistics.median(v) for w, v in t.items()} for n, t in times.items()}


def selected(text: str | None, ab: bool = False) -> list[str]:
    """The rows whose name matches the regular expression ``text`` (all when None; the A/B rows
    only with ``ab``), with their baselines."""
    names = [
        n for n in ROWS if (ab or ROWS[n][2] not in AB) and (text is None or re.search(text, n))
    ]
    return [n for n in ROWS if n in names or any(ROWS[m][1] == n for m in names)]


def grid(threads_list, batches, lengths, repeats: int, rows=None, ab=False) -> list[dict]:
    out = []
    for T in lengths:
        for threads in threads_list:
            for B in batches:
                names = [n for n in selected(rows, ab) if threads > 1 or ROWS[n][2] not in FORCED]
                reps = repeats if T <= 100 else max(2, repeats // 2)
                print(f"threads={threads} B={B} T={T} ...", flush=True)
                med = timed(names, threads, B, T, reps)
                for n in names:
                    base = med[ROWS[n][1]]
                    out.append(
                        dict(
                            row=n,
                            threads=threads,
                            B=B,
                            T=T,
                            train_ms=med[n]["train"] * 1e3,
                            infer_ms=med[n]["infer"] * 1e3,
                            train_ratio=med[n]["train"] / base["train"],
                            infer_ratio=med[n]["infer"] / base["infer"],
                        )
                    )
    return out


def scaling(threads_list, B: int, T: int, repeats: int) -> list[dict]:
    names = ["torch nn.LSTM", "LSTM recurrent_dropout=0.25"]
    names += [f"LSTM recurrent_dropout=0.25 ({how})" for how in ("row blocks", "unit blocks")]
    out = []
    for threads in threads_list:
        print(f"scaling: threads={threads} B={B} T={T} ...", flush=True)
        med = timed(names, threads, B, T, repeats)
        for n in names:
            out.append(dict(row=n, threads=threads, B=B, T=T, **med[n]))
    return out


def _cell(r: dict) -> str:
    def f(v):
        return f"**{v:.2f}**" if v > TARGET else f"{v:.2f}"

    return f"{f(r['train_ratio'])} / {f(r['infer_ratio'])}"


def markdown(results: list[dict], scale: list[dict], meta: dict) -> str:
    lines = [
        f"Measured {meta['date']} on {meta['machine']} ({meta['cpus']} CPUs), torch {meta['torch']}, "
        f"I={I} H={H} {L} layers; train step / inference as a multiple of nn.LSTM (LSTM rows) or "
        f"nn.GRU (GRU rows) from the same interleaved run, medians of {meta['repeats']} repeats "
        f"(T=1000: half as many); bold: above {TARGET}x. Load average (1 min) at start / end: "
        f"{meta['load']}. `{meta['command']}`",
        "",
    ]
    for T in sorted({r["T"] for r in results}):
        cols = sorted({(r["threads"], r["B"]) for r in results if r["T"] == T})
        lines += [
            f"T={T} | " + " | ".join(f"{t} thr, B={b}" for t, b in cols) + " |",
            "|---|" + "---:|" * len(cols),
        ]
        for name in dict.fromkeys(r["row"] for r in results):
            if ROWS[name][1] == name:
                continue
            cells = {
                (r["threads"], r["B"]): _cell(r)
                for r in results
                if r["row"] == name and r["T"] == T
            }
            lines.append(f"| {name} | " + " | ".join(cells.get(c, "-") for c in cols) + " |")
        lines.append("")
    if scale:
        lines += [
            f"Scaling, train step ms (B={scale[0]['B']}, T={scale[0]['T']}; speed-up over 1 thread; "
            "the unnamed row: the default, the shared path):",
            "",
            "| threads | " + " | ".join(dict.fromkeys(r["row"] for r in scale)) + " |",
            "|---:|" + "---:|" * len(dict.fromkeys(r["row"] for r in scale)),
        ]
        one = {
            r["row"]: r["train"] for r in scale if r["threads"] == min(x["threads"] for x in scale)
        }
        for t in sorted({r["threads"] for r in scale}):
            rs = [r for r in scale if r["threads"] == t]
            cells = [f"{r['train'] * 1e3:.0f} ({one[r['row']] / r['train']:.2f}x)" for r in rs]
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="T=100, B=16 and 64, 3 repeats")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", help="comma-separated thread counts (default: 1, 2, all cores)")
    p.add_argument("--batches", default="16,32,64")
    p.add_argument("--lengths", default="100,1000")
    p.add_argument("--rows", help="only the rows whose name matches this regex (+ baselines)")
    p.add_argument("--ab", action="store_true", help="add the rows that force a scheme (A/B)")
    p.add_argument("--no-grid", action="store_true", help="the scaling run only")
    p.add_argument("--no-scaling", action="store_true", help="the grid only")
    p.add_argument("--scaling-shape", default="64,100", help="B,T of the scaling run")
    p.add_argument("--readme", action="store_true", help="write the table into docs/results.md")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    a = p.parse_args(argv)
    cores = os.cpu_count() or 1
    threads = (
        [int(v) for v in a.threads.split(",")] if a.threads else sorted({1, min(2, cores), cores})
    )
    batches = [16, 64] if a.quick else [int(v) for v in a.batches.split(",")]
    lengths = [100] if a.quick else [int(v) for v in a.lengths.split(",")]
    repeats = 3 if a.quick else a.repeats
    if not compiled.available():
        print(f"compiled kernels not built: {compiled._state['error']}", file=sys.stderr)
    load0 = os.getloadavg()[0]
    results = [] if a.no_grid else grid(threads, batches, lengths, repeats, a.rows, a.ab)
    sb, st = (int(v) for v in a.scaling_shape.split(","))
    scale = [] if a.no_scaling else scaling([1, 2, 4], sb, st, repeats)
    meta = dict(
        date=time.strftime("%Y-%m-%d"),
        machine=f"{platform.processor() or platform.machine()} {platform.system()}",
        cpus=cores,
        torch=torch.__version__,
        repeats=repeats,
        load=f"{load0:.1f} / {os.getloadavg()[0]:.1f}",
        command="python benchmarks/threads.py " + " ".join(argv or sys.argv[1:]),
    )
    table = markdown(results, scale, meta)
    print(table)
    a.out.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "grid": results, "scaling": scale}
    atomic_write_text(a.out / "threads.json", json.dumps(data, indent=2))
    atomic_write_text(a.out / "threads.md", table)
    if a.readme:
        write_block("threads", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
