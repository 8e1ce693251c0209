r"""What every attention module shares: the masked softmax, input checks, the call.

Symbols used in every docstring: N batch size, T query steps, S source (key) steps, Q query
features, K key features, V value features, A attention (hidden) size.

``attention(query, keys, values=None, mask=None) -> (context, weights)``:

* ``query``: (N, Q) for one decoder step or (N, T, Q) for many;
* ``keys``: (N, S, K); ``values``: (N, S, V), ``keys`` when omitted;
* ``mask``: (N, S) key padding mask, True (or 1) at real source positions; when omitted, the
  mask attached to ``keys`` by the deeprnn layer that produced them (see
  :mod:`deeprnn.layers.masking`);
* ``context``: (N, V) or (N, T, V), :math:`c = \sum_s a_s v_s`;
* ``weights``: (N, S) or (N, T, S), the attention distribution :math:`a`, for plotting.

Masked positions get exactly zero weight (scores filled with :math:`-\infty` before the
softmax); a row whose positions are all masked gets all-zero weights and a zero context, with
no NaN in the forward or the backward pass.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin
from deeprnn._validation import check_float_tensor, check_mask, check_probability
from deeprnn.layers.masking import get_mask, strip_mask


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    r"""Softmax over the last dimension with exact zeros where ``mask`` is False.

    .. math::
        a_s = \frac{m_s \exp(e_s)}{\sum_{s'} m_{s'} \exp(e_{s'})}, \qquad
        a = 0 \text{ when } \textstyle\sum_s m_s = 0

    Args:
        scores: (N, S) or (N, T, S).
        mask: (N, S) bool, True at real positions, or ``None`` (all real).
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if scores.dim() == 3:
        mask = mask[:, None, :]  # (N, 1, S)
    # an all-masked row would be softmax(-inf, ..., -inf) = NaN: unmask it, zero it afterwards
    keep = mask | ~mask.any(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
    return weights.masked_fill(~mask, 0.0)


class AttentionBase(ConfigMixin, nn.Module):
    """Base class: subclasses implement ``score`` and, when keys are projected, ``project_keys``.

    ``project_keys(keys)`` depends on the source only, so a decoder computes it once per source
    and passes it back as ``projected_keys`` at every step.
    """

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = check_probability("dropout", dropout)
        self.drop = nn.Dropout(self.dropout)

    #: the query and key feature sizes the module was built for (None: any)
    query_size: int | None = None
    key_size: int | None = None

    def project_keys(self, keys: Tensor) -> Tensor:
        """The source-only part of the score: (N, S, K) -> (N, S, A). Identity by default."""
        return keys

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:  # pragma: no cover
        """Unnormalised scores: query (N, T, Q), projected keys (N, S, A) -> (N, T, S)."""
        raise NotImplementedError

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        if mask is None:
            mask = get_mask(keys)  # flowing from the encoder's outputs, if any
        keys, values = strip_mask(keys), strip_mask(values)
        query, values, mask = self._check(query, keys, values, mask, projected_keys)
        single = query.dim() == 2
        q = query[:, None, :] if single else query  # (N, T, Q)
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        weights = masked_softmax(self.score(q, pk), mask)  # (N, T, S)
        used = self.drop(weights) if self.dropout and self.training else weights
        context = torch.bmm(used, values)  # (N, T, S) @ (N, S, V) -> (N, T, V)
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    # -- checks --------------------------------------------------------------------------------
    def _check(self, query, keys, values, mask, projected_keys):
        check_float_tensor("query", query, (2, 3))
        check_float_tensor("keys", keys, 3)
        values = keys if values is None else check_float_tensor("values", values, 3)
        batch, steps = keys.shape[:2]
        if query.shape[0] != batch:
            raise ValueError(
                f"query and keys must have the same batch size, got query {tuple(query.shape)} "
                f"and keys {tuple(keys.shape)}"
            )
        if values.shape[:2] != keys.shape[:2]:
            raise ValueError(
                f"values must have shape ({batch}, {steps}, V) like keys (N, S, K), got "
                f"{tuple(values.shape)}"
            )
        if self.query_size is not None and query.shape[-1] != self.query_size:
            raise ValueError(
                f"query must have {self.query_size} features (query_size), got shape "
                f"{tuple(query.shape)}"
            )
        if self.key_size is not None and keys.shape[-1] != self.key_size:
            raise ValueError(
                f"keys must have {self.key_size} features (key_size), got shape {tuple(keys.shape)}"
            )
        if projected_keys is not None and projected_keys.shape[:2] != keys.shape[:2]:
            raise ValueError(
                f"projected_keys must have shape ({batch}, {steps}, A), got "
                f"{tuple(projected_keys.shape)}"
            )
        if mask is not None:
            mask = check_mask(mask, batch, steps, keys.device)
        return query, values, mask

    def _base_config(self) -> dict[str, Any]:
        return {"dropout": self.dropout}
