"""Data-path speed: reading and tokenising IMDB, reading PTB, and what bucketing saves.

    python benchmarks/data_speed.py                  # uses ../shared/data, 3 repeats
    python benchmarks/data_speed.py --data DIR --repeats 5

Times are medians over ``--repeats`` runs (BPE training runs once). The word tokenizer is
deeprnn's regular-expression ``WordTokenizer(html=True)`` in one Python thread; BPE is a
byte-level BPE trained on the 25,000 training reviews with Hugging Face ``tokenizers`` and run
with ``encode_batch`` (Rust, all cores). The padding rows compare shuffled batches of 64 IMDB
training reviews (lengths in word tokens) with ``BucketBatchSampler`` batches.
Results go to ``benchmarks/results/data_speed.json`` (written atomically); the markdown table
is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import tokenizers  # noqa: E402

from deeprnn.data import (  # noqa: E402
    Vocab,
    WordTokenizer,
    pad_sequences,
    padding_report,
    read_corpus,
    read_imdb,
    train_bpe,
)
from deeprnn.data._io import atomic_write_json  # noqa: E402


def timed(fn, repeats: int):
    """(median seconds, last result) of ``repeats`` calls."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(data: Path, repeats: int) -> dict:
    rows = []

    def add(step: str, seconds: float, items: int, unit: str, note: str = ""):
        rows.append(
            {
                "step": step,
                "seconds": seconds,
                "items": items,
                "unit": unit,
                "per_second": items / seconds if seconds else float("inf"),
                "note": note,
            }
        )

    tarball = data / "imdb" / "aclImdb_v1.tar.gz"
    sec, imdb = timed(lambda: read_imdb(tarball, "train"), repeats)
    texts = imdb.texts
    n_chars = sum(map(len, texts))
    add(
        "read IMDB train from the .tar.gz",
        sec,
        len(texts),
        "reviews",
        f"{n_chars / 1e6:.1f} M chars",
    )

    word = WordTokenizer(html=True)
    sec, word_tokens = timed(lambda: word.tokenize_batch(texts), repeats)
    n_words = sum(map(len, word_tokens))
    add("word-tokenise 25k reviews", sec, n_words, "tokens", "WordTokenizer(html=True), 1 thread")

    sec, vocab = timed(lambda: Vocab.build(word_tokens, max_size=20_000), repeats)
    add("build Vocab (max_size 20k)", sec, n_words, "tokens")
    sec, ids = timed(lambda: [vocab.encode(t) for t in word_tokens], repeats)
    add("encode with Vocab", sec, n_words, "tokens")
    sec, _ = timed(lambda: pad_sequences(ids, maxlen=400), repeats)
    add("pad_sequences (maxlen 400)", sec, len(ids), "reviews")

    t0 = time.perf_counter()
    bpe = train_bpe(texts, vocab_size=16_000, min_frequency=2)
    add("train byte-level BPE (16k)", time.perf_counter() - t0, n_chars, "chars", "tokenizers")
    sec, pieces = timed(lambda: bpe.encode_batch(texts), repeats)
    n_pieces = sum(map(len, pieces))
    add(
        "BPE-tokenise 25k reviews",
        sec,
        n_pieces,
        "tokens",
        f"encode_batch on {torch.get_num_threads()} threads",
    )

    for split in ("train", "valid", "test"):
        path = data / "ptb" / f"ptb.{split}.txt"
        sec, corpus = timed(lambda path=path: read_corpus(path), repeats)
        add(f"read PTB {split}", sec, len(corpus), "tokens", "words + <eos>")

    lengths = [len(t) for t in word_tokens]
    report = padding_report(lengths, batch_size=64, seed=0)
    return {
        "rows": rows,
        "padding": {
            "batch_size": report.batch_size,
            "random": report.random,
            "bucketed": report.bucketed,
            "saved": report.saved,
            "speedup": report.speedup,
            "mean_length": statistics.mean(lengths),
            "max_length": max(lengths),
        },
    }


def markdown(result: dict, meta: dict) -> str:
    lines = [
        f"Data paths on {meta['machine']}, {meta['threads']} threads, torch {meta['torch']}, "
        f"tokenizers {meta['tokenizers']} (median of {meta['repeats']}).",
        "",
        "| step | time (s) | items | throughput | note |",
        "|---|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['step']} | {r['seconds']:.2f} | {r['items']:,} {r['unit']} | "
            f"{r['per_second'] / 1e3:,.0f} k {r['unit']}/s | {r['note']} |"
        )
    p = result["padding"]
    lines += [
        "",
        f"IMDB train, batch {p['batch_size']}, lengths in word tokens (mean {p['mean_length']:.0f},"
        f" max {p['max_length']:,}), no truncation:",
        "",
        "| batching | padding fraction | padded cells (relative) |",
        "|---|---:|---:|",
        f"| shuffled | {p['random']:.1%} | {p['speedup']:.2f}x |",
        f"| BucketBatchSampler | {p['bucketed']:.1%} | 1.00x |",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    a = ap.parse_args(argv)
    if not (a.data / "imdb" / "aclImdb_v1.tar.gz").is_file():
        print(f"IMDB tarball not found under {a.data} (pass --data)", file=sys.stderr)
        return 2
    meta = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.system()}",
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "repeats": a.repeats,
    }
    result = run(a.data, a.repeats)
    table = markdown(result, meta)
    print(table)
    atomic_write_json(a.out / "data_speed.json", {"meta": meta, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
