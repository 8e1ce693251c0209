"""Parallel-in-time recurrences against ``torch.nn.LSTM`` on CPU or CUDA (issue 30).

A 2-layer MinGRU, MinLSTM and LRU (deeprnn, ``impl="auto"``: the compiled scan on CPU, the
Triton scan on CUDA) against ``nn.LSTM(64, 256, 2)`` (oneDNN on CPU, cuDNN on CUDA), hidden 256, I = 64, B = 16, at T = 1000 and 4000, at 1 and 2
threads: one training step (forward, ``out.square().mean()``, backward, SGD step) and one
inference forward (eval, ``torch.no_grad()``). The models run interleaved, side by side, round
after round, and each keeps its best round, so a load spike on a shared machine hits all of them
alike; the ratios (LSTM time / model time, > 1: faster than the LSTM) are the result. Peak memory
of one training step: each in a fresh process, the growth of its resident-set high-water mark
(``/proc/self/clear_refs`` then ``VmHWM``), in MB.

    python benchmarks/parallel_rnn.py                      # all: writes results/parallel_rnn.json
    python benchmarks/parallel_rnn.py --steps 1000 --threads 1 --repeats 2 --no-memory  # quick
    python benchmarks/parallel_rnn.py --device cuda --steps 1000 4000 16000 --threads 1
        # GPU: Triton scans vs cuDNN LSTM, writes results/parallel_rnn_cuda.json

On CUDA the timings synchronise the device around each call, and the peak memory is
``torch.cuda.max_memory_allocated`` of one training step (in process; ``--threads`` only sets
the CPU threads of the launches). Run it on a quiet machine for the README / docs numbers; on
a shared one, say so.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

B, I, H, L = 16, 64, 256, 2
MODELS = ("lstm", "mingru", "minlstm", "lru")
RESULTS = Path(__file__).parent / "results" / "parallel_rnn.json"
RESULTS_CUDA = RESULTS.with_name("parallel_rnn_cuda.json")


def build(name: str):
    import torch

    import deeprnn

    torch.manual_seed(0)
    if name == "lstm":
        return torch.nn.LSTM(I, H, L, batch_first=True)
    cls = {"mingru": deeprnn.MinGRU, "minlstm": deeprnn.MinLSTM, "lru": deeprnn.LRU}[name]
    return cls(I, H, L, return_state=False)


def _output(model, x):
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def train_step(model, opt, x) -> None:
    model.train()
    _output(model, x).square().mean().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def infer(model, x) -> None:
    import torch

    model.eval()
    with torch.no_grad():
        _output(model, x)


def time_group(steps: int, threads: int, repeats: int, device: str = "cpu") -> dict:
    """Best-of-``repeats`` seconds per model for a training step and an inference call."""
    import torch

    torch.set_num_threads(threads)
    x = torch.randn(B, steps, I, device=device)
    models = {m: build(m).to(device) for m in MODELS}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    opts = {m: torch.optim.SGD(models[m].parameters(), lr=1e-3) for m in MODELS}
    for m in MODELS:  # warm-up: builds the compiled kernels, touches the allocator
        train_step(models[m], opts[m], x)
        infer(models[m], x)
    best = {(m, k): float("inf") for m in MODELS for k in ("train", "infer")}
    for _ in range(repeats):
        for m in MODELS:  # interleaved: every model sees the same background load
            for kind in ("train", "infer"):
                sync()
                t0 = time.perf_counter()
                if kind == "train":
                    train_step(models[m], opts[m], x)
                else:
                    infer(models[m], x)
                sync()
                best[m, kind] = min(best[m, kind], time.perf_counter() - t0)
    rows = {}
    for m in MODELS:
        rows[m] = {
            "train_s": round(best[m, "train"], 4),
            "infer_s": round(best[m, "infer"], 4),
            "train_speedup_vs_lstm": round(best["lstm", "train"] / best[m, "train"], 2),
            "infer_speedup_vs_lstm": round(best["lstm", "infer"] / best[m, "infer"], 2),
            "train_us_per_step": round(1e6 * best[m, "train"] / steps, 1),
        }
    return rows


def memory_child(name: str, steps: int) -> dict:
    """Peak RSS growth (MB) of one training step of ``name``; runs in its own process."""
    import torch

    torch.set_num_threads(1)
    model = build(name)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(B, steps, I)
    train_step(model, opt, torch.randn(B, 8, I))  # warm-up on a short input (builds kernels)

    def rss(field: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(field)

    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    base = rss("VmRSS")
    train_step(model, opt, x)
    return {"peak_growth_mb": round(rss("VmHWM") - base, 1)}


def cuda_memory(steps: int, device: str) -> dict:
    """Peak allocated CUDA memory (MB) of one training step of each model, in process."""
    import torch

    out = {}
    for m in MODELS:
        model = build(m).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        train_step(model, opt, torch.randn(B, 8, I, device=device))  # warm-up
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        train_step(model, opt, torch.randn(B, steps, I, device=device))
        torch.cuda.synchronize()
        out[m] = round((torch.cuda.max_memory_allocated(device) - base) / 2**20, 1)
        del model, opt
    return out


def measure_memory(steps: int) -> dict:
    out = {}
    for m in MODELS:
        res = subprocess.run(
            [sys.executable, __file__, "--child", m, "--steps", str(steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        out[m] = json.loads(res.stdout.strip().splitlines()[-1])["peak_growth_mb"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[1000, 4000])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (the Triton scans)")
    ap.add_argument("--note", default="", help="e.g. 'contended: shared 2-core machine'")
    ap.add_argument("--out", type=Path, help=f"default {RESULTS} ({RESULTS_CUDA.name} on CUDA)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(memory_child(args.child, args.steps[0])))
        return
    import torch

    if args.out is None:
        args.out = RESULTS_CUDA if args.device.startswith("cuda") else RESULTS
    report = {
        "setup": {"B": B, "I": I, "H": H, "layers": L, "repeats": args.repeats},
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else "cpu",
        "note": args.note,
        "timings": [],
        "peak_memory_mb": {},
    }
    for steps in args.steps:
        for threads in args.threads:
            rows = time_group(steps, threads, args.repeats, args.device)
            report["timings"].append({"T": steps, "threads": threads, "models": rows})
            _write(args.out, report)  # after every group: an interrupted run keeps its rows
            print(f"\nT={steps} threads={threads}")
            print("| model | train s | x LSTM | infer s | x LSTM | us/step (train) |")
            print("|---|---:|---:|---:|---:|---:|")
            for m, r in rows.items():
                print(
                    f"| {m} | {r['train_s']:.3f} | {r['train_speedup_vs_lstm']:.2f} | "
                    f"{r['infer_s']:.3f} | {r['infer_speedup_vs_lstm']:.2f} | "
                    f"{r['train_us_per_step']:.0f} |",
                    flush=True,
                )
        if not args.no_memory:
            cuda = args.device.startswith("cuda")
            mem = cuda_memory(steps, args.device) if cuda else measure_memory(steps)
            report["peak_memory_mb"][str(steps)] = mem
            _write(args.out, report)
            print(f"peak memory of one training step, T={steps} (MB): {mem}", flush=True)
    print(f"\nwrote {args.out}")


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
