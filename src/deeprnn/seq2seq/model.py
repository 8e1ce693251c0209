r"""Complete models: ``Seq2Seq`` (encoder-decoder with attention) and ``VectorToSequence``
(a feature vector to a sequence: the captioning pattern), their loss and decoding.

Token conventions, the same for both: targets ``tgt`` (N, T) hold the output tokens without
``<go>``, each row ending in ``<eos>`` and then ``pad_id``; the decoder reads
``[<go>, y_1, ..., y_{T-1}]`` and is trained to emit ``[y_1, ..., y_T]``. ``go_id`` and
``eos_id`` are always passed explicitly (a :class:`deeprnn.data` vocabulary knows them).
Train with :func:`~deeprnn.seq2seq.sequence_loss`; schedule teacher forcing with
:func:`~deeprnn.seq2seq.teacher_forcing_ratio`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn._validation import check_bool, check_float_tensor, check_positive_int
from deeprnn.seq2seq._common import Bridge, check_special_ids, check_token_ids
from deeprnn.seq2seq.decoder import AttentionDecoder
from deeprnn.seq2seq.encoder import Encoder
from deeprnn.seq2seq.search import Hypotheses, beam_search, check_search_args, greedy_search


class Seq2SeqOutput(NamedTuple):
    """``logits`` (N, T, V); ``attention`` (N, T, S), or ``None`` without attention."""

    logits: Tensor
    attention: Tensor | None


class _Generator:
    """Greedy / beam decoding shared by the models: ``self.decoder``, special ids."""

    decoder: AttentionDecoder
    go_id: int
    eos_id: int
    pad_id: int

    def _search(self, state, memory, batch, device, beam_width, max_len, alpha, attention):
        never = torch.tensor([self.pad_id, self.go_id], device=device)  # never generated
        wide = self.decoder.cells[0].weight_hh.dtype == torch.float64  # float64 scores

        def step(tokens: Tensor, state, memory):
            logits, state, weights = self.decoder.step(tokens, state, memory)
            return logits.index_fill(1, never, float("-inf")), state, weights

        kwargs = dict(
            batch_size=batch,
            go_id=self.go_id,
            eos_id=self.eos_id,
            pad_id=self.pad_id,
            max_len=max_len,
            alpha=alpha,
            return_attention=attention,
            device=device,
            dtype=torch.float64 if wide else torch.float32,
        )
        if beam_width == 1:
            return greedy_search(step, state, memory, **kwargs)
        return beam_search(step, state, memory, beam_width=beam_width, **kwargs)

    def _inputs(self, tgt: Tensor) -> Tensor:
        starts = (tgt[:, 0] == self.go_id).nonzero() if tgt.shape[1] else tgt.new_zeros(0, 1)
        if len(starts):
            raise ValueError(
                f"tgt must not start with <go> (go_id={self.go_id}), got it at batch index "
                f"{int(starts[0])}: the model prepends <go> itself; pass the target tokens "
                "(ending with <eos>), e.g. tgt[:, 1:]"
            )
        go = tgt.new_full((tgt.shape[0], 1), self.go_id)
        return torch.cat([go, tgt[:, :-1]], dim=1)  # (N, T): <go> then the target shifted right


@register
class Seq2Seq(_Generator, ConfigMixin, nn.Module):
    r"""Encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015).

    .. math::
        m_{1:S}, s_0 = \mathrm{Encoder}(x_{1:S}), \qquad
        p(y \mid x) = \prod_t p(y_t \mid y_{<t}, m_{1:S}) \ \text{(AttentionDecoder from } s_0)

    Args:
        src_vocab_size: source vocabulary size. tgt_vocab_size: target vocabulary size
            (default: the source's, one shared vocabulary).
        go_id, eos_id, pad_id: target special ids (``pad_id`` also pads the source).
        embedding_size: E (both sides). hidden_size: H of the decoder.
        encoder_hidden_size: H per encoder direction (default H). encoder_layers,
            decoder_layers: depths. cell: the decoder's (and by default the encoder's) cell;
            encoder_cell overrides it. bidirectional: the encoder's layers.
        attention: ``"bahdanau"``, ``"luong_dot"`` (needs D·H_enc = H), ``"luong_general"``,
            ``"luong_concat"`` or ``None``. attention_size: A. input_feeding: see
            :class:`AttentionDecoder`.
        dropout: embeddings, between layers, before the output layer.
        share_embeddings: one embedding for source and target (needs one vocabulary).
        tie_embeddings: output weight = target embedding.
        reverse_source: feed each source reversed (Sutskever et al. 2014).
        bridge: ``"linear"``, ``"copy"`` or ``"none"`` (see :class:`Encoder`).

    ``model(src, tgt, teacher_forcing=1.0)`` returns :class:`Seq2SeqOutput`; train with
    :func:`sequence_loss` on ``(output.logits, tgt)``. ``model.generate(src, beam_width=...)``
    decodes (call ``model.eval()`` first to switch dropout off).

    >>> model = Seq2Seq(20, go_id=2, eos_id=3, embedding_size=8, hidden_size=16).eval()
    >>> src = torch.tensor([[5, 6, 7, 3], [8, 9, 3, 0]])
    >>> model(src, torch.tensor([[7, 6, 5, 3], [9, 8, 3, 0]])).logits.shape
    torch.Size([2, 4, 20])
    >>> model.generate(src, beam_width=3, max_len=6).tokens.shape[0]
    2
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int | None = None,
        *,
        go_id: int,
        eos_id: int,
        pad_id: int = 0,
        embedding_size: int = 256,
        hidden_size: int = 256,
        encoder_hidden_size: int | None = None,
        encoder_layers: int = 1,
        decoder_layers: int = 1,
        cell: str = "gru",
        encoder_cell: str | None = None,
        bidirectional: bool = True,
        attention: str | None = "bahdanau",
        attention_size: int | None = None,
        input_feeding: bool | None = None,
        dropout: float = 0.0,
        share_embeddings: bool = False,
        tie_embeddings: bool = False,
        reverse_source: bool = False,
        bridge: str = "linear",
    ):
        super().__init__()
        check_positive_int("src_vocab_size", src_vocab_size)
        tgt = src_vocab_size if tgt_vocab_size is None else tgt_vocab_size
        check_positive_int("tgt_vocab_size", tgt)
        check_special_ids(tgt, go_id=go_id, eos_id=eos_id, pad_id=pad_id)
        if len({go_id, eos_id, pad_id}) < 3:
            raise ValueError(
                f"go_id, eos_id and pad_id must differ, got {go_id}, {eos_id}, {pad_id}"
            )
        self.share_embeddings = check_bool("share_embeddings", share_embeddings)
        if share_embeddings and tgt != src_vocab_size:
            raise ValueError(
                "share_embeddings needs one vocabulary, got src_vocab_size="
                f"{src_vocab_size} and tgt_vocab_size={tgt}"
            )
        self.go_id, self.eos_id, self.pad_id = go_id, eos_id, pad_id
        self.encoder = Encoder(
            src_vocab_size,
            embedding_size,
            hidden_size if encoder_hidden_size is None else encoder_hidden_size,
            encoder_layers,
            cell if encoder_cell is None else encoder_cell,
            bidirectional,
            dropout,
            reverse_source,
            pad_id,
            bridge,
            decoder_hidden_size=hidden_size,
            decoder_num_layers=decoder_layers,
            decoder_cell=cell,
        )
        self.decoder = AttentionDecoder(
            tgt,
            embedding_size,
            hidden_size,
            decoder_layers,
            cell,
            memory_size=None if attention is None else self.encoder.output_size,
            attention=attention,
            attention_size=attention_size,
            input_feeding=input_feeding,
            dropout=dropout,
            tie_embeddings=tie_embeddings,
            pad_id=pad_id,
            embedding=self.encoder.embedding if share_embeddings else None,
        )
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt
        self._config = {
            "src_vocab_size": src_vocab_size,
            "tgt_vocab_size": tgt_vocab_size,
            "go_id": go_id,
            "eos_id": eos_id,
            "pad_id": pad_id,
            "embedding_size": embedding_size,
            "hidden_size": hidden_size,
            "encoder_hidden_size": self.encoder.hidden_size,
            "encoder_layers": encoder_layers,
            "decoder_layers": decoder_layers,
            "cell": cell,
            "encoder_cell": self.encoder.cell,
            "bidirectional": bidirectional,
            "attention": attention,
            "attention_size": self.decoder.attention_size,
            "input_feeding": self.decoder.input_feeding,
            "dropout": dropout,
            "share_embeddings": share_embeddings,
            "tie_embeddings": tie_embeddings,
            "reverse_source": reverse_source,
            "bridge": bridge,
        }

    def encode(self, src: Tensor):
        """``src`` (N, S) -> the decoder's initial state and the memory it attends over."""
        enc = self.encoder(src)
        state = self.decoder.init_state(src.shape[0], enc.state, like=enc.memory)
        memory = None
        if self.decoder.attention is not None:
            memory = self.decoder.prepare_memory(enc.memory, enc.mask)
        return state, memory

    def forward(self, src: Tensor, tgt: Tensor, teacher_forcing: float = 1.0) -> Seq2SeqOutput:
        """``src`` (N, S), ``tgt`` (N, T) (no ``<go>``) -> logits (N, T, V), attention (N, T, S)."""
        tgt = check_token_ids("tgt", tgt, self.tgt_vocab_size, pad_id=self.pad_id, batch=len(src))
        state, memory = self.encode(src)
        logits, weights = self.decoder(self._inputs(tgt), state, memory, teacher_forcing)
        return Seq2SeqOutput(logits, weights)

    @torch.no_grad()
    def generate(
        self,
        src: Tensor,
        *,
        beam_width: int = 1,
        max_len: int | None = None,
        length_penalty: float = 0.0,
        return_attention: bool = False,
    ) -> Hypotheses:
        """Decode ``src`` (N, S): greedy (``beam_width=1``) or beam search, at most
        ``max_len`` tokens (default 2S + 10), GNMT ``length_penalty`` alpha. ``pad_id`` and
        ``go_id`` are never generated. Returns :class:`~deeprnn.seq2seq.Hypotheses`."""
        src = check_token_ids("src", src, self.src_vocab_size, pad_id=self.pad_id)
        max_len = 2 * src.shape[1] + 10 if max_len is None else max_len
        check_search_args(max_len, beam_width, length_penalty)
        state, memory = self.encode(src)
        device = src.device
        return self._search(
            state,
            memory,
            src.shape[0],
            device,
            beam_width,
            max_len,
            length_penalty,
            return_attention,
        )

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)


@register
class VectorToSequence(_Generator, ConfigMixin, nn.Module):
    r"""A sequence from a feature vector: the captioning pattern (Vinyals et al. 2015).

    .. math::
        s_0^{(l)} = \tanh(W^{(l)} f + b^{(l)}), \qquad
        p(y \mid f) = \prod_t p(y_t \mid y_{<t}, s_0)

    with a plain :class:`AttentionDecoder` (``attention=None``) started from :math:`s_0`
    (:class:`~deeprnn.seq2seq.Bridge`).

    Args:
        feature_size: F of ``features`` (N, F). vocab_size: V. go_id, eos_id, pad_id: special
            ids. embedding_size, hidden_size, num_layers, cell, dropout, tie_embeddings: the
            decoder.

    >>> model = VectorToSequence(32, 50, go_id=2, eos_id=3, embedding_size=8, hidden_size=16)
    >>> model(torch.randn(4, 32), torch.tensor([[5, 6, 3]] * 4)).shape
    torch.Size([4, 3, 50])
    """

    def __init__(
        self,
        feature_size: int,
        vocab_size: int,
        *,
        go_id: int,
        eos_id: int,
        pad_id: int = 0,
        embedding_size: int = 256,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "gru",
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ):
        super().__init__()
        check_positive_int("vocab_size", vocab_size)
        check_special_ids(vocab_size, go_id=go_id, eos_id=eos_id, pad_id=pad_id)
        self.go_id, self.eos_id, self.pad_id = go_id, eos_id, pad_id
        self.feature_size = check_positive_int("feature_size", feature_size)
        self.vocab_size = vocab_size
        self.bridge = Bridge(feature_size, num_layers, hidden_size, cell)
        self.decoder = AttentionDecoder(
            vocab_size,
            embedding_size,
            hidden_size,
            num_layers,
            cell,
            attention=None,
            input_feeding=False,
            dropout=dropout,
            tie_embeddings=tie_embeddings,
            pad_id=pad_id,
        )
        self._config = {
            "feature_size": feature_size,
            "vocab_size": vocab_size,
            "go_id": go_id,
            "eos_id": eos_id,
            "pad_id": pad_id,
            "embedding_size": embedding_size,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "cell": cell,
            "dropout": dropout,
            "tie_embeddings": tie_embeddings,
        }

    def encode(self, features: Tensor):
        check_float_tensor("features", features, 2)
        return self.decoder.init_state(features.shape[0], self.bridge(features), like=features)

    def forward(self, features: Tensor, tgt: Tensor, teacher_forcing: float = 1.0) -> Tensor:
        """``features`` (N, F), ``tgt`` (N, T) (no ``<go>``) -> logits (N, T, V)."""
        state = self.encode(features)
        tgt = check_token_ids("tgt", tgt, self.vocab_size, pad_id=self.pad_id, batch=len(features))
        return self.decoder(self._inputs(tgt), state, None, teacher_forcing)[0]

    @torch.no_grad()
    def generate(
        self,
        features: Tensor,
        *,
        beam_width: int = 1,
        max_len: int = 20,
        length_penalty: float = 0.0,
    ) -> Hypotheses:
        """Decode from ``features`` (N, F); see :meth:`Seq2Seq.generate`."""
        check_search_args(max_len, beam_width, length_penalty)
        state = self.encode(features)
        return self._search(
            state,
            None,
            features.shape[0],
            features.device,
            beam_width,
            max_len,
            length_penalty,
            False,
        )

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)
