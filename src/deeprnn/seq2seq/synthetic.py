"""Built-in synthetic seq2seq tasks, and a small plain-torch trainer that solves them.

``SyntheticTask(kind)`` draws endless (source, target) batches:

* ``"reverse"``: ``3 1 4 1 5`` -> ``5 1 4 1 3``;
* ``"sort"``: ``3 1 4 1 5`` -> ``1 1 3 4 5``;
* ``"copy"``: the source itself;
* ``"dates"``: a date in one of eight human formats -> ISO 8601, character by character
  (``"wednesday, march 03, 2021"``, ``"3 mar 2021"``, ``"03.03.21"``, ... -> ``"2021-03-03"``).

Token ids: ``[PAD]`` 0, ``[UNK]`` 1, ``<go>`` 2, ``<eos>`` 3, then the symbols. Sources carry
no ``<eos>``; targets end with it; both are padded with 0 on the right.

>>> task = SyntheticTask("reverse", max_len=5)
>>> src, tgt = task.sample(2, generator=torch.Generator().manual_seed(0))
>>> [task.decode(s) for s in src] == [task.decode(t)[::-1] for t in tgt]
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time

import torch
from torch import Tensor

from deeprnn._validation import check_choice, check_positive_int
from deeprnn.seq2seq.model import Seq2Seq
from deeprnn.seq2seq.objectives import sequence_loss

SPECIALS = ("[PAD]", "[UNK]", "<go>", "<eos>")
KINDS = ("reverse", "sort", "copy", "dates")
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DATE_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz ,./-"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


DATE_FORMATS = (
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day:02d}, {d.year}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{DAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day:02d}, {d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    lambda d: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.year}/{d.month}/{d.day}",
)


class SyntheticTask:
    """An endless supply of (source, target) pairs for one task.

    Args:
        kind: ``"reverse"``, ``"sort"``, ``"copy"`` or ``"dates"``.
        min_len, max_len: source lengths (digit tasks), drawn uniformly.
        num_symbols: the alphabet of the digit tasks (10: the digits).
    """

    pad_id, unk_id, go_id, eos_id = 0, 1, 2, 3

    def __init__(
        self, kind: str = "reverse", *, min_len: int = 1, max_len: int = 10, num_symbols: int = 10
    ):
        self.kind = check_choice("kind", kind, KINDS)
        self.min_len = check_positive_int("min_len", min_len)
        self.max_len = check_positive_int("max_len", max_len)
        if min_len > max_len:
            raise ValueError(f"min_len must be <= max_len, got {min_len} > {max_len}")
        self.num_symbols = check_positive_int("num_symbols", num_symbols)
        symbols = list(DATE_CHARS) if kind == "dates" else [str(i) for i in range(num_symbols)]
        self.tokens = [*SPECIALS, *symbols]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.vocab_size = len(self.tokens)

    def encode(self, text: str | list[str]) -> list[int]:
        pieces = (
            list(text)
            if self.kind == "dates"
            else (text.split() if isinstance(text, str) else text)
        )
        return [self.index.get(p, self.unk_id) for p in pieces]

    def decode(self, ids) -> str:
        """Ids -> text, stopping at ``<eos>`` and skipping padding."""
        out = []
        for i in ids.tolist() if isinstance(ids, Tensor) else ids:
            if i == self.eos_id:
                break
            if i != self.pad_id:
                out.append(self.tokens[i])
        return ("" if self.kind == "dates" else " ").join(out)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` pairs: ``src`` (n, S) and ``tgt`` (n, T) (ending in ``<eos>``), right-padded."""
        check_positive_int("n", n)
        pairs = self._dates(n, generator) if self.kind == "dates" else self._digits(n, generator)
        return _pad([s for s, _ in pairs]), _pad([[*t, self.eos_id] for _, t in pairs])

    def _digits(self, n: int, generator) -> list[tuple[list[int], list[int]]]:
        lengths = torch.randint(self.min_len, self.max_len + 1, (n,), generator=generator)
        symbols = torch.randint(4, 4 + self.num_symbols, (n, self.max_len), generator=generator)
        pairs = []
        for row, length in zip(symbols.tolist(), lengths.tolist()):
            src = row[:length]
            tgt = (
                src[::-1] if self.kind == "reverse" else sorted(src) if self.kind == "sort" else src
            )
            pairs.append((src, tgt))
        return pairs

    def _dates(self, n: int, generator) -> list[tuple[list[int], list[int]]]:
        start = dt.date(1950, 1, 1).toordinal()
        days = torch.randint(0, 36524, (n,), generator=generator).tolist()  # 1950 .. 2049
        fmts = torch.randint(0, len(DATE_FORMATS), (n,), generator=generator).tolist()
        pairs = []
        for day, fmt in zip(days, fmts):
            date = dt.date.fromordinal(start + day)
            pairs.append((self.encode(DATE_FORMATS[fmt](date)), self.encode(date.isoformat())))
        return pairs


def _pad(rows: list[list[int]], pad_id: int = 0) -> Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def exact_match(pred: Tensor, tgt: Tensor, pad_id: int = 0) -> float:
    """Fraction of rows where ``pred`` equals ``tgt`` up to and including ``<eos>``.

    Both (N, ·) with ``pad_id`` after ``<eos>``; widths may differ.
    """
    width = max(pred.shape[1], tgt.shape[1])
    pred = torch.nn.functional.pad(pred, (0, width - pred.shape[1]), value=pad_id)
    tgt = torch.nn.functional.pad(tgt, (0, width - tgt.shape[1]), value=pad_id)
    return float((pred == tgt).all(dim=1).float().mean())


def train_synthetic(
    task: SyntheticTask | str = "reverse",
    *,
    max_steps: int = 5000,
    time_budget: float | None = 120.0,
    target_accuracy: float = 0.99,
    batch_size: int = 64,
    lr: float = 3e-3,
    eval_every: int = 100,
    eval_size: int = 1000,
    seed: int = 0,
    num_threads: int | None = 1,
    model=None,
    **model_kwargs,
) -> dict:
    """Train a :class:`~deeprnn.seq2seq.Seq2Seq` on ``task`` with Adam, plain torch.

    Every ``eval_every`` steps, greedy exact match on ``eval_size`` held-out pairs; stops at
    ``target_accuracy``, ``max_steps`` or ``time_budget`` seconds. ``model_kwargs`` go to
    ``Seq2Seq`` (default: embedding 32, hidden 64, a bidirectional GRU encoder, Bahdanau
    attention). Returns ``{"model", "accuracy", "steps", "seconds", "history"}``, ``history``
    a list of ``(step, seconds, loss, accuracy)``. ``num_threads`` sets torch's intra-op
    threads for the run (restored afterwards; ``None`` keeps the current setting): 1 is as
    fast for these small models on an idle CPU, and ~10x faster on a CPU shared with other
    jobs, where threads wait on each other at every small op.
    """
    with _num_threads(num_threads):
        task = SyntheticTask(task) if isinstance(task, str) else task
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        eval_src, eval_tgt = task.sample(
            eval_size, generator=torch.Generator().manual_seed(seed + 1)
        )
        if model is None:
            kwargs = {"embedding_size": 32, "hidden_size": 64, **model_kwargs}
            model = Seq2Seq(
                task.vocab_size, go_id=task.go_id, eos_id=task.eos_id, pad_id=task.pad_id, **kwargs
            )
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        history, accuracy, step = [], 0.0, 0
        start = time.perf_counter()
        while step < max_steps:
            model.train()
            src, tgt = task.sample(batch_size, generator=gen)
            loss = sequence_loss(model(src, tgt).logits, tgt, task.pad_id)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            elapsed = time.perf_counter() - start
            out_of_time = time_budget is not None and elapsed > time_budget
            if step % eval_every == 0 or out_of_time or step == max_steps:
                model.eval()
                pred = model.generate(eval_src, max_len=eval_tgt.shape[1] + 2).tokens
                accuracy = exact_match(pred, eval_tgt, task.pad_id)
                history.append((step, time.perf_counter() - start, loss.item(), accuracy))
                if accuracy >= target_accuracy or out_of_time:
                    break
        model.eval()
        return {
            "model": model,
            "accuracy": accuracy,
            "steps": step,
            "seconds": time.perf_counter() - start,
            "history": history,
        }


@contextlib.contextmanager
def _num_threads(n: int | None):
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(check_positive_int("num_threads", n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
