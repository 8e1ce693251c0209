r"""Encoders: token ids to a memory for attention plus the decoder's initial state
(:class:`Encoder`), and a sequence to one vector (:class:`SequenceToVector`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn._validation import (
    check_bool,
    check_choice,
    check_float_tensor,
    check_positive_int,
    check_probability,
)
from deeprnn.attention import BahdanauAttention
from deeprnn.layers import DeepRNN
from deeprnn.layers._sequence import lengths_to_mask
from deeprnn.seq2seq._common import Bridge, check_special_ids, check_token_ids

BRIDGES = ("linear", "copy", "none")


class EncoderOutput(NamedTuple):
    """``memory`` (N, S, F) aligned with the source as given; ``mask`` (N, S) True at real
    tokens; ``state``: the decoder's initial states (one per decoder layer), or ``None``."""

    memory: Tensor
    mask: Tensor
    state: tuple | None


def reverse_padded(x: Tensor, mask: Tensor) -> Tensor:
    """Reverse the real steps of each row in place of each other; padding stays put.

    ``x`` (N, S) or (N, S, F), ``mask`` (N, S). The map is an involution, so applying it to the
    outputs of a network run on the reversed source aligns them with the original source.
    """
    steps = mask.shape[1]
    order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)  # real positions first
    rank = mask.long().cumsum(1) - 1  # (N, S) rank of each real step among the real steps
    count = mask.sum(1, keepdim=True)
    source = order.gather(1, (count - 1 - rank).clamp(0, steps - 1))  # (N, S)
    index = torch.where(mask, source, torch.arange(steps, device=mask.device))
    if x.dim() == 3:
        index = index[..., None].expand(-1, -1, x.shape[-1])  # (N, S, F)
    return x.gather(1, index)


@register
class Encoder(ConfigMixin, nn.Module):
    r"""Embedding + :class:`~deeprnn.DeepRNN` over the source, and a bridge to the decoder.

    .. math::
        e_s = E x_s, \qquad (h_1, \dots, h_S), \mathcal{S} = \mathrm{DeepRNN}(e_{1:S}), \qquad
        s_0 = \mathrm{bridge}(\mathcal{S})

    The memory is :math:`h_{1:S}` (N, S, D·H): with ``bidirectional`` each :math:`h_s` is
    :math:`[\overrightarrow{h}_s; \overleftarrow{h}_s]`. Padding (``pad_id``) is masked, on
    either side. ``reverse_source=True`` feeds the real tokens of each row in reverse order
    (Sutskever, Vinyals & Le 2014) and un-reverses the memory, so attention weights stay aligned
    with the source as given.

    Bridges to a decoder of ``decoder_num_layers`` layers of ``decoder_hidden_size`` units:

    * ``"linear"``: :math:`s_0 = \tanh(W u + b)` per decoder layer, :math:`u` every final
      state of the encoder concatenated (:class:`~deeprnn.seq2seq.Bridge`);
    * ``"copy"``: encoder layer :math:`l`'s final state (directions concatenated) becomes
      decoder layer :math:`l`'s — sizes and layer counts must agree (Sutskever et al.);
    * ``"none"``: the decoder starts from zeros (``state`` is ``None``).

    Args:
        vocab_size: V. embedding_size: E. hidden_size: H per direction. num_layers: L.
        cell: any :class:`~deeprnn.DeepRNN` cell. bidirectional: every layer.
        dropout: on the embeddings and between layers.
        pad_id: the padding id (its embedding is zero and it is masked).
        decoder_hidden_size, decoder_num_layers, decoder_cell: the decoder the bridge feeds
            (default: the encoder's H, L and cell).

    >>> enc = Encoder(100, embedding_size=16, hidden_size=32, decoder_hidden_size=24)
    >>> out = enc(torch.tensor([[5, 6, 7, 2], [8, 2, 0, 0]]))
    >>> out.memory.shape, out.state[0].h.shape
    (torch.Size([2, 4, 64]), torch.Size([2, 24]))
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int = 256,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "gru",
        bidirectional: bool = True,
        dropout: float = 0.0,
        reverse_source: bool = False,
        pad_id: int = 0,
        bridge: str = "linear",
        decoder_hidden_size: int | None = None,
        decoder_num_layers: int | None = None,
        decoder_cell: str | None = None,
    ):
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.embedding_size = check_positive_int("embedding_size", embedding_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.dropout = check_probability("dropout", dropout)
        self.reverse_source = check_bool("reverse_source", reverse_source)
        check_special_ids(vocab_size, pad_id=pad_id)
        self.pad_id = pad_id
        self.bridge_mode = check_choice("bridge", bridge, BRIDGES)
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        self.drop = nn.Dropout(self.dropout)
        self.rnn = DeepRNN(
            embedding_size,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.cell = cell
        directions = 2 if bidirectional else 1
        self.output_size = directions * hidden_size
        self.decoder_hidden_size = check_positive_int(
            "decoder_hidden_size",
            hidden_size if decoder_hidden_size is None else decoder_hidden_size,
        )
        self.decoder_num_layers = check_positive_int(
            "decoder_num_layers", num_layers if decoder_num_layers is None else decoder_num_layers
        )
        self.decoder_cell = cell if decoder_cell is None else decoder_cell
        self.bridge = None
        if bridge == "linear":
            size = num_layers * directions * hidden_size
            self.bridge = Bridge(
                size, self.decoder_num_layers, self.decoder_hidden_size, self.decoder_cell
            )
        elif bridge == "copy":
            self._check_copy(directions)

    def _check_copy(self, directions: int) -> None:
        if (self.decoder_num_layers, self.decoder_hidden_size) != (
            self.num_layers,
            directions * self.hidden_size,
        ):
            raise ValueError(
                "bridge='copy' needs decoder_num_layers == num_layers and decoder_hidden_size == "
                f"{directions} * hidden_size = {directions * self.hidden_size}, got "
                f"decoder_num_layers={self.decoder_num_layers}, "
                f"decoder_hidden_size={self.decoder_hidden_size}"
            )
        if (self.cell == "lstm") != (self.decoder_cell == "lstm"):
            raise ValueError(
                f"bridge='copy' needs both or neither cell to be 'lstm', got cell={self.cell!r} "
                f"and decoder_cell={self.decoder_cell!r}"
            )

    def forward(self, src: Tensor) -> EncoderOutput:
        """``src`` (N, S) token ids, padded with ``pad_id`` on either side."""
        src = check_token_ids("src", src, self.vocab_size, pad_id=self.pad_id)
        mask = src != self.pad_id  # (N, S)
        if self.reverse_source:
            src = reverse_padded(src, mask)
        memory, states = self.rnn(self.drop(self.embedding(src)), mask=mask)  # (N, S, D*H)
        if self.reverse_source:
            memory = reverse_padded(memory, mask)
        return EncoderOutput(memory, mask, self._bridge(states))

    def _bridge(self, states) -> tuple | None:
        if self.bridge_mode == "none":
            return None
        lstm = self.cell == "lstm"
        if self.bridge_mode == "copy":
            layers = [states.layer(i) for i in range(self.num_layers)]
            return tuple(
                type(per[0])(*(torch.cat(ts, dim=-1) for ts in zip(*per))) for per in layers
            )
        u = torch.cat([s.h for s in states], dim=-1)  # (N, L*D*H)
        u_c = torch.cat([s.c for s in states], dim=-1) if lstm else None
        return self.bridge(u, u_c)

    def get_config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "embedding_size": self.embedding_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "reverse_source": self.reverse_source,
            "pad_id": self.pad_id,
            "bridge": self.bridge_mode,
            "decoder_hidden_size": self.decoder_hidden_size,
            "decoder_num_layers": self.decoder_num_layers,
            "decoder_cell": self.decoder_cell,
        }


POOLINGS = ("last", "mean", "max", "attention")


@register
class SequenceToVector(ConfigMixin, nn.Module):
    r"""A :class:`~deeprnn.DeepRNN` over a sequence, pooled to one vector per row.

    .. math::
        h_{1:T} = \mathrm{DeepRNN}(x_{1:T}), \qquad
        u = \begin{cases}
            [\overrightarrow{h}_{T_n}; \overleftarrow{h}_1] & \texttt{last} \\
            \frac{1}{T_n} \sum_{t \le T_n} h_t & \texttt{mean} \\
            \max_{t \le T_n} h_t & \texttt{max} \\
            \sum_t a_t h_t,\ a = \mathrm{softmax}_t(v^\top \tanh(W h_t + b)) & \texttt{attention}
        \end{cases}

    over each row's real steps only (attention pooling: Yang et al. 2016, a learned query). An
    empty row gives a zero vector.

    Args:
        input_size: I, the feature size — or, with ``vocab_size``, the embedding size E.
        hidden_size, num_layers, cell, bidirectional, dropout: the stack.
        vocab_size: take (N, T) token ids (padding ``pad_id`` masked) instead of features.
        pooling: ``"last"``, ``"mean"``, ``"max"`` or ``"attention"``.
        attention_size: A of the attention pooling (default H).

    Inputs: ``x`` (N, T, I) floats with ``lengths`` (N,) or ``mask`` (N, T), or (N, T) ids.
    Output: ``u`` (N, D·H); with ``return_weights=True``, ``(u, weights)``, ``weights`` (N, T)
    for attention pooling, else ``None``.

    >>> net = SequenceToVector(8, 16, bidirectional=True, pooling="attention")
    >>> u, a = net(torch.randn(3, 5, 8), lengths=torch.tensor([5, 2, 1]), return_weights=True)
    >>> u.shape, a.shape
    (torch.Size([3, 32]), torch.Size([3, 5]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "gru",
        bidirectional: bool = False,
        dropout: float = 0.0,
        vocab_size: int | None = None,
        pad_id: int = 0,
        pooling: str = "last",
        attention_size: int | None = None,
    ):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.vocab_size = (
            None if vocab_size is None else check_positive_int("vocab_size", vocab_size)
        )
        self.pad_id = pad_id
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.embedding = (
            nn.Embedding(vocab_size, input_size, padding_idx=pad_id) if vocab_size else None
        )
        self.rnn = DeepRNN(
            input_size,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            return_sequences=pooling != "last",
            return_state=False,
        )
        self.output_size = self.rnn.output_size
        self.attention = None
        self.query = None
        if pooling == "attention":
            self.attention_size = check_positive_int(
                "attention_size", hidden_size if attention_size is None else attention_size
            )
            self.attention = BahdanauAttention(1, self.output_size, self.attention_size)
            self.query = nn.Parameter(torch.zeros(1))  # the learned query enters through W_2 q + b
        else:
            self.attention_size = attention_size
        self._config = {
            "input_size": input_size,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "cell": cell,
            "bidirectional": bidirectional,
            "dropout": dropout,
            "vocab_size": vocab_size,
            "pad_id": pad_id,
            "pooling": pooling,
            "attention_size": self.attention_size,
        }

    def forward(self, x: Tensor, lengths=None, mask=None, *, return_weights: bool = False):
        if self.embedding is not None:
            x = check_token_ids("x", x, self.vocab_size)
            if lengths is None and mask is None:
                mask = x != self.pad_id
            x = self.embedding(x)  # (N, T, E)
        else:
            check_float_tensor("x", x, 3)
        out = self.rnn(x, lengths=lengths, mask=mask)  # (N, T, D*H), or (N, D*H) for "last"
        if self.pooling == "last":
            return (out, None) if return_weights else out
        if lengths is not None:
            mask = lengths_to_mask(torch.as_tensor(lengths, device=out.device), x.shape[1])
        elif mask is None:
            mask = torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)
        u, weights = self._pool(out, mask.to(out.device).bool())
        return (u, weights) if return_weights else u

    def _pool(self, out: Tensor, mask: Tensor):
        from deeprnn.layers.masking import get_mask

        flowing = get_mask(out)  # the mask the stack ran with: given, from lengths, or flowing
        if flowing is not None:  # in with x (Masking / Embedding(mask_zero=True) before this)
            mask = flowing.to(out.device).bool()
        if self.pooling == "mean":
            count = mask.sum(1, keepdim=True).clamp(min=1)  # (N, 1)
            return (out * mask[..., None]).sum(1) / count, None  # (N, F)
        if self.pooling == "max":
            filled = out.masked_fill(~mask[..., None], float("-inf")).amax(1)  # (N, F)
            return filled.masked_fill(~mask.any(1, keepdim=True), 0.0), None
        query = self.query.expand(out.shape[0], 1)  # (N, 1)
        return self.attention(query, out, mask=mask)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)
