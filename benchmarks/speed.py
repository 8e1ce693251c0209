"""Speed harness: deeprnn's layers side by side with torch's, in one run, as ratios.

    python benchmarks/speed.py                 # the full grid (about 10 minutes on 2 cores)
    python benchmarks/speed.py --quick         # T=100 only, fewer repeats
    make bench                                 # the full grid, then docs/results.md is updated

Every row is timed interleaved with the others (repeat r runs row 1, row 2, ... before repeat
r+1) so that machine noise hits all rows alike; we report medians and the ratio to
``torch.nn.LSTM`` (or ``nn.GRU``) from the same run. A train step is forward + backward +
gradient clipping to norm 1 + ``optimizer.step()`` (SGD). The clipping is what RNN recipes do,
and it keeps the timed weights sane: on this random task the layer-norm LSTM's gradients reach
1e11 at T=1000 (in every implementation, the readable loop included), and unclipped its weights
saturate after one step, so that the later steps time denormal arithmetic, not the model. Peak memory is the peak RSS growth of a separate process running
one train step (CPU) or ``torch.cuda.max_memory_allocated`` (GPU). GFLOP/s counts the GEMMs of a
train step (3x the forward's 2·B·T·(I+H)·G·H per layer) against a measured GEMM peak.
Results go to ``benchmarks/results/speed.json`` and ``speed.md``; ``--readme`` rewrites the
table between the ``speed:start`` / ``speed:end`` markers in docs/results.md.

The variants torch's fused op cannot run (recurrent dropout, zoneout, layer norm) go through the
compiled C++ time loop (deeprnn.kernels.compiled) when it is built; the rows marked
"(Python loop)" run the same layer with it switched off, for comparison. ``--threads 1,2``
repeats the whole grid per thread count (each block interleaved on its own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _readme import write_block  # noqa: E402

import deeprnn  # noqa: E402
from deeprnn._persist import atomic_write_text  # noqa: E402
from deeprnn.kernels import compiled  # noqa: E402


class CellLoop(nn.Module):
    """What torch users write for a variant torch lacks: a Python loop of nn.LSTMCell."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int):
        super().__init__()
        sizes = [input_size] + [hidden_size] * num_layers
        self.cells = nn.ModuleList(nn.LSTMCell(a, hidden_size) for a in sizes[:-1])

    def forward(self, x):
        for cell in self.cells:
            h = c = x.new_zeros(x.shape[0], cell.hidden_size)
            outs = []
            for t in range(x.shape[1]):
                h, c = cell(x[:, t], (h, c))
                outs.append(h)
            x = torch.stack(outs, 1)
        return (x,)


class PackedLSTM(nn.LSTM):
    """nn.LSTM on a padded batch with lengths, the torch way: pack, run, unpack."""

    def __init__(self, input_size, hidden_size, num_layers):
        super().__init__(input_size, hidden_size, num_layers, batch_first=True)

    def forward(self, x, lengths=None):
        if lengths is None:
            return super().forward(x)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, state = super().forward(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[
            0
        ], state


class PythonLoop(nn.Module):
    """A deeprnn layer with the compiled kernels switched off: the Python ``fused_scan`` loop."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths=None):
        with compiled.disabled():
            return self.layer(x) if lengths is None else self.layer(x, lengths=lengths)


@dataclass
class Row:
    name: str
    build: object  # (I, H, L) -> module
    baseline: str = "torch nn.LSTM"
    gates: int = 4
    masked: bool = False


def rows(include_loop: bool, only: str | None = None) -> list[Row]:
    """The contenders; ``only`` (a regular expression) keeps the matching rows and the
    baselines they need."""
    table = _rows(include_loop)
    if only is None:
        return table
    import re

    keep = {r.name for r in table if re.search(only, r.name)}
    keep |= {r.baseline for r in table if r.name in keep}
    return [r for r in table if r.name in keep]


def _rows(include_loop: bool) -> list[Row]:
    out = [
        Row("torch nn.LSTM", lambda i, h, n: nn.LSTM(i, h, n, batch_first=True)),
        Row(
            "torch nn.LSTM random lengths (packed)",
            lambda i, h, n: PackedLSTM(i, h, n),
            masked=True,
        ),
        Row("torch LSTMCell loop", lambda i, h, n: CellLoop(i, h, n)),
        Row("deeprnn LSTM (auto: torch op)", lambda i, h, n: deeprnn.LSTM(i, h, n)),
        Row("deeprnn LSTM impl=fused", lambda i, h, n: deeprnn.LSTM(i, h, n, impl="fused")),
        Row(
            "deeprnn LSTM recurrent_dropout=0.25",
            lambda i, h, n: deeprnn.LSTM(i, h, n, recurrent_dropout=0.25),
        ),
        Row("deeprnn LSTM layer_norm", lambda i, h, n: deeprnn.LSTM(i, h, n, layer_norm=True)),
        Row("deeprnn LSTM zoneout=0.1", lambda i, h, n: deeprnn.LSTM(i, h, n, zoneout=0.1)),
        Row("deeprnn LSTM residual", lambda i, h, n: deeprnn.LSTM(i, h, n, residual=True)),
        Row(
            "deeprnn LSTM checkpoint_steps=50",
            lambda i, h, n: deeprnn.LSTM(i, h, n, checkpoint_steps=50),
        ),
        Row(
            "deeprnn LSTM random lengths",
            lambda i, h, n: deeprnn.LSTM(i, h, n),
            "deeprnn LSTM (auto: torch op)",
            masked=True,
        ),
        Row("torch nn.GRU", lambda i, h, n: nn.GRU(i, h, n, batch_first=True), "torch nn.GRU", 3),
        Row(
            "deeprnn GRU (auto: torch op)", lambda i, h, n: deeprnn.GRU(i, h, n), "torch nn.GRU", 3
        ),
        Row(
            "deeprnn GRU recurrent_dropout=0.25",
            lambda i, h, n: deeprnn.GRU(i, h, n, recurrent_dropout=0.25),
            "torch nn.GRU",
            3,
        ),
        Row(
            "deeprnn GRU zoneout=0.1",
            lambda i, h, n: deeprnn.GRU(i, h, n, zoneout=0.1),
            "torch nn.GRU",
            3,
        ),
        Row(
            "deeprnn GRU layer_norm",
            lambda i, h, n: deeprnn.GRU(i, h, n, layer_norm=True),
            "torch nn.GRU",
            3,
        ),
        Row(
            "deeprnn LSTM recurrent_dropout=0.25 (Python loop)",
            lambda i, h, n: PythonLoop(deeprnn.LSTM(i, h, n, recurrent_dropout=0.25)),
        ),
        Row(
            "deeprnn LSTM layer_norm (Python loop)",
            lambda i, h, n: PythonLoop(deeprnn.LSTM(i, h, n, layer_norm=True)),
        ),
    ]
    if include_loop:
        out.insert(
            4,
            Row(
                "deeprnn LSTM impl=loop (readable)",
                lambda i, h, n: deeprnn.LSTM(i, h, n, impl="loop"),
            ),
        )
    return out


def train_step(model, opt, x, lengths):
    out = model(x, lengths=lengths)[0] if lengths is not None else model(x)[0]
    out.float().square().mean().backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


def infer(model, x, lengths):
    model.eval()  # inference means eval mode: dropout-type regularisers are off
    with torch.no_grad():
        model(x, lengths=lengths) if lengths is not None else model(x)
    model.train()


def gemm_peak(device) -> float:
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048**3 / best / 1e9


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_flops(B, T, I, H, L, G) -> float:
    fwd = sum(2 * B * T * ((I if l == 0 else H) + H) * G * H for l in range(L))
    return 3 * fwd


def _row(name: str, include_loop: bool) -> Row:
    return next(r for r in rows(include_loop) if r.name == name)


def peak_memory_mb(row_name: str, shape, device, include_loop) -> float:
    """Peak memory of one train step, measured in a fresh process."""
    B, T, I, H, L = shape
    if device.type == "cuda":
        row = _row(row_name, include_loop)
        model = row.build(I, H, L).to(device)
        x = torch.randn(B, T, I, device=device)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        train_step(model, torch.optim.SGD(model.parameters(), lr=0.01), x, None)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    cmd = [
        sys.executable,
        __file__,
        "--memory-row",
        row_name,
        "--shape",
        ",".join(map(str, shape)),
    ]
    if include_loop:
        cmd.append("--loop")
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_child(row_name: str, shape, include_loop: bool) -> None:
    """Peak RSS growth during one train step: reset the high-water mark (clear_refs 5), run,
    read VmHWM. Import-time peaks would otherwise hide the step's own memory."""
    B, T, I, H, L = shape
    row = _row(row_name, include_loop)
    model = row.build(I, H, L)
    x = torch.randn(B, T, I)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    lengths = torch.randint(1, T + 1, (B,)) if row.masked else None
    train_step(
        model, opt, x[:, :4], lengths.clamp(max=4) if lengths is not None else None
    )  # warm up
    base = _rss_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    train_step(model, opt, x, lengths)
    print(_rss_mb("VmHWM") - base)


def run(
    shape, repeats: int, device, include_loop: bool, memory: bool, only=None, threads=None
) -> list[dict]:
    B, T, I, H, L = shape
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    table = rows(include_loop, only)
    models = [r.build(I, H, L).to(device) for r in table]
    opts = [torch.optim.SGD(m.parameters(), lr=0.01) for m in models]
    x = torch.randn(B, T, I, device=device)
    lengths = torch.randint(1, T + 1, (B,), device=device)
    times = {r.name: {"train": [], "infer": []} for r in table}
    for rep in range(repeats + 1):  # repeat 0 warms up
        for r, m, o in zip(table, models, opts):
            ln = lengths if r.masked else None
            for what, fn in (
                ("train", lambda m=m, o=o, ln=ln: train_step(m, o, x, ln)),
                ("infer", lambda m=m, ln=ln: infer(m, x, ln)),
            ):
                _sync(device)
                t0 = time.perf_counter()
                fn()
                _sync(device)
                if rep:
                    times[r.name][what].append(time.perf_counter() - t0)
    peak = gemm_peak(device)
    out = []
    med = {k: {w: statistics.median(v[w]) for w in v} for k, v in times.items()}
    for r in table:
        base = med[r.baseline]
        t = med[r.name]
        flops = train_flops(B, T, I, H, L, r.gates)
        out.append(
            {
                "row": r.name,
                "shape": dict(B=B, T=T, I=I, H=H, layers=L),
                "threads": torch.get_num_threads(),
                "train_ms": t["train"] * 1e3,
                "infer_ms": t["infer"] * 1e3,
                "train_ratio": t["train"] / base["train"],
                "infer_ratio": t["infer"] / base["infer"],
                "baseline": r.baseline,
                "tokens_per_s": B * T / t["train"],
                "gemm_fraction": flops / t["train"] / 1e9 / peak,
                "peak_mem_mb": peak_memory_mb(r.name, shape, device, include_loop)
                if memory
                else None,
            }
        )
    return out


def keras_rows(shape, repeats: int, torch_row: dict) -> list[dict]:
    """TF-Keras on the same shapes, when benchmarks/peers/install_tf.sh has been run."""
    python = ROOT / "benchmarks" / "peers" / ".venv-tf" / "bin" / "python"
    if not python.exists():
        return []
    script = ROOT / "benchmarks" / "peers" / "keras_lstm.py"
    res = subprocess.run(
        [str(python), str(script), *map(str, shape), str(repeats)], capture_output=True, text=True
    )
    if res.returncode != 0:
        print(f"TF-Keras peer failed: {res.stderr[-500:]}", file=sys.stderr)
        return []
    data = json.loads(res.stdout.strip().splitlines()[-1])
    B, T, I, H, L = shape
    out = []
    for key, label in (
        ("plain", "TF-Keras LSTM"),
        ("recurrent_dropout", "TF-Keras LSTM recurrent_dropout=0.25"),
    ):
        t = data[key]
        out.append(
            {
                "row": f"{label} (tf {data['tensorflow']})",
                "shape": dict(B=B, T=T, I=I, H=H, layers=L),
                "threads": torch.get_num_threads(),
                "train_ms": t["train"] * 1e3,
                "infer_ms": t["infer"] * 1e3,
                "train_ratio": t["train"] * 1e3 / torch_row["train_ms"],
                "infer_ratio": t["infer"] * 1e3 / torch_row["infer_ms"],
                "baseline": "torch nn.LSTM",
                "tokens_per_s": B * T / t["train"],
                "gemm_fraction": train_flops(B, T, I, H, L, 4)
                / t["train"]
                / 1e9
                / gemm_peak(torch.device("cpu")),
                "peak_mem_mb": None,
            }
        )
    return out


def markdown(results: list[dict], meta: dict) -> str:
    lines = [
        f"Measured {meta['date']} on {meta['machine']} ({meta['threads']} threads), torch "
        f"{meta['torch']}, {meta['device']}; GEMM peak {meta['gemm_gflops']:.0f} GFLOP/s. Medians of "
        f"{meta['repeats']} interleaved repeats; ratios are to the row named in *base*, from the same run. "
        f"Compiled CPU kernels: {meta.get('compiled', '-')}. Load average (1 min) at start / end: "
        f"{meta.get('load', '-')} (on {meta.get('cpus', '-')} CPUs).",
        "",
        "| shape | threads | row | train step ms | × base | inference ms | × base | base | tokens/s (train) | GEMM peak used | peak train memory MB |",
        "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        s = r["shape"]
        shape = (
            f"B={s['B']} T={s['T']} I={s['I']} H={s['H']} L={s['layers']} | {r.get('threads', '-')}"
        )
        mem = "-" if r["peak_mem_mb"] is None else f"{r['peak_mem_mb']:.0f}"
        lines.append(
            f"| {shape} | {r['row']} | {r['train_ms']:.0f} | {r['train_ratio']:.2f} | {r['infer_ms']:.0f} | "
            f"{r['infer_ratio']:.2f} | {r['baseline']} | {r['tokens_per_s']:,.0f} | {r['gemm_fraction']:.0%} | {mem} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="T=100 only, 3 repeats, no memory")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--loop", action="store_true", help="include deeprnn's readable loop")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-keras", action="store_true", help="skip the TF-Keras peer rows")
    p.add_argument("--readme", action="store_true", help="write the table into docs/results.md")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--threads", help="comma-separated thread counts, e.g. 1,2 (default: torch's)")
    p.add_argument("--only", help="regular expression: only these rows (and their baselines)")
    p.add_argument("--memory-row", help=argparse.SUPPRESS)
    p.add_argument("--shape", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.memory_row is not None:
        _memory_child(a.memory_row, tuple(int(v) for v in a.shape.split(",")), a.loop)
        return 0
    device = torch.device(a.device)
    shapes = [(64, 100, 64, 256, 2)] if a.quick else [(64, 100, 64, 256, 2), (16, 1000, 64, 256, 2)]
    repeats = 3 if a.quick else a.repeats
    threads = [int(v) for v in a.threads.split(",")] if a.threads else [torch.get_num_threads()]
    load0 = os.getloadavg()[0]
    results = []
    for n_threads in threads:
        for shape in shapes:
            reps = repeats if shape[1] <= 100 else max(2, repeats // 2)
            print(f"{n_threads} threads, shape B,T,I,H,L = {shape} ...", flush=True)
            block = run(
                shape, reps, device, a.loop, not (a.quick or a.no_memory), a.only, n_threads
            )
            if device.type == "cpu" and not a.no_keras and a.only is None:
                block += keras_rows(shape, reps, block[0])
            results += block
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()} {platform.system()}",
        "threads": ",".join(map(str, threads)),
        "torch": torch.__version__,
        "compiled": "built" if compiled.available() else f"not built ({compiled._state['error']})",
        "load": f"{load0:.1f} / {os.getloadavg()[0]:.1f}",
        "cpus": os.cpu_count(),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "CPU",
        "gemm_gflops": gemm_peak(device),
        "repeats": repeats,
    }
    table = markdown(results, meta)
    print(table)
    a.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if device.type == "cpu" else "_" + device.type
    atomic_write_text(
        a.out / f"speed{suffix}.json", json.dumps({"meta": meta, "results": results}, indent=2)
    )
    atomic_write_text(a.out / f"speed{suffix}.md", table)
    if a.readme:
        write_block("speed", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
