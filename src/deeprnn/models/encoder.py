"""The recurrent encoder every task model shares: the :class:`~deeprnn.DeepRNN` body built from a
typed config, the input layer in front of it (:mod:`deeprnn.models.inputs`), sequence pooling,
and the many-to-one assembly (input -> DeepRNN -> pooling -> head) of classify and regress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from deeprnn.layers import DeepRNN
from deeprnn.layers._sequence import lengths_to_mask
from deeprnn.layers.masking import get_mask
from deeprnn.models.inputs import InputConfig, InputLayer


@dataclass
class RNNConfig:
    """The recurrent body (:class:`deeprnn.DeepRNN`). ``layers`` (a list of per-layer dicts:
    ``cell``, ``hidden_size``, ``bidirectional``, ...) overrides ``hidden_size``/``num_layers``."""

    cell: Literal["lstm", "gru", "rnn", "minimal_gru", "mingru", "minlstm", "lru"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    layers: list[dict] | None = None
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    weight_dropout: float = 0.0
    zoneout: float = 0.0
    residual: bool = False
    highway: bool = False
    norm: Literal["batch", "layer"] | None = None
    dim_feedforward: int | None = None
    layer_norm: bool = False
    activation: str = "tanh"
    impl: Literal["auto", "torch", "fused", "parallel", "loop"] = "auto"
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
        weight_dropout=cfg.weight_dropout,
        zoneout=cfg.zoneout,
        residual=cfg.residual,
        highway=cfg.highway,
        norm=cfg.norm,
        dim_feedforward=cfg.dim_feedforward,
        layer_norm=cfg.layer_norm,
        activation=cfg.activation,
        impl=cfg.impl,
        checkpoint_steps=cfg.checkpoint_steps,
        **sizes,
        **kwargs,
    )


POOLINGS = ("last", "mean", "max", "attention", "concat")


class Pool(nn.Module):
    """Sequence (N, T, F) -> (N, F'): ``last`` real step (both directions' final states for a
    bidirectional last layer), masked ``mean`` / ``max``, additive ``attention``
    (:math:`a = \\mathrm{softmax}_t(v^\\top \\tanh(W o_t))`, padding gets weight 0), or
    ``concat``: ``[last, max, mean]`` side by side (ULMFiT's concat pooling, F' = 3F)."""

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
        if kind == "concat":
            self.parts = [Pool("last", rnn), Pool("max", rnn), Pool("mean", rnn)]
            size = sum(p.output_size for p in self.parts)
        self.output_size = size
        self.weights: Tensor | None = None  # the last attention weights (N, T), for plotting

    def forward(self, out: Tensor, states, mask: Tensor | None = None, lengths=None) -> Tensor:
        if mask is None:  # the mask the RNN ran with, attached to its outputs; else all real
            mask = get_mask(out)
            if mask is None:
                mask = torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)
            mask = mask.to(out.device)
        if lengths is None:
            lengths = mask.sum(1)  # (N,): post-padded rows, as lengths are everywhere here
        if self.kind == "concat":
            return torch.cat([p(out, states, mask, lengths) for p in self.parts], -1)  # (N, 3F)
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
        """``extra``: features concatenated to the pooled output before the head (LSTM-FCN).
        ``cfg.head_norm: batch`` (where the config has it) puts a batch norm in front of each
        head layer, as ULMFiT's head does: pooled features of a frozen pretrained encoder are
        far from zero-mean, unit-scale, and the head learns them slowly without it."""
        if cfg.pooling not in POOLINGS:
            raise ValueError(f"model.pooling must be one of {POOLINGS}, got {cfg.pooling!r}")
        self.encoder = SequenceEncoder(cfg.input, cfg.rnn, vocab=vocab, input_size=input_size)
        self.pool = Pool(cfg.pooling, self.encoder.rnn)
        size = self.pool.output_size + extra
        norm = getattr(cfg, "head_norm", None) == "batch"
        layers: list[nn.Module] = [nn.BatchNorm1d(size)] if norm else []
        layers.append(nn.Dropout(cfg.head_dropout))
        if cfg.head_hidden:
            layers += [nn.Linear(size, cfg.head_hidden), nn.ReLU()]
            layers += [nn.BatchNorm1d(cfg.head_hidden)] if norm else []
            layers.append(nn.Dropout(cfg.head_dropout))
            size = cfg.head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(size, out_size))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` (N, T) ids or (N, T, F) features, ``lengths`` (N,) -> (N, out_size)."""
        out, states, mask = self.encoder(x, lengths)
        return self.head(self.pool(out, states, mask, lengths))
