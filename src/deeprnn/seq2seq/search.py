r"""Greedy and batched beam search over any step function, vectorised over the batch.

A step function maps the previous tokens to next-token logits:
``step(tokens (B,), state, memory) -> (logits (B, V), state, weights (B, S) or None)``, with
``state`` and ``memory`` nested tuples of tensors whose first dimension is B (``None``
allowed). The searches expand the memory once for the beam and reorder the state by beam
parent at every step; the memory is never reordered (beams of one source share it).

Scores are log-probabilities :math:`\log p(y \mid x) = \sum_t \log p(y_t \mid y_{<t}, x)`
divided by the GNMT length penalty (Wu et al. 2016)

.. math::
    \mathrm{lp}(y) = \left(\frac{5 + |y|}{6}\right)^\alpha

with :math:`|y|` the number of generated tokens, ``<eos>`` included; :math:`\alpha = 0` (the
default) ranks by log-probability. Scores accumulate in ``dtype`` (float32 by default; the
models pass float64 for float64 weights).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from deeprnn._validation import check_positive_int
from deeprnn.seq2seq._common import tree_map


class Hypotheses(NamedTuple):
    """The best output per source.

    ``tokens`` (N, L) the generated ids (no ``<go>``; ``<eos>`` included when reached, then
    ``pad_id``); ``lengths`` (N,) tokens generated; ``log_probs`` (N,) their total
    log-probability; ``scores`` (N,) ``log_probs / lp(lengths)``; ``attention`` (N, L, S) the
    weights at each generated step (``None`` unless asked for and the model attends).
    """

    tokens: Tensor
    lengths: Tensor
    log_probs: Tensor
    scores: Tensor
    attention: Tensor | None = None


def length_penalty(lengths: Tensor | int, alpha: float) -> Tensor | float:
    r""":math:`((5 + |y|) / 6)^\alpha` (GNMT)."""
    if alpha == 0:
        return 1.0 if isinstance(lengths, int) else torch.ones_like(lengths, dtype=torch.float)
    return ((5.0 + lengths) / 6.0) ** alpha


def check_search_args(max_len, beam_width=1, alpha=0.0) -> None:
    check_positive_int("max_len", max_len)
    check_positive_int("beam_width", beam_width)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise ValueError(f"length_penalty must be a float >= 0, got {alpha!r}")


def greedy_search(
    step: Callable,
    state,
    memory,
    *,
    batch_size: int,
    go_id: int,
    eos_id: int,
    pad_id: int = 0,
    max_len: int,
    alpha: float = 0.0,
    return_attention: bool = False,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Hypotheses:
    """Pick the most likely token at every step; a row stops at ``<eos>`` (then ``pad_id``),
    the loop when every row has stopped or after ``max_len`` tokens."""
    check_search_args(max_len, 1, alpha)
    tokens = torch.full((batch_size,), go_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
    log_probs = torch.zeros(batch_size, dtype=dtype, device=device)
    out, weights = [], []
    for _ in range(max_len):
        logits, state, w = step(tokens, state, memory)
        logp = torch.log_softmax(logits.to(dtype), dim=-1)  # (N, V)
        best = logp.argmax(dim=-1)  # (N,)
        gained = logp.gather(1, best[:, None]).squeeze(1)
        log_probs = log_probs + gained.masked_fill(finished, 0.0)
        lengths = lengths + (~finished).long()
        tokens = best.masked_fill(finished, pad_id)
        out.append(tokens)
        if return_attention and w is not None:
            weights.append(w.masked_fill(finished[:, None], 0.0))
        finished = finished | (tokens == eos_id)
        if bool(finished.all()):
            break
    scores = log_probs / length_penalty(lengths, alpha)
    attention = torch.stack(weights, dim=1) if weights else None
    return Hypotheses(torch.stack(out, dim=1), lengths, log_probs, scores, attention)


def beam_search(
    step: Callable,
    state,
    memory,
    *,
    batch_size: int,
    beam_width: int,
    go_id: int,
    eos_id: int,
    pad_id: int = 0,
    max_len: int,
    alpha: float = 0.0,
    return_attention: bool = False,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Hypotheses:
    r"""Batched beam search: K live hypotheses per source, all sources in one (N·K) batch.

    At each step the 2K best extensions of the K live beams are taken (at most K of them end
    in ``<eos>``, so at least K continue): those ending in ``<eos>`` enter the source's K best
    finished hypotheses (ranked by the length-penalised score), the best K others become the
    live beams. A source is done when it holds K finished hypotheses and none of its live beams
    can still beat the worst: a live log-probability :math:`\ell \le 0` can only fall, so its
    best reachable score is :math:`\ell / \mathrm{lp}(\text{max\_len})`. Every source stops at
    ``max_len`` tokens; its unfinished live beams then compete as they are. The search ends
    when every source is done.

    ``beam_width=1`` is not greedy search: its live beam follows the greedy path, but every
    ``<eos>`` among the two best extensions also enters the finished list, and the best
    finished hypothesis wins. Its score is never below greedy's, and its tokens can differ
    (greedy ``a a a ...`` against a likelier ``a <eos>``). ``Seq2Seq.generate(beam_width=1)``
    runs :func:`greedy_search`.
    """
    check_search_args(max_len, beam_width, alpha)
    N, K = batch_size, beam_width
    state = tree_map(lambda t: t.repeat_interleave(K, dim=0), state)  # (N*K, ...)
    memory = tree_map(lambda t: t.repeat_interleave(K, dim=0), memory)
    rows = torch.arange(N, device=device)[:, None]  # (N, 1)
    tokens = torch.full((N * K,), go_id, dtype=torch.long, device=device)
    live = torch.full((N, K), float("-inf"), dtype=dtype, device=device)  # cumulative log-probs
    live[:, 0] = 0.0  # one live beam at the start: the others are copies of it
    history = torch.empty(N, K, 0, dtype=torch.long, device=device)  # (N, K, t)
    hist_w = None  # (N, K, t, S)
    fin_tokens = torch.full((N, K, max_len), pad_id, dtype=torch.long, device=device)
    fin_scores = torch.full((N, K), float("-inf"), dtype=dtype, device=device)  # penalised
    fin_logp = torch.zeros(N, K, dtype=dtype, device=device)
    fin_len = torch.zeros(N, K, dtype=torch.long, device=device)
    fin_w = None
    done = torch.zeros(N, dtype=torch.bool, device=device)
    best_bound = length_penalty(max_len, alpha)
    for t in range(max_len):
        logits, state, w = step(tokens, state, memory)
        vocab = logits.shape[-1]
        logp = torch.log_softmax(logits.to(dtype), dim=-1).view(N, K, vocab)
        cand = (live[:, :, None] + logp).view(N, K * vocab)
        top, index = cand.topk(2 * K, dim=1)  # (N, 2K), best first
        parent, token = index // vocab, index % vocab
        is_eos = token == eos_id
        seqs = torch.cat([history[rows, parent], token[..., None]], dim=2)  # (N, 2K, t+1)
        cw = None
        if return_attention and w is not None:
            w = w.view(N, K, 1, -1)
            hist_w = w if hist_w is None else torch.cat([hist_w, w], dim=2)  # (N, K, t+1, S)
            cw = hist_w[rows, parent]  # (N, 2K, t+1, S)
            if fin_w is None:
                fin_w = w.new_zeros(N, K, max_len, w.shape[-1])
        # finished candidates join the K best finished hypotheses of their source
        new_fin = torch.where(
            is_eos & ~done[:, None], top / length_penalty(t + 1, alpha), -torch.inf
        )
        if bool(new_fin.gt(float("-inf")).any()):
            fin = _merge_finished(
                (fin_scores, fin_logp, fin_len, fin_tokens, fin_w),
                (new_fin, top, t + 1, seqs, cw),
                K,
                pad_id,
            )
            fin_scores, fin_logp, fin_len, fin_tokens, fin_w = fin
        # the best K continuing candidates are the new live beams
        order = torch.where(
            is_eos, K * 2 + torch.arange(2 * K, device=device), torch.arange(2 * K, device=device)
        )
        keep = order.topk(K, dim=1, largest=False).indices  # (N, K), best first
        live = top.gather(1, keep)
        parent = parent.gather(1, keep)
        tokens = token.gather(1, keep).view(N * K)
        history = seqs.gather(1, keep[..., None].expand(-1, -1, t + 1))
        if cw is not None:
            hist_w = cw[rows, keep]
        flat_parent = (rows * K + parent).view(N * K)
        state = tree_map(lambda s, i=flat_parent: s.index_select(0, i), state)
        # done: K finished and no live beam can beat the worst of them
        bound = live.amax(dim=1) / best_bound
        done = done | (fin_scores.amin(dim=1) >= bound)
        if bool(done.all()):
            break
    else:  # max_len reached: unfinished live beams compete as they are
        open_scores = torch.where(done[:, None], -torch.inf, live / length_penalty(max_len, alpha))
        fin_scores, fin_logp, fin_len, fin_tokens, fin_w = _merge_finished(
            (fin_scores, fin_logp, fin_len, fin_tokens, fin_w),
            (open_scores, live, max_len, history, hist_w),
            K,
            pad_id,
        )
    best = fin_scores.argmax(dim=1)  # (N,)
    lengths = fin_len[rows[:, 0], best]
    steps = max(int(lengths.max()), 1)
    attention = None if fin_w is None else fin_w[rows[:, 0], best, :steps]
    return Hypotheses(
        fin_tokens[rows[:, 0], best, :steps],
        lengths,
        fin_logp[rows[:, 0], best],
        fin_scores[rows[:, 0], best],
        attention,
    )


def _merge_finished(store, new, K: int, pad_id: int):
    """Keep the K best of the stored and the new hypotheses, per source."""
    scores, logp, length, tokens, weights = store
    new_scores, new_logp, new_len, new_tokens, new_w = new
    N, _, max_len = tokens.shape
    pad = max_len - new_tokens.shape[2]
    new_tokens = torch.nn.functional.pad(new_tokens, (0, pad), value=pad_id)  # (N, M, max_len)
    all_scores = torch.cat([scores, new_scores], dim=1)  # (N, K + M)
    top = all_scores.topk(K, dim=1).indices  # (N, K)
    rows = torch.arange(N, device=tokens.device)[:, None]
    new_len = torch.full_like(new_logp, new_len, dtype=torch.long)
    merged = (
        all_scores.gather(1, top),
        torch.cat([logp, new_logp], dim=1).gather(1, top),
        torch.cat([length, new_len], dim=1).gather(1, top),
        torch.cat([tokens, new_tokens], dim=1)[rows, top],
        None,
    )
    if weights is not None and new_w is not None:
        new_w = torch.nn.functional.pad(new_w, (0, 0, 0, pad))  # (N, M, max_len, S)
        merged = (*merged[:4], torch.cat([weights, new_w], dim=1)[rows, top])
    return merged
