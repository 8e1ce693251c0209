"""How inputs enter a task network: an embedding (optionally from GloVe / word2vec vectors) or
the numeric features as they are (optionally projected), an optional Conv1D front end (C-LSTM),
and embedding / word dropout.

Shape symbols: N rows, T steps, E embedding size, F features, C conv channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from deeprnn.data.vocab import UNK


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
