r"""Bahdanau (additive) and Luong (dot / general / concat) attention with learned projections.

Both follow the calling convention of :mod:`deeprnn.attention._base`: ``attention(query, keys,
values=None, mask=None) -> (context, weights)`` with :math:`a = \mathrm{softmax}(e)` over the
real source positions and :math:`c = \sum_s a_s v_s`. They differ in the score :math:`e_s`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn._validation import check_bool, check_choice, check_positive_int
from deeprnn.attention._base import AttentionBase


@register
class BahdanauAttention(AttentionBase):
    r"""Additive attention (Bahdanau, Cho & Bengio 2015).

    .. math::
        e_{ts} = v^\top \tanh(W_1 h_s + W_2 q_t + b), \qquad
        a_t = \mathrm{softmax}_s(e_{ts}), \qquad c_t = \textstyle\sum_s a_{ts} h_s

    :math:`h_s` are the keys (the encoder annotations), :math:`q_t` the query (the decoder
    state). :math:`W_1 h_s` depends on the source only: ``project_keys`` computes it once per
    source, so a decoding step costs one (N, Q) x (Q, A) product plus the tanh over (N, S, A).

    Args:
        query_size: Q. key_size: K. attention_size: A (default Q).
        dropout: on the weights used for the context (training only; the returned weights are
            the undropped distribution).

    Parameters: ``key_proj.weight`` (A, K) = :math:`W_1`; ``query_proj.weight`` (A, Q) =
    :math:`W_2` and ``query_proj.bias`` = :math:`b`; ``v.weight`` (1, A).

    >>> attn = BahdanauAttention(query_size=16, key_size=32)
    >>> keys, mask = torch.randn(4, 7, 32), torch.arange(7) < torch.tensor([[7], [3], [1], [5]])
    >>> context, weights = attn(torch.randn(4, 16), keys, mask=mask)
    >>> context.shape, weights.shape, bool(weights[1, 3:].eq(0).all())
    (torch.Size([4, 32]), torch.Size([4, 7]), True)
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        attention_size: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__(dropout)
        self.query_size = check_positive_int("query_size", query_size)
        self.key_size = check_positive_int("key_size", key_size)
        self.attention_size = check_positive_int(
            "attention_size", query_size if attention_size is None else attention_size
        )
        self.key_proj = nn.Linear(key_size, self.attention_size, bias=False)
        self.query_proj = nn.Linear(query_size, self.attention_size)
        self.v = nn.Linear(self.attention_size, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.key_proj(keys)  # (N, S, K) -> (N, S, A)

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        q = self.query_proj(query)  # (N, T, A)
        hidden = torch.tanh(projected_keys[:, None, :, :] + q[:, :, None, :])  # (N, T, S, A)
        return self.v(hidden).squeeze(-1)  # (N, T, S)

    def get_config(self) -> dict[str, Any]:
        return {
            "query_size": self.query_size,
            "key_size": self.key_size,
            "attention_size": self.attention_size,
            **self._base_config(),
        }


LUONG_SCORES = ("dot", "general", "concat")


@register
class LuongAttention(AttentionBase):
    r"""Multiplicative and concat attention (Luong, Pham & Manning 2015).

    .. math::
        e_{ts} = \begin{cases}
            q_t^\top h_s & \texttt{dot} \\
            q_t^\top W_a h_s & \texttt{general} \\
            v_a^\top \tanh(W_a [q_t; h_s]) & \texttt{concat}
        \end{cases}

    then :math:`a_t = \mathrm{softmax}_s(e_{ts})`, :math:`c_t = \sum_s a_{ts} h_s`. ``scale=True``
    divides dot and general scores by :math:`\sqrt{K}` (Vaswani et al. 2017).
    ``project_keys`` precomputes :math:`W_a h_s` (general) or the key half of :math:`W_a` (concat)
    once per source.

    Args:
        query_size: Q. key_size: K (must equal Q for ``dot``).
        score: ``"dot"``, ``"general"`` or ``"concat"``.
        attention_size: A, the concat hidden size (default Q).
        scale: divide dot/general scores by :math:`\sqrt{K}`.
        dropout: on the weights used for the context (training only).

    Parameters: ``general``: ``weight`` (Q, K) = :math:`W_a`; ``concat``: ``weight`` (A, Q + K)
    = :math:`W_a` and ``v.weight`` (1, A).

    >>> attn = LuongAttention(16, 16, score="dot")
    >>> context, weights = attn(torch.randn(2, 5, 16), torch.randn(2, 9, 16))
    >>> context.shape, weights.shape
    (torch.Size([2, 5, 16]), torch.Size([2, 5, 9]))
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        score: str = "general",
        attention_size: int | None = None,
        scale: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__(dropout)
        self.query_size = check_positive_int("query_size", query_size)
        self.key_size = check_positive_int("key_size", key_size)
        self.score_name = check_choice("score", score, LUONG_SCORES)
        self.scale = check_bool("scale", scale)
        if score == "dot" and query_size != key_size:
            raise ValueError(
                f"score='dot' needs query_size == key_size, got {query_size} and {key_size}"
            )
        if attention_size is not None and score != "concat":
            raise ValueError(f"attention_size applies to score='concat' only, got score={score!r}")
        self.attention_size = (
            check_positive_int(
                "attention_size", query_size if attention_size is None else attention_size
            )
            if score == "concat"
            else None
        )
        if score == "general":
            self.weight = nn.Parameter(torch.empty(query_size, key_size))  # (Q, K)
            nn.init.xavier_uniform_(self.weight)
        elif score == "concat":
            self.weight = nn.Parameter(torch.empty(self.attention_size, query_size + key_size))
            nn.init.xavier_uniform_(self.weight)  # (A, Q + K)
            self.v = nn.Linear(self.attention_size, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        if self.score_name == "general":
            return F.linear(keys, self.weight)  # (N, S, K) -> (N, S, Q)
        if self.score_name == "concat":
            return F.linear(keys, self.weight[:, self.query_size :])  # (N, S, A)
        return keys

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        if self.score_name == "concat":
            q = F.linear(query, self.weight[:, : self.query_size])  # (N, T, A)
            hidden = torch.tanh(projected_keys[:, None, :, :] + q[:, :, None, :])  # (N, T, S, A)
            return self.v(hidden).squeeze(-1)  # (N, T, S)
        scores = torch.bmm(query, projected_keys.transpose(1, 2))  # (N, T, Q) @ (N, Q, S)
        return scores / math.sqrt(self.key_size) if self.scale else scores

    def get_config(self) -> dict[str, Any]:
        return {
            "query_size": self.query_size,
            "key_size": self.key_size,
            "score": self.score_name,
            "attention_size": self.attention_size,
            "scale": self.scale,
            **self._base_config(),
        }

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, score={self.score_name!r}"
