"""Peak memory on long sequences: training on T = 10,000 with and without activation
checkpointing, and streaming inference over T = 10,000 vs T = 100,000 in chunks.

Each measurement runs in a fresh Python process, which resets its RSS high-water mark after a
warm-up (``/proc/self/clear_refs``), runs once and reads ``VmHWM``: the figure is the peak RSS
*growth* of that one step, in MB (``peak_rss_mb`` is the process's whole peak, imports included).

    python benchmarks/long_sequence_memory.py            # writes benchmarks/results/long_sequence_memory.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

B, I, H, L = 8, 32, 128, 2  # batch, input features, hidden size, layers
CHUNK = 1000  # streaming chunk (steps)
CHECKPOINT_STEPS = 100
RESULTS = Path(__file__).parent / "results" / "long_sequence_memory.json"


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(kind: str, steps: int) -> dict:
    """One measurement; runs in its own process."""
    import torch

    import deeprnn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ckpt = CHECKPOINT_STEPS if kind == "train_checkpointed" else None
    model = deeprnn.LSTM(I, H, num_layers=L, checkpoint_steps=ckpt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def train(t: int) -> None:
        x = torch.randn(B, t, I)
        out, _ = model(x)
        out.pow(2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def stream(t: int) -> None:
        model.eval()
        chunks = (torch.randn(B, min(CHUNK, t - s), I) for s in range(0, t, CHUNK))
        last = None
        for out in model.stream(chunks):
            last = out[:, -1]  # keep only what a consumer would keep
        assert last is not None

    run = train if kind.startswith("train") else stream
    run(min(steps, 2 * CHUNK))  # warm up allocator and kernels
    base = _rss_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    run(steps)
    seconds = time.perf_counter() - start
    return {
        "kind": kind,
        "steps": steps,
        "peak_growth_mb": round(_rss_mb("VmHWM") - base, 1),
        "peak_rss_mb": round(_rss_mb("VmHWM"), 1),
        "seconds": round(seconds, 2),
    }


def measure(kind: str, steps: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(steps)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    import torch

    rows = [
        measure("train", 10_000),
        measure("train_checkpointed", 10_000),
        measure("stream", 10_000),
        measure("stream", 100_000),
    ]
    result = {
        "machine": f"{platform.machine()} {platform.system()}, torch {torch.__version__}, 1 thread",
        "model": f"deeprnn.LSTM({I}, {H}, num_layers={L}), batch {B}",
        "checkpoint_steps": CHECKPOINT_STEPS,
        "stream_chunk": CHUNK,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(
            f"{r['kind']:20s} T={r['steps']:>7,}  peak growth {r['peak_growth_mb']:8.1f} MB"
            f"  (process peak {r['peak_rss_mb']:.0f} MB)  {r['seconds']:.1f} s"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
