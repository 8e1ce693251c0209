r"""Attention over a set of keys/values with a key padding mask; the weights are returned.

Every module is called as ``attention(query, keys, values=None, mask=None) -> (context,
weights)`` with ``query`` (N, Q) or (N, T, Q), ``keys`` (N, S, K), ``values`` (N, S, V) (the
keys when omitted) and ``mask`` (N, S), True at real positions. Masked positions get exactly
zero weight; all-masked rows get zero weights and a zero context.

* :class:`BahdanauAttention`: :math:`v^\top \tanh(W_1 h_s + W_2 q_t)`;
* :class:`LuongAttention`: ``dot`` :math:`q^\top h`, ``general`` :math:`q^\top W h`,
  ``concat`` :math:`v^\top \tanh(W [q; h])`;
* :class:`Attention`, :class:`AdditiveAttention`: Keras' layers.
"""

from deeprnn._validation import check_choice
from deeprnn.attention._base import AttentionBase, masked_softmax
from deeprnn.attention.keras import AdditiveAttention, Attention
from deeprnn.attention.scoring import BahdanauAttention, LuongAttention

#: names accepted by the decoders' ``attention`` argument
ATTENTIONS = ("bahdanau", "luong_dot", "luong_general", "luong_concat")


def make_attention(
    kind: str, query_size: int, key_size: int, attention_size: int | None = None
) -> AttentionBase:
    """Build an attention module by name (``bahdanau``, ``luong_dot``, ``luong_general``,
    ``luong_concat``) for a decoder state of ``query_size`` over memory of ``key_size``."""
    check_choice("attention", kind, ATTENTIONS)
    if kind == "bahdanau":
        return BahdanauAttention(query_size, key_size, attention_size)
    score = kind.split("_", 1)[1]
    return LuongAttention(query_size, key_size, score=score, attention_size=attention_size)


__all__ = [
    "ATTENTIONS",
    "AdditiveAttention",
    "Attention",
    "AttentionBase",
    "BahdanauAttention",
    "LuongAttention",
    "make_attention",
    "masked_softmax",
]
