"""Decoding speed of ``deeprnn.seq2seq``: tokens per second, greedy and beam search.

    python benchmarks/decode_speed.py            # batch 1 and 32, greedy and beam 5
    python benchmarks/decode_speed.py --quick    # fewer repeats
    python benchmarks/decode_speed.py --device cuda
    python benchmarks/decode_speed.py --threads 1   # on a CPU shared with other jobs

The model is mid-size, shaped like a Multi30k translator: vocabularies of 8,000 tokens,
embeddings 256, a 2-layer bidirectional GRU encoder (256 per direction), a 2-layer GRU decoder
(512) with Bahdanau attention and input feeding: 15.8M parameters. Sources are random ids of
10-20 tokens (Multi30k sentences average about 13). The weights are random, so the decoder
never chooses ``<eos>`` and every output runs to ``--max-len`` tokens: each row times the same
amount of work. Tokens/s counts output tokens (the best hypothesis per source); a beam of 5
computes 5x as many decoder steps. Rows are timed interleaved (repeat r runs every row before
repeat r+1) and we report medians. The load average is recorded: on a CPU shared with other
jobs, torch's intra-op threads wait on each other at every small op, so compare rows of one run.
Results go to ``benchmarks/results/decode_speed.json`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deeprnn._persist import atomic_write_text  # noqa: E402
from deeprnn.seq2seq import Seq2Seq  # noqa: E402

PAD, UNK, GO, EOS = 0, 1, 2, 3
MODEL = dict(
    src_vocab_size=8000,
    tgt_vocab_size=8000,
    go_id=GO,
    eos_id=EOS,
    pad_id=PAD,
    embedding_size=256,
    hidden_size=512,
    encoder_hidden_size=256,
    encoder_layers=2,
    decoder_layers=2,
    cell="gru",
    bidirectional=True,
    attention="bahdanau",
    input_feeding=True,
)


def sources(batch: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(10, 21, (batch,), generator=gen)
    src = torch.randint(4, MODEL["src_vocab_size"], (batch, int(lengths.max())), generator=gen)
    return src.masked_fill(torch.arange(src.shape[1])[None] >= lengths[:, None], PAD)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument("--beam-widths", default="1,5")
    parser.add_argument("--max-len", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "decode_speed.json"))
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Seq2Seq(**MODEL).to(device).eval()
    params = sum(p.numel() for p in model.parameters())
    rows = [
        (batch, width)
        for batch in map(int, args.batch_sizes.split(","))
        for width in map(int, args.beam_widths.split(","))
    ]
    srcs = {batch: sources(batch, seed=batch).to(device) for batch, _ in rows}

    def run(batch: int, width: int):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model.generate(srcs[batch], beam_width=width, max_len=args.max_len)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, int(out.lengths.sum())

    for row in rows:  # warm-up
        run(*row)
    times: dict[tuple[int, int], list[float]] = {row: [] for row in rows}
    tokens: dict[tuple[int, int], int] = {}
    load_before = os.getloadavg()[0]
    for _ in range(repeats):
        for row in rows:
            seconds, tokens[row] = run(*row)
            times[row].append(seconds)
    results = []
    for batch, width in rows:
        seconds = statistics.median(times[(batch, width)])
        results.append(
            {
                "search": "greedy" if width == 1 else f"beam {width}",
                "batch_size": batch,
                "max_len": args.max_len,
                "tokens": tokens[(batch, width)],
                "ms_per_batch": 1e3 * seconds,
                "ms_per_token_step": 1e3 * seconds / args.max_len,
                "tokens_per_s": tokens[(batch, width)] / seconds,
                "sentences_per_s": batch / seconds,
            }
        )
    report = {
        "benchmark": "decode_speed",
        "model": {**MODEL, "parameters": params},
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": repeats,
        "load_average": [load_before, os.getloadavg()[0]],
        "rows": results,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\nwrote {args.out}")
    return report


def markdown(report: dict) -> str:
    head = (
        f"Decoding, {report['model']['parameters'] / 1e6:.1f}M-parameter GRU seq2seq with "
        f"attention, {report['device']} ({report['threads']} thread{'s' if report['threads'] != 1 else ''}, torch {report['torch']}, "
        f"load average {report['load_average'][0]:.1f}), median of {report['repeats']}:\n\n"
    )
    lines = [
        "| search | batch | output tokens | ms / batch | ms / step | tokens/s | sentences/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['search']} | {r['batch_size']} | {r['tokens']} | {r['ms_per_batch']:.0f} | "
            f"{r['ms_per_token_step']:.1f} | {r['tokens_per_s']:,.0f} | {r['sentences_per_s']:.1f} |"
        )
    return head + "\n".join(lines)


if __name__ == "__main__":
    main()
