"""Would a layer wavefront pay on this machine? (issue 31) An upper bound, measured before
building one.

A wavefront runs layer 1's step t+1 on one core while layer 2's step t runs on another, each
with the whole batch and single-threaded GEMMs. Its best case is the two layers' loops running
side by side with no waiting at all. This measures that best case directly: two Python threads,
one intra-op thread each (torch's ops release the GIL), each running the train step (forward +
backward) or the inference of ONE layer of a 2-layer stack (layer 1: I=64 -> H=256; layer 2:
H -> H), at the same time. Beside it, in the same interleaved run: the 2-layer stack on one
thread, and on two threads with the compiled loop's default threading (the shared path).

    python benchmarks/wavefront_bound.py     # B = 16 and 64, T = 100, LSTM zoneout=0.1 (~3 min)

If the side-by-side pair is not clearly faster than the shared path's 2-layer step, a wavefront
(which adds a wait per step and pipeline fill) cannot be either.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import deeprnn

I, H, T = 64, 256, 100


def train(layer, x):
    out, _ = layer(x)
    out.square().mean().backward()


def infer(layer, x):
    with torch.no_grad():
        layer(x)


def measure(B: int, repeats: int) -> dict:
    torch.manual_seed(0)
    stack = deeprnn.LSTM(I, H, 2, zoneout=0.1)
    first, second = deeprnn.LSTM(I, H, zoneout=0.1), deeprnn.LSTM(H, H, zoneout=0.1)
    x, h = torch.randn(B, T, I), torch.randn(B, T, H)

    def pair(fn):
        ts = [threading.Thread(target=fn, args=a) for a in ((first, x), (second, h))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    rows = {}
    for what, fn in (("train", train), ("infer", infer)):
        rows[f"{what}: stack, 1 thread"] = (1, lambda fn=fn: fn(stack, x))
        rows[f"{what}: stack, 2 threads (shared path)"] = (2, lambda fn=fn: fn(stack, x))
        rows[f"{what}: the two layers side by side, 1 thread each"] = (1, lambda fn=fn: pair(fn))
    times = {name: [] for name in rows}
    for rep in range(repeats + 1):
        for name, (threads, f) in rows.items():
            for m in (stack, first, second):
                m.train(name.startswith("train"))
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            f()
            if rep:
                times[name].append(time.perf_counter() - t0)
    return {name: 1e3 * statistics.median(v) for name, v in times.items()}


def main() -> int:
    print(f"# LSTM zoneout=0.1, 2 layers, I={I} H={H} T={T}; ms, medians of 11 interleaved repeats")
    print(f"# load average at start: {os.getloadavg()[0]:.1f}")
    for B in (16, 64):
        res = measure(B, 11)
        print(f"B={B}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
