"""Where one LSTM layer's inference time goes (issue 31): torch's ``nn.LSTM`` (oneDNN's fused
RNN primitive) beside its parts done through MKL, and the compiled loop under each threading
scheme. One layer, I=64, H=256, T=100, eval, no grad; milliseconds, medians of 31 calls.

    python benchmarks/infer_profile.py            # 1 and 2 threads, B = 16 and 64 (~2 min)

Rows: ``nn.LSTM``; the input projection alone (``addmm`` over all steps); the T recurrent GEMMs
alone ((B, H) x (H, 4H) through ``torch.mm`` into one buffer); the compiled ``scan_infer``,
plain and with zoneout's eval mix, under the default threading (the shared path) and, at 2
threads, row blocks and unit blocks. Then the per-step GEMM split over 2 cores three ways:
MKL's threaded GEMM, two threads each running half the rows (row blocks' split) and two threads
each running half the columns (unit blocks' split), each thread with one intra-op thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from deeprnn.kernels import compiled

I, H, T = 64, 256, 100
SCHEMES = {
    "": {},
    " (row blocks)": {"DEEPRNN_ROW_BLOCKS": "2"},
    " (unit blocks)": {"DEEPRNN_UNIT_BLOCKS": "2"},
}


def best(f, repeats: int = 31) -> float:
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[len(times) // 2]


def layer_rows(mod, threads: int, B: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H).eval()
    x, h0, c0 = torch.randn(T, B, I), torch.zeros(B, H), torch.zeros(B, H)
    w_ih, w_hh, b_ih, b_hh = (
        p.detach() for p in (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    )
    w_t, h, buf = w_hh.t().contiguous(), torch.randn(B, H), torch.empty(B, 4 * H)
    res = {}
    with torch.no_grad():
        res["nn.LSTM"] = best(lambda: lstm(x))
        res["input projection (addmm)"] = best(
            lambda: torch.addmm(b_ih, x.reshape(T * B, I), w_ih.t())
        )
        res[f"{T} recurrent GEMMs (torch.mm)"] = best(
            lambda: [torch.mm(h, w_t, out=buf) for _ in range(T)]
        )
        for tag, env in SCHEMES.items():
            if threads == 1 and env:
                continue
            os.environ.update(env)
            try:
                for name, p in (("plain", 0.0), ("zoneout=0.1", 0.1)):
                    res[f"compiled {name}{tag}"] = best(
                        lambda p=p: mod.scan_infer(
                            "lstm", x, w_ih, b_ih, w_hh, b_hh, None, h0, c0, p, False
                        )
                    )
            finally:
                for k in env:
                    os.environ.pop(k, None)
    return res


def gemm_split(B: int) -> dict:
    """T steps of (B, H) x (H, 4H) on 2 cores: MKL's threads, row halves, column halves."""
    w, h = torch.randn(H, 4 * H), torch.randn(B, H)

    def job(a, b, out):
        for _ in range(T):
            torch.mm(a, b, out=out)

    def run(parts):
        ts = [threading.Thread(target=job, args=p) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    half = B // 2
    rows = [(h[:half].contiguous(), w, torch.empty(half, 4 * H))]
    rows.append((h[half:].contiguous(), w, torch.empty(B - half, 4 * H)))
    cols = [(h, w[:, : 2 * H].contiguous(), torch.empty(B, 2 * H))]
    cols.append((h, w[:, 2 * H :].contiguous(), torch.empty(B, 2 * H)))
    res = {}
    torch.set_num_threads(1)
    res["1 thread"] = best(lambda: run([(h, w, torch.empty(B, 4 * H))]))
    res["2 threads, half the rows each"] = best(lambda: run(rows))
    res["2 threads, half the columns each"] = best(lambda: run(cols))
    torch.set_num_threads(2)
    res["MKL's 2 threads"] = best(lambda: run([(h, w, torch.empty(B, 4 * H))]))
    return res


def main() -> int:
    mod = compiled.load()
    if mod is None:
        print(f"compiled kernels not built: {compiled._state['error']}", file=sys.stderr)
        return 1
    print(f"# one LSTM layer, inference, I={I} H={H} T={T}: ms (load {os.getloadavg()[0]:.1f})")
    for threads in (1, 2):
        for B in (16, 64):
            res = layer_rows(mod, threads, B)
            print(f"threads={threads} B={B}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()))
    for B in (16, 64):
        res = gemm_split(B)
        print(f"{T} GEMMs (B={B}): " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
