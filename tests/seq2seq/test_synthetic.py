"""The built-in synthetic tasks, and a short training run that must solve one."""

from __future__ import annotations

import datetime as dt

import pytest
import torch

from deeprnn.seq2seq.synthetic import SyntheticTask, exact_match, train_synthetic


@pytest.mark.parametrize("kind", ["reverse", "sort", "copy"])
def test_digit_tasks(kind):
    task = SyntheticTask(kind, min_len=2, max_len=7, num_symbols=5)
    src, tgt = task.sample(50, generator=torch.Generator().manual_seed(0))
    assert task.vocab_size == 9 and src.dtype == tgt.dtype == torch.long
    lengths = (src != 0).sum(1)
    assert lengths.min() >= 2 and lengths.max() <= 7
    assert torch.all((tgt != 0).sum(1) == lengths + 1)  # + <eos>
    for s, t in zip(src, tgt):
        a, b = task.decode(s).split(), task.decode(t).split()
        assert b == {"reverse": a[::-1], "sort": sorted(a), "copy": a}[kind]
        assert int(t[len(a)]) == task.eos_id
        assert task.encode(task.decode(s)) == s[s != 0].tolist()


def test_date_task_targets_are_iso_dates():
    task = SyntheticTask("dates")
    src, tgt = task.sample(200, generator=torch.Generator().manual_seed(0))
    seen = set()
    for s, t in zip(src, tgt):
        iso = task.decode(t)
        date = dt.date.fromisoformat(iso)
        assert 1950 <= date.year <= 2049
        text = task.decode(s)
        assert str(date.year % 100).zfill(2) in text
        seen.add(text.replace("0", "").replace(str(date.day), "")[:3])
    assert len(seen) > 8  # many formats
    assert task.unk_id not in src


def test_exact_match():
    tgt = torch.tensor([[4, 5, 3], [6, 3, 0]])
    assert exact_match(torch.tensor([[4, 5, 3, 0], [6, 3, 0, 0]]), tgt) == 1.0
    assert exact_match(torch.tensor([[4, 5, 3], [6, 4, 3]]), tgt) == 0.5
    assert exact_match(torch.tensor([[4, 5], [6, 3]]), tgt) == 0.5  # no <eos>: wrong


def test_training_solves_the_date_task_quickly():
    """The seq2seq demo, reduced: >= 90% exact match within 300 steps (seeded, so the outcome
    does not depend on the machine's speed); about 10 s on 2 idle CPU cores. The full run
    (99% exact match) is ``train_synthetic("dates")``."""
    result = train_synthetic(
        "dates",
        max_steps=300,
        time_budget=None,
        target_accuracy=0.95,
        eval_every=50,
        eval_size=300,
        num_threads=1,
    )
    assert result["accuracy"] >= 0.9, result["history"]
    assert result["steps"] <= 300


def test_training_restores_the_thread_count():
    before = torch.get_num_threads()
    result = train_synthetic("reverse", max_steps=1, eval_size=8, num_threads=2)
    assert result["steps"] == 1 and len(result["history"]) == 1
    assert torch.get_num_threads() == before
