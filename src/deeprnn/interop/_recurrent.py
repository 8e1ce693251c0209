"""Keras' recurrent and attention layers as deeprnn modules, with Keras' calling convention
(``[output, *states]`` lists, go_backwards outputs in scan order, query masks)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn.attention import AdditiveAttention, Attention
from deeprnn.layers import GRU, LSTM, SimpleRNN, attach_mask, get_mask
from deeprnn.states import LSTMState, RNNState

RNN_KINDS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}


@register
class KerasRecurrent(ConfigMixin, nn.Module):
    """A Keras ``LSTM`` / ``GRU`` / ``SimpleRNN`` (or ``Bidirectional`` of one) around the
    deeprnn layer ``self.rnn``, which runs with ``masked_output="carry"`` (Keras' masked steps
    repeat the previous output) and always returns its states.

    Keras' conventions kept here, on top of the deeprnn layer: with ``return_state`` the call
    returns ``[output, h, (c)]`` (``[output, *forward, *backward]`` when bidirectional); with
    ``go_backwards`` and ``return_sequences`` the outputs come in scan order, i.e. reversed
    (``self.rnn`` keeps them aligned with the input: Keras' output is ``rnn(x).flip(1)``).
    """

    mask_rule = "own"

    def __init__(
        self,
        kind: str,
        input_size: int,
        units: int,
        return_state: bool = False,
        options: dict[str, Any] | None = None,
    ):
        super().__init__()
        if kind not in RNN_KINDS:
            raise ValueError(f"kind must be one of {list(RNN_KINDS)}, got {kind!r}")
        self.kind, self.keras_return_state = kind, bool(return_state)
        self.options = dict(options or {})
        self.rnn = RNN_KINDS[kind](input_size, units, return_state=True, **self.options)

    @property
    def bidirectional(self) -> bool:
        return bool(self.options.get("bidirectional"))

    def _keras_states(self, initial_state) -> list | None:
        """Keras' flat ``[h, (c), ...]`` list -> one deeprnn state per direction."""
        if initial_state is None:
            return None
        if isinstance(initial_state, Tensor):
            initial_state = [initial_state]
        flat = list(initial_state)
        per = 2 if self.kind == "lstm" else 1
        if len(flat) != per * (2 if self.bidirectional else 1):
            raise ValueError(
                f"initial_state must hold {per * (2 if self.bidirectional else 1)} tensors for "
                f"this {self.kind}, got {len(flat)}"
            )
        build = LSTMState if per == 2 else RNNState
        return [build(*flat[i : i + per]) for i in range(0, len(flat), per)]

    def forward(self, x: Tensor, mask: Tensor | None = None, initial_state=None):
        out, states = self.rnn(x, mask=mask, initial_state=self._keras_states(initial_state))
        if isinstance(out, tuple):  # Bidirectional with merge_mode=None: [forward, backward]
            out = list(out)
        elif self.rnn.return_sequences and self.options.get("go_backwards"):
            # Keras: a backward scan's outputs in scan order, the input's mask passed on as is
            out = attach_mask(out.flip(1), get_mask(out))
        if not self.keras_return_state:
            return out
        head = out if isinstance(out, list) else [out]
        return [*head, *(t for s in states for t in s)]

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "input_size": self.rnn.input_size,
            "units": self.rnn.hidden_size,
            "return_state": self.keras_return_state,
            "options": self.options,
        }


@register
class KerasAttention(ConfigMixin, nn.Module):
    """Keras ``Attention`` / ``AdditiveAttention`` called as Keras does:
    ``layer(query, value, key=None, query_mask=None, value_mask=None)``; the output is zero
    where the query is masked, and ``(output, scores)`` with ``return_attention_scores``."""

    mask_rule = "attention"

    def __init__(self, kind: str, attention: dict[str, Any], return_scores: bool = False):
        super().__init__()
        if kind not in ("dot", "additive"):
            raise ValueError(f"kind must be 'dot' or 'additive', got {kind!r}")
        self.kind, self.return_scores = kind, bool(return_scores)
        self.attention_config = dict(attention)
        cls = Attention if kind == "dot" else AdditiveAttention
        self.attention = cls(**attention)

    def forward(self, query, value, key=None, query_mask=None, value_mask=None, return_scores=None):
        key = value if key is None else key
        context, weights = self.attention(query, key, value, mask=value_mask)
        if query_mask is not None:
            context = context * query_mask.to(context.dtype)[..., None]  # (N, T, V)
        scores = self.return_scores if return_scores is None else return_scores
        return (context, weights) if scores else context

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "attention": self.attention_config,
            "return_scores": self.return_scores,
        }


def keras_call(module: nn.Module, args: list, masks: list, kwargs: dict):
    """Run ``module`` on a node's inputs the way Keras calls that layer; returns
    ``(outputs list, output masks list)``."""
    rule = getattr(module, "mask_rule", "own")
    x, m = args[0], masks[0]
    if rule == "attention":
        q, v, *k = x
        out = module(q, v, k[0] if k else None, query_mask=m[0], value_mask=m[1],
                     return_scores=kwargs.get("return_attention_scores"))  # fmt: skip
        outs = list(out) if isinstance(out, tuple) else [out]
        return outs, [m[0]] + [None] * (len(outs) - 1)
    if rule == "merge":
        out = module(*x)
        given = [mm for mm in m if mm is not None]
        mask = None
        if given and out.dim() == 3 and (module.mode != "concatenate" or module.axis in (-1, 2)):
            mask = torch.stack(torch.broadcast_tensors(*given)).all(0)
        return [out], [mask]
    if isinstance(module, KerasRecurrent):
        out = module(x, mask=m, initial_state=kwargs.get("initial_state"))
        outs = out if isinstance(out, list) else [out]
        n_seq = 2 if module.options.get("merge_mode", "concat") is None else 1
        seq_mask = m if module.rnn.return_sequences else None
        return outs, [seq_mask] * n_seq + [None] * (len(outs) - n_seq)
    if rule == "consume":
        return [module(x, mask=m)], [None]
    if rule == "pass":
        return [module(x)], [m]
    if rule == "drop":
        return [module(x)], [None]
    from deeprnn.layers import Embedding

    if isinstance(module, Embedding):
        x = x.long()
    out = module(x)
    return [out], [get_mask(out)]
