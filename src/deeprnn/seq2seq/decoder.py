r"""``AttentionDecoder``: embedding, stacked cells, attention with input feeding, output layer.

The decoder owns its loop: with input feeding each step's input depends on the previous
step's attention, so it steps the cells of its :class:`~deeprnn.DeepRNN` one at a time
(cells compute one step; whoever loops owns the loop). Without input feeding and with full
teacher forcing, training runs the whole stack in one call of the DeepRNN (the fused
kernels) and attends over all steps at once.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn._validation import check_bool, check_positive_int, check_probability
from deeprnn.attention import make_attention
from deeprnn.cells import CELLS
from deeprnn.layers import DeepRNN
from deeprnn.seq2seq._common import check_ratio, check_special_ids, check_token_ids

#: cells the decoder cannot step, and why
NO_DECODER_CELLS = {
    "lru": "its state is complex (h, re, im) and the encoder's bridge gives (N, H) states",
}


class Memory(NamedTuple):
    """What the decoder attends over: ``values`` (N, S, F), ``keys`` (N, S, A) — the values
    through the attention's ``project_keys``, computed once per source — and ``mask`` (N, S)."""

    values: Tensor
    keys: Tensor
    mask: Tensor


class DecoderState(NamedTuple):
    """``layers``: one :class:`~deeprnn.RNNState` / :class:`~deeprnn.LSTMState` per layer,
    (N, H) each; ``feed``: the previous attentional vector :math:`\\tilde h_{t-1}` (N, O) with
    input feeding, else ``None``."""

    layers: tuple
    feed: Tensor | None


@register
class AttentionDecoder(ConfigMixin, nn.Module):
    r"""A recurrent decoder with attention and input feeding (Luong, Pham & Manning 2015).

    .. math::
        \begin{aligned}
        x_t &= [E y_{t-1};\ \tilde h_{t-1}] && \text{(input feeding; } \tilde h_0 = 0) \\
        h_t^{(l)} &= \mathrm{cell}_l(h_t^{(l-1)}, h_{t-1}^{(l)}),\ h_t^{(0)} = x_t \\
        c_t, a_t &= \mathrm{attention}(h_t^{(L)}, m_{1:S}, \text{mask}) \\
        \tilde h_t &= \tanh(W_c [c_t; h_t^{(L)}]) \\
        p(y_t \mid y_{<t}, x) &= \mathrm{softmax}(W_o \tilde h_t + b_o)
        \end{aligned}

    ``attention`` is ``"bahdanau"`` (:math:`v^\top \tanh(W_1 m_s + W_2 h_t)`),
    ``"luong_dot"``, ``"luong_general"`` or ``"luong_concat"``, all scored against the current
    top state :math:`h_t^{(L)}`; or ``None`` for a plain decoder (:math:`\tilde h_t = h_t^{(L)}`,
    no input feeding). With ``tie_embeddings`` (Press & Wolf 2017) :math:`W_o = E` and
    :math:`\tilde h_t` has the embedding size (O = E, else O = H).

    Args:
        vocab_size: V. embedding_size: E. hidden_size: H. num_layers: L.
        cell: any :class:`~deeprnn.DeepRNN` cell (``"gru"``, ``"lstm"``, ...).
        memory_size: F, the feature size of the memory (required with attention).
        attention, attention_size: the attention and its hidden size A.
        input_feeding: feed :math:`\tilde h_{t-1}` into the next step (default: on with
            attention, off without).
        dropout: on the embeddings, between layers and on :math:`\tilde h_t`.
        tie_embeddings: share the output weight with the embedding.
        pad_id: the padding id (zero embedding).
        embedding: an :class:`torch.nn.Embedding` to share (with an encoder); it stays
            registered with its owner and is not part of this module's state dict or config.

    The parameters are those of ``embedding`` (V, E), ``rnn`` (a DeepRNN on E + O inputs),
    ``attention``, ``combine`` (:math:`W_c`, (O, F + H)) and ``output`` (:math:`W_o`, (V, O))
    or ``output_bias`` (V,) when tied.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int = 256,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "gru",
        memory_size: int | None = None,
        attention: str | None = "bahdanau",
        attention_size: int | None = None,
        input_feeding: bool | None = None,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        pad_id: int = 0,
        embedding: nn.Embedding | None = None,
    ):
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.embedding_size = check_positive_int("embedding_size", embedding_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if cell in NO_DECODER_CELLS:
            raise ValueError(
                f"cell {cell!r} cannot be a decoder cell: {NO_DECODER_CELLS[cell]}; choose one of "
                f"{sorted(set(CELLS) - set(NO_DECODER_CELLS))}"
            )
        if input_feeding is None:  # on with attention, off without (nothing to feed)
            input_feeding = attention is not None
        self.input_feeding = check_bool("input_feeding", input_feeding)
        self.tie_embeddings = check_bool("tie_embeddings", tie_embeddings)
        self.dropout = check_probability("dropout", dropout)
        check_special_ids(vocab_size, pad_id=pad_id)
        self.pad_id = pad_id
        self.cell = cell
        if attention is None:
            if input_feeding:
                raise ValueError(
                    "input_feeding=True needs attention; got attention=None "
                    "(leave input_feeding unset, or pass input_feeding=False)"
                )
            if memory_size is not None:
                raise ValueError(
                    f"memory_size needs attention; got attention=None, memory_size={memory_size}"
                )
        elif memory_size is None:
            raise ValueError(f"memory_size is required with attention={attention!r}")
        self.memory_size = (
            None if memory_size is None else check_positive_int("memory_size", memory_size)
        )
        self.attention_name = attention
        self.output_size = embedding_size if tie_embeddings else hidden_size  # O
        if embedding is not None:
            if not isinstance(embedding, nn.Embedding) or tuple(embedding.weight.shape) != (
                vocab_size,
                embedding_size,
            ):
                raise ValueError(
                    f"embedding must be an nn.Embedding({vocab_size}, {embedding_size}), got {embedding!r}"
                )
            object.__setattr__(self, "embedding", embedding)  # shared: not registered here
        else:
            self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        feed = self.output_size if input_feeding else 0
        self.rnn = DeepRNN(
            embedding_size + feed,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout,
        )
        self.cells = [block.cell for block in self.rnn.blocks]  # plain list: owned by self.rnn
        self.attention = None
        if attention is not None:
            self.attention = make_attention(attention, hidden_size, memory_size, attention_size)
            self.combine = nn.Linear(memory_size + hidden_size, self.output_size, bias=False)
        elif self.output_size != hidden_size:
            self.combine = nn.Linear(hidden_size, self.output_size, bias=False)
        else:
            self.combine = None
        self.attention_size = getattr(self.attention, "attention_size", None)
        self.drop = nn.Dropout(self.dropout)
        if tie_embeddings:
            self.output = None
            self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.output = nn.Linear(self.output_size, vocab_size)

    # -- setup -----------------------------------------------------------------------------
    def init_state(
        self, batch_size: int, state: tuple | None = None, *, like: Tensor | None = None
    ):
        """The state before the first step: ``state`` (L states, e.g. from a bridge) or zeros,
        and a zero input-feeding vector."""
        ref = self.rnn.blocks[0].cell.weight_hh if like is None else like
        if state is None:
            layers = tuple(self.rnn.initial_state(batch_size, ref.device, ref.dtype))
        else:
            layers = tuple(self.rnn._coerce_initial_state(list(state), batch_size))
        feed = ref.new_zeros(batch_size, self.output_size) if self.input_feeding else None
        return DecoderState(layers, feed)

    def prepare_memory(self, values: Tensor, mask: Tensor) -> Memory:
        """Wrap the encoder output for attention, projecting the keys once."""
        if self.attention is None:
            raise ValueError("this decoder has no attention (attention=None); pass memory=None")
        if values.dim() != 3 or values.shape[-1] != self.memory_size:
            raise ValueError(
                f"memory must have shape (N, S, {self.memory_size}) (memory_size), got {tuple(values.shape)}"
            )
        return Memory(values, self.attention.project_keys(values), mask)

    # -- one step --------------------------------------------------------------------------
    def step(self, tokens: Tensor, state: DecoderState, memory: Memory | None = None):
        """One step: ``tokens`` (N,) the previous outputs -> ``(logits (N, V), state,
        weights (N, S) or None)``."""
        xp = self._project_embedded(self.drop(self.embedding(tokens)))  # (N, G*H)
        out, state, weights = self._step_projected(xp, state, memory)
        return self.logits(self.drop(out)), state, weights

    def _project_embedded(self, emb: Tensor) -> Tensor:
        """The embedding half of the first layer's input projection: (..., E) -> (..., G*H)."""
        cell = self.cells[0]
        return F.linear(emb, cell.weight_ih[:, : self.embedding_size], cell._input_bias())

    def _step_projected(self, xp: Tensor, state: DecoderState, memory: Memory | None):
        if self.input_feeding:
            xp = xp + F.linear(state.feed, self.cells[0].weight_ih[:, self.embedding_size :])
        layers = []
        x = None
        for i, cell in enumerate(self.cells):
            if i > 0:
                xp = cell.project_input(self.drop(x) if self.rnn.dropout else x)
            x, s = cell.step(xp, state.layers[i])  # (N, H)
            layers.append(s)
        out, weights = self._attend(x, memory)  # (N, O), (N, S)
        return out, DecoderState(tuple(layers), out if self.input_feeding else None), weights

    def _attend(self, top: Tensor, memory: Memory | None):
        """:math:`\\tilde h = \\tanh(W_c [c; h])` for top states (N, H) or (N, T, H)."""
        if self.attention is None:
            return (top if self.combine is None else self.combine(top)), None
        if memory is None:
            raise ValueError("this decoder attends: pass memory (from prepare_memory)")
        context, weights = self.attention(
            top, memory.values, mask=memory.mask, projected_keys=memory.keys
        )
        return torch.tanh(self.combine(torch.cat([context, top], dim=-1))), weights

    def logits(self, out: Tensor) -> Tensor:
        """:math:`W_o \\tilde h + b_o`: (..., O) -> (..., V)."""
        if self.output is None:
            return F.linear(out, self.embedding.weight, self.output_bias)
        return self.output(out)

    # -- a whole target ----------------------------------------------------------------------
    def forward(
        self,
        inputs: Tensor,
        state: DecoderState,
        memory: Memory | None = None,
        teacher_forcing: float = 1.0,
    ) -> tuple[Tensor, Tensor | None]:
        """Run over ``inputs`` (N, T) — ``<go>`` then the target shifted right.

        ``teacher_forcing`` is the probability, per row and step, of feeding the true previous
        token rather than the model's own argmax prediction (scheduled sampling, Bengio et al.
        2015). Returns ``logits`` (N, T, V) and ``weights`` (N, T, S) (``None`` without
        attention).
        """
        inputs = check_token_ids("inputs", inputs, self.vocab_size)
        ratio = check_ratio("teacher_forcing", teacher_forcing)
        batch, steps = inputs.shape
        emb = self.drop(self.embedding(inputs))  # (N, T, E)
        if ratio == 1.0 and not self.input_feeding:
            top, _ = self.rnn(emb, initial_state=list(state.layers))  # (N, T, H), fused kernels
            out, weights = self._attend(top, memory)  # (N, T, O), (N, T, S)
            return self.logits(self.drop(out)), weights
        xp_all = self._project_embedded(emb)  # (N, T, G*H): one GEMM for every step
        outs, all_weights, all_logits = [], [], []
        for t in range(steps):
            xp = xp_all[:, t]
            if t > 0 and ratio < 1.0:
                own = all_logits[-1].argmax(-1)  # (N,)
                keep = torch.rand(batch, device=inputs.device) < ratio
                tokens = torch.where(keep, inputs[:, t], own)
                xp = self._project_embedded(self.drop(self.embedding(tokens)))
            out, state, weights = self._step_projected(xp, state, memory)
            outs.append(out)
            all_weights.append(weights)
            if ratio < 1.0:
                all_logits.append(self.logits(self.drop(out)))
        if ratio < 1.0:
            logits = torch.stack(all_logits, dim=1)  # (N, T, V)
        else:
            logits = self.logits(self.drop(torch.stack(outs, dim=1)))  # (N, T, O) -> (N, T, V)
        weights = None if self.attention is None else torch.stack(all_weights, dim=1)
        return logits, weights

    def get_config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "embedding_size": self.embedding_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "memory_size": self.memory_size,
            "attention": self.attention_name,
            "attention_size": self.attention_size,
            "input_feeding": self.input_feeding,
            "dropout": self.dropout,
            "tie_embeddings": self.tie_embeddings,
            "pad_id": self.pad_id,
        }
