"""Count-based language models for the lm task's baselines: an add-one unigram and an
interpolated Kneser-Ney n-gram (Chen & Goodman 1998, one discount per order, ``D = n1 / (n1 +
2 n2)``), over the token ids the network reads, scored on exactly the tokens it predicts.

nltk's ``nltk.lm`` was the library to use; it is not a dependency here, and its
``KneserNeyInterpolated`` scores an unseen context as 0 probability (infinite perplexity) and
takes minutes on a million tokens, so the n-gram model is these few counts instead.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

START = -1  # the context before a sequence's first token


def scored_tokens(dm, split: str) -> list[list[int]]:
    """The token sequences of ``split`` as the lm task's loaders present them; the model
    predicts every token of a sequence but its first, from the tokens before it in the same
    sequence. ``stream`` batching: the split's documents joined and cut into the data module's
    ``batch_size`` rows (the tail that fills no row is dropped, as the loader drops it);
    ``documents``: each document's first ``max_length + 1`` tokens. ``<bos>`` targets are left
    out by the caller's ``bos`` (the loader ignores them)."""
    if split == "test" and not dm.splits.get("test"):
        split = "val"
    docs = dm.splits.get(split) or []
    if dm.mode != "stream":
        n = dm.config.max_length + 1
        return [list(d[:n]) for d in docs if len(d) > 1]
    ids = np.fromiter((i for d in docs for i in d), dtype=np.int64)
    rows = max(1, int(dm.batch_size))
    per = len(ids) // rows
    if per < 2:
        return [ids.tolist()] if len(ids) > 1 else []
    return [row.tolist() for row in ids[: rows * per].reshape(rows, per)]


def _targets(seqs: list[list[int]], skip: int | None):
    """``(context2, context1, token)`` of every predicted token (``skip``: a token id never
    predicted, ``<bos>``)."""
    for s in seqs:
        padded = [START, START, *s]
        for i in range(3, len(padded)):
            if padded[i] != skip:
                yield padded[i - 2], padded[i - 1], padded[i]


class Unigram:
    """Add-one unigram over ``vocab_size`` ids: ``p(w) = (c(w) + 1) / (N + V)`` with ``c`` the
    training tokens' counts (every token of ``train``)."""

    def __init__(self, train: list[list[int]], vocab_size: int):
        counts = Counter(i for s in train for i in s)
        self.total, self.vocab = sum(counts.values()), vocab_size
        self.counts = counts

    def prob(self, w: int) -> float:
        return (self.counts.get(w, 0) + 1) / (self.total + self.vocab)

    def nats(self, seqs: list[list[int]], skip: int | None = None) -> float:
        """Mean negative log-likelihood (nats) of the predicted tokens of ``seqs``."""
        logs = [math.log(self.prob(w)) for _, _, w in _targets(seqs, skip)]
        if not logs:
            raise ValueError("no token to score: every sequence has fewer than 2 tokens")
        return -sum(logs) / len(logs)


def _discount(counts) -> float:
    """Ney's absolute discount ``n1 / (n1 + 2 n2)`` of a table of counts (0.75 without data)."""
    values = Counter(counts)
    n1, n2 = values.get(1, 0), values.get(2, 0)
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75


class KneserNey:
    """Interpolated Kneser-Ney trigram over ``vocab_size`` ids, trained on the predicted tokens
    of ``train`` (contexts padded with a start symbol); the lowest order interpolates with the
    uniform distribution, so no token has probability 0."""

    def __init__(self, train: list[list[int]], vocab_size: int, order: int = 3):
        if order != 3:
            raise ValueError(f"order must be 3 (a trigram model), got {order!r}")
        self.vocab = vocab_size
        tri = Counter(_targets(train, None))
        # highest order: counts of (u, v) -> w
        self.c3 = tri
        self.c3_ctx: Counter = Counter()
        self.n3_ctx: Counter = Counter()  # distinct w after (u, v)
        # continuation counts: distinct u before (v, w), and distinct v before w
        cont2: Counter = Counter()
        for (u, v, w), _ in tri.items():
            self.c3_ctx[u, v] += tri[u, v, w]
            self.n3_ctx[u, v] += 1
            cont2[v, w] += 1
        self.c2 = cont2
        self.c2_ctx: Counter = Counter()
        self.n2_ctx: Counter = Counter()
        cont1: Counter = Counter()
        for (v, w), n in cont2.items():
            self.c2_ctx[v] += n
            self.n2_ctx[v] += 1
            cont1[w] += 1
        self.c1, self.c1_total, self.n1_types = cont1, sum(cont1.values()), len(cont1)
        self.d3 = _discount(tri.values())
        self.d2 = _discount(cont2.values())
        self.d1 = _discount(cont1.values())
        self._p2: dict = defaultdict(dict)

    def _p1(self, w: int) -> float:
        d = self.d1
        lam = d * self.n1_types / self.c1_total
        return max(self.c1.get(w, 0) - d, 0) / self.c1_total + lam / self.vocab

    def _p2w(self, v: int, w: int) -> float:
        total = self.c2_ctx.get(v, 0)
        if not total:
            return self._p1(w)
        d = self.d2
        lam = d * self.n2_ctx[v] / total
        return max(self.c2.get((v, w), 0) - d, 0) / total + lam * self._p1(w)

    def prob(self, u: int, v: int, w: int) -> float:
        """``p(w | u v)``."""
        total = self.c3_ctx.get((u, v), 0)
        if not total:
            return self._p2w(v, w)
        d = self.d3
        lam = d * self.n3_ctx[u, v] / total
        return max(self.c3.get((u, v, w), 0) - d, 0) / total + lam * self._p2w(v, w)

    def nats(self, seqs: list[list[int]], skip: int | None = None) -> float:
        """Mean negative log-likelihood (nats) of the predicted tokens of ``seqs``."""
        logs = [math.log(self.prob(u, v, w)) for u, v, w in _targets(seqs, skip)]
        if not logs:
            raise ValueError("no token to score: every sequence has fewer than 2 tokens")
        return -sum(logs) / len(logs)
