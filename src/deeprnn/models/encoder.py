"""The parts every task model shares: the input layer (embedding or linear), an optional
Conv1D front end (C-LSTM), the :class:`~deeprnn.DeepRNN` body, and sequence pooling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from deeprnn.data.vocab import UNK
from deeprnn.layers import DeepRNN
from deeprnn.layers._sequence import lengths_to_mask


@dataclass
class RNNConfig:
    """The recurrent body (:class:`deeprnn.DeepRNN`). ``layers`` (a list of per-layer dicts:
    ``cell``, ``hidden_size``, ``bidirectional``, ...) overrides ``hidden_size``/``num_layers``."""

    cell: Literal["lstm", "gru", "rnn", "minimal_gru"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    layers: list[dict] | None = None
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    residual: bool = False
    highway: bool = False
    norm: Literal["batch", "layer"] | None = None
    layer_norm: bool = False
    activation: str = "tanh"
    impl: Literal["auto", "torch", "fused", "loop"] = "auto"
    checkpoint_steps: int | None = None


def build_rnn(input_size: int, cfg: RNNConfig, **kwargs) -> DeepRNN:
    """A ``DeepRNN`` over ``input_size`` features as ``cfg`` describes it."""
    sizes = {} if cfg.layers else {"hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers}
    return DeepRNN(
        input_size,
        layers=cfg.layers or None,
        cell=cfg.cell,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        recurrent_dropout=cfg.recurrent_dropout,
        zoneout=cfg.zoneout,
        residual=cfg.residual,
        highway=cfg.highway,
        norm=cfg.norm,
        layer_norm=cfg.layer_norm,
        activation=cfg.activation,
        impl=cfg.impl,
        checkpoint_steps=cfg.checkpoint_steps,
        **sizes,
        **kwargs,
    )


@dataclass
class InputConfig:
    """How inputs enter the network.

    Token inputs: an embedding of ``embedding_dim`` (optionally initialised from a GloVe /
    word2vec text file ``pretrained_embeddings``, and frozen). Numeric inputs: used as they are,
    or through a linear layer of ``projection`` units. ``conv_channels > 0`` adds a Conv1D front
    end (kernel ``conv_kernel_size``, ReLU, 'same' padding: lengths are unchanged) — C-LSTM.

    ``embedding_dropout`` zeroes embedding units; ``word_dropout`` (training only) replaces each
    real token id by ``[UNK]`` with that probability, so the unknown-word vector is trained on
    the contexts rare words appear in (Lample et al. 2016's singleton replacement, for all
    words)."""

    embedding_dim: int = 64
    pretrained_embeddings: str | None = None
    freeze_embeddings: bool = False
    projection: int | None = None
    embedding_dropout: float = 0.0
    word_dropout: float = 0.0
    conv_channels: int = 0
    conv_kernel_size: int = 3

    def __post_init__(self):
        for name in ("embedding_dropout", "word_dropout"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValueError(f"model.input.{name} must be in [0, 1), got {p!r}")


def read_word_vectors(path: str | Path, vocab: list[str], dim: int) -> tuple[Tensor, int]:
    """Rows of a GloVe/word2vec text file for ``vocab``: ``(weights (V, dim), tokens found)``.

    Tokens not in the file keep a small random vector; ``[PAD]`` (id 0) is zero.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model.input.pretrained_embeddings: file not found: {path}")
    index = {t: i for i, t in enumerate(vocab)}
    weights = torch.randn(len(vocab), dim) * 0.1
    found = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if lineno == 1 and len(parts) == 2:  # word2vec header "count dim"
                continue
            if parts[0] not in index:
                continue
            if len(parts) - 1 != dim:
                raise ValueError(
                    f"{path}:{lineno}: vector has {len(parts) - 1} values, "
                    f"model.input.embedding_dim is {dim}"
                )
            weights[index[parts[0]]] = torch.tensor([float(v) for v in parts[1:]])
            found += 1
    weights[0] = 0.0
    return weights, found


class InputLayer(nn.Module):
    """Embedding (``vocab_size`` given) or identity/linear (``input_size`` given), an optional
    Conv1D, and dropout. ``forward(x, mask) -> (N, T, output_size)`` with padding zeroed."""

    def __init__(
        self,
        cfg: InputConfig,
        *,
        vocab: list[str] | None = None,
        input_size: int | None = None,
        extra_size: int = 0,
    ):
        super().__init__()
        self.embedding = None
        self.projection = None
        if vocab is not None:
            self.embedding = nn.Embedding(len(vocab), cfg.embedding_dim, padding_idx=0)
            if cfg.pretrained_embeddings:
                weights, _ = read_word_vectors(cfg.pretrained_embeddings, vocab, cfg.embedding_dim)
                with torch.no_grad():
                    self.embedding.weight.copy_(weights)
            if cfg.freeze_embeddings:
                self.embedding.weight.requires_grad_(False)
            size = cfg.embedding_dim
        else:
            if input_size is None:
                raise ValueError("the input layer needs a vocabulary or an input size")
            size = input_size
            if cfg.projection:
                self.projection = nn.Linear(input_size, cfg.projection)
                size = cfg.projection
        size += extra_size
        self.conv = None
        if cfg.conv_channels:
            k = cfg.conv_kernel_size
            self.conv = nn.Conv1d(size, cfg.conv_channels, k, padding=k // 2)
            size = cfg.conv_channels
        self.dropout = nn.Dropout(cfg.embedding_dropout)
        self.word_dropout = cfg.word_dropout if self.embedding is not None else 0.0
        self.unk_id = vocab.index(UNK) if vocab is not None and UNK in vocab else None
        if self.word_dropout and self.unk_id is None:
            raise ValueError(f"model.input.word_dropout needs a {UNK} token in the vocabulary")
        self.output_size = size

    def forward(self, x: Tensor, mask: Tensor, extra: Tensor | None = None) -> Tensor:
        if self.training and self.word_dropout:
            drop = torch.rand(x.shape, device=x.device) < self.word_dropout
            x = x.masked_fill(drop & (x != 0), self.unk_id)  # [PAD] stays [PAD]
        h = self.embedding(x) if self.embedding is not None else x  # (N, T, E)
        if self.projection is not None:
            h = self.projection(h)
        if extra is not None:
            h = torch.cat([h, extra], dim=-1)
        h = self.dropout(h)
        if self.conv is not None:
            h = h * mask[..., None]
            h = torch.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)  # (N, T, C)
            h = h[:, : mask.shape[1]]  # even kernels give one step more
        return h * mask[..., None]


POOLINGS = ("last", "mean", "max", "attention")


class Pool(nn.Module):
    """Sequence (N, T, F) -> (N, F'): ``last`` real step (both directions' final states for a
    bidirectional last layer), masked ``mean`` / ``max``, or additive ``attention``
    (:math:`a = \\mathrm{softmax}_t(v^\\top \\tanh(W o_t))`, padding gets weight 0)."""

    def __init__(self, kind: str, rnn: DeepRNN):
        super().__init__()
        self.kind = kind
        size = rnn.output_size
        last = rnn.specs[-1]
        self.bidirectional_last = kind == "last" and bool(last.bidirectional)
        if self.bidirectional_last:
            size = 2 * last.hidden_size
        if kind == "attention":
            self.score = nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1))
        self.output_size = size
        self.weights: Tensor | None = None  # the last attention weights (N, T), for plotting

    def forward(self, out: Tensor, states, mask: Tensor | None = None, lengths=None) -> Tensor:
        if mask is None:  # the mask the RNN ran with, attached to its outputs; else all real
            from deeprnn.layers.masking import get_mask

            mask = get_mask(out)
            if mask is None:
                mask = torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)
            mask = mask.to(out.device)
        if lengths is None:
            lengths = mask.sum(1)  # (N,): post-padded rows, as lengths are everywhere here
        m = mask[..., None]  # (N, T, 1)
        if self.kind == "last":
            if self.bidirectional_last:
                return torch.cat([s.h for s in states.layer(-1)], dim=-1)  # (N, 2H)
            index = (lengths - 1).clamp(min=0)  # (N,)
            picked = out.gather(1, index[:, None, None].expand(-1, 1, out.shape[-1])).squeeze(1)
            return picked * (lengths > 0)[:, None]
        if self.kind == "mean":
            return (out * m).sum(1) / lengths.clamp(min=1)[:, None].to(out.dtype)
        if self.kind == "max":
            filled = out.masked_fill(~m, torch.finfo(out.dtype).min)
            return filled.amax(1) * (lengths > 0)[:, None]
        scores = self.score(out).squeeze(-1).masked_fill(~mask, float("-inf"))  # (N, T)
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # empty rows: all zero
        self.weights = weights.detach()
        return torch.einsum("nt,ntf->nf", weights, out)


class SequenceEncoder(nn.Module):
    """Input layer + DeepRNN: ``forward(x, lengths) -> (out (N, T, F), states, mask)``."""

    def __init__(
        self,
        input_cfg: InputConfig,
        rnn_cfg: RNNConfig,
        *,
        vocab: list[str] | None = None,
        input_size: int | None = None,
        extra_size: int = 0,
    ):
        super().__init__()
        self.input = InputLayer(
            input_cfg, vocab=vocab, input_size=input_size, extra_size=extra_size
        )
        self.rnn = build_rnn(self.input.output_size, rnn_cfg)

    def forward(self, x: Tensor, lengths: Tensor, extra: Tensor | None = None, initial_state=None):
        mask = lengths_to_mask(lengths, x.shape[1])  # (N, T)
        h = self.input(x, mask, extra)
        out, states = self.rnn(h, lengths=lengths, initial_state=initial_state)
        return out, states, mask


class ManyToOne:
    """Mixin of the many-to-one task models (classify, regress): input layer -> DeepRNN ->
    pooling -> head, as attributes ``encoder``, ``pool``, ``head`` (the names a language
    model's weights are matched by for transfer learning)."""

    def build_many_to_one(
        self,
        cfg,
        out_size: int,
        *,
        vocab: list[str] | None = None,
        input_size: int | None = None,
        extra: int = 0,
    ) -> None:
        """``extra``: features concatenated to the pooled output before the head (LSTM-FCN)."""
        if cfg.pooling not in POOLINGS:
            raise ValueError(f"model.pooling must be one of {POOLINGS}, got {cfg.pooling!r}")
        self.encoder = SequenceEncoder(cfg.input, cfg.rnn, vocab=vocab, input_size=input_size)
        self.pool = Pool(cfg.pooling, self.encoder.rnn)
        size = self.pool.output_size + extra
        layers: list[nn.Module] = [nn.Dropout(cfg.head_dropout)]
        if cfg.head_hidden:
            layers += [nn.Linear(size, cfg.head_hidden), nn.ReLU(), nn.Dropout(cfg.head_dropout)]
            size = cfg.head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(size, out_size))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` (N, T) ids or (N, T, F) features, ``lengths`` (N,) -> (N, out_size)."""
        out, states, mask = self.encoder(x, lengths)
        return self.head(self.pool(out, states, mask, lengths))
