r"""Keras-compatible ``Attention`` (Luong-style dot product) and ``AdditiveAttention``
(Bahdanau-style, no projections): the same parameters, initialisation and scores as
``keras.layers.Attention`` / ``keras.layers.AdditiveAttention`` (Keras 3).

Differences, all deliberate: the call is ``attention(query, keys, values=None, mask=None)``
(Keras: ``layer([query, value, key], mask=[query_mask, value_mask])``; ``keys`` default to
``values`` there and ``values`` to ``keys`` here, the same thing when only one is given);
masked positions get exactly zero weight (Keras subtracts 1e9); an all-masked row gets zero
weights and a zero context (Keras: uniform weights); no query mask or causal mask; the weights
are always returned.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn._validation import check_bool, check_choice, check_positive_int
from deeprnn.attention._base import AttentionBase

SCORE_MODES = ("dot", "concat")


@register
class Attention(AttentionBase):
    r"""Dot-product attention, ``keras.layers.Attention``.

    .. math::
        e_{ts} = \begin{cases}
            \gamma\, q_t^\top k_s & \texttt{score\_mode="dot"} \\
            w \sum_j \tanh\big(\gamma (q_{tj} + k_{sj})\big) & \texttt{score\_mode="concat"}
        \end{cases}
        \qquad a_t = \mathrm{softmax}_s(e_{ts}), \quad c_t = \textstyle\sum_s a_{ts} v_s

    :math:`\gamma` is the learned scalar ``scale`` (initialised to 1) with ``use_scale=True``,
    else 1; :math:`w` is the learned scalar ``concat_score_weight`` (initialised to 1, concat
    only). Query and keys need the same feature size.

    Args:
        use_scale: learn :math:`\gamma`.
        score_mode: ``"dot"`` or ``"concat"``.
        dropout: on the weights used for the context (training only).

    >>> attn = Attention(use_scale=True)
    >>> context, weights = attn(torch.randn(2, 3, 8), torch.randn(2, 5, 8), mask=torch.ones(2, 5))
    >>> context.shape, weights.shape
    (torch.Size([2, 3, 8]), torch.Size([2, 3, 5]))
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0):
        super().__init__(dropout)
        self.use_scale = check_bool("use_scale", use_scale)
        self.score_mode = check_choice("score_mode", score_mode, SCORE_MODES)
        self.scale = nn.Parameter(torch.ones(())) if use_scale else None
        self.concat_score_weight = nn.Parameter(torch.ones(())) if score_mode == "concat" else None

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        _same_size(query, projected_keys)
        if self.score_mode == "dot":
            scores = torch.bmm(query, projected_keys.transpose(1, 2))  # (N, T, S)
            return scores * self.scale if self.scale is not None else scores
        summed = query[:, :, None, :] + projected_keys[:, None, :, :]  # (N, T, S, D)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)  # (N, T, S)

    def get_config(self) -> dict[str, Any]:
        return {"use_scale": self.use_scale, "score_mode": self.score_mode, **self._base_config()}


@register
class AdditiveAttention(AttentionBase):
    r"""Additive attention without projections, ``keras.layers.AdditiveAttention``.

    .. math::
        e_{ts} = \sum_j \gamma_j \tanh(q_{tj} + k_{sj}), \qquad
        a_t = \mathrm{softmax}_s(e_{ts}), \quad c_t = \textstyle\sum_s a_{ts} v_s

    :math:`\gamma` (``scale``, shape (D,)) is learned with ``use_scale=True`` and initialised
    Glorot-uniform as in Keras (:math:`U(\pm\sqrt{3/D})`); else all ones. Query and keys need
    the same feature size D. Keras infers D when the layer is built; here it is ``size``,
    required with ``use_scale=True``. For the version with learned projections,
    :class:`~deeprnn.attention.BahdanauAttention`.

    Args:
        size: D, the query/key feature size (required with ``use_scale``).
        use_scale: learn :math:`\gamma`.
        dropout: on the weights used for the context (training only).

    >>> attn = AdditiveAttention(8)
    >>> context, weights = attn(torch.randn(2, 8), torch.randn(2, 5, 8))
    >>> context.shape, weights.shape
    (torch.Size([2, 8]), torch.Size([2, 5]))
    """

    def __init__(self, size: int | None = None, use_scale: bool = True, dropout: float = 0.0):
        super().__init__(dropout)
        self.use_scale = check_bool("use_scale", use_scale)
        if size is None and use_scale:
            raise ValueError("size (the query/key feature size) is required with use_scale=True")
        self.size = None if size is None else check_positive_int("size", size)
        self.query_size = self.key_size = self.size
        self.scale = nn.Parameter(torch.empty(size)) if use_scale else None
        if self.scale is not None:
            bound = math.sqrt(3.0 / size)
            nn.init.uniform_(self.scale, -bound, bound)

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        _same_size(query, projected_keys)
        hidden = torch.tanh(query[:, :, None, :] + projected_keys[:, None, :, :])  # (N, T, S, D)
        if self.scale is not None:
            return hidden @ self.scale  # (N, T, S)
        return hidden.sum(-1)

    def get_config(self) -> dict[str, Any]:
        return {"size": self.size, "use_scale": self.use_scale, **self._base_config()}


def _same_size(query: Tensor, keys: Tensor) -> None:
    if query.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"query and keys must have the same feature size, got query {query.shape[-1]} and "
            f"keys {keys.shape[-1]}"
        )
