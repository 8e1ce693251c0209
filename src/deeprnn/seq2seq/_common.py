"""Shared pieces of the seq2seq modules: token-id checks, state trees, the bridge.

Symbols: N batch size, S source steps, T target steps, V vocabulary size, E embedding size,
H hidden size, L layers, F feature size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn._validation import check_choice, check_float_tensor, check_positive_int
from deeprnn.cells import CELLS
from deeprnn.states import LSTMState, RNNState


def check_token_ids(
    name: str, ids, vocab_size: int, *, pad_id: int | None = None, batch: int | None = None
) -> Tensor:
    """Validate an (N, T) integer tensor of ids in [0, vocab_size) with at least one step.

    With ``pad_id``, every row must hold at least one non-pad token (an empty source).
    """
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of token ids, got dtype {ids.dtype}")
    if ids.dim() != 2:
        raise ValueError(f"{name} must have shape (N, T), got {tuple(ids.shape)}")
    if batch is not None and ids.shape[0] != batch:
        raise ValueError(f"{name} must have batch size {batch}, got shape {tuple(ids.shape)}")
    if ids.shape[1] == 0:
        raise ValueError(f"{name} is empty: it must have at least one step, got {tuple(ids.shape)}")
    bad = (ids < 0) | (ids >= vocab_size)
    if bool(bad.any()):
        n, t = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name} contains token id {int(ids[n, t])} at position ({n}, {t}); ids must be in "
            f"[0, {vocab_size}) (vocab_size={vocab_size})"
        )
    if pad_id is not None:
        empty = (ids == pad_id).all(dim=1)
        if bool(empty.any()):
            n = int(empty.nonzero()[0, 0])
            raise ValueError(
                f"{name} row {n} is empty (every token is pad_id={pad_id}); each sequence needs "
                "at least one token"
            )
    return ids.long()


def check_special_ids(vocab_size: int, **ids: int) -> None:
    for name, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab_size:
            raise ValueError(f"{name} must be an int in [0, {vocab_size}), got {value!r}")


def check_ratio(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a float in [0, 1], got {value!r}")
    return float(value)


def tree_map(fn, tree):
    """Apply ``fn`` to every tensor in nested tuples / lists / NamedTuples (None kept)."""
    if tree is None:
        return None
    if isinstance(tree, Tensor):
        return fn(tree)
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(tree_map(fn, t) for t in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, t) for t in tree)
    raise TypeError(f"cannot map over a {type(tree).__name__}")


@register
class Bridge(ConfigMixin, nn.Module):
    r"""Initial decoder states from a vector: one Linear + tanh per state tensor.

    .. math::
        [h_0^{(1)}; \dots; h_0^{(L)}] = \tanh(W_h u + b_h), \qquad
        [c_0^{(1)}; \dots; c_0^{(L)}] = \tanh(W_c u + b_c) \ \text{(LSTM)}

    ``u`` (N, F) is the encoder's final states concatenated (all layers and directions), or a
    feature vector (an image embedding in captioning).

    Args:
        input_size: F. num_layers: L of the decoder. hidden_size: H of the decoder.
        cell: the decoder's cell: ``"lstm"`` (h and c) or ``"gru"``, ``"rnn"``,
            ``"minimal_gru"`` (h only).

    Returns a tuple of L states, :class:`~deeprnn.RNNState` or :class:`~deeprnn.LSTMState`,
    each (N, H).
    """

    def __init__(self, input_size: int, num_layers: int, hidden_size: int, cell: str = "gru"):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.cell = check_choice("cell", cell, CELLS)
        self.h = nn.Linear(input_size, num_layers * hidden_size)
        self.c = nn.Linear(input_size, num_layers * hidden_size) if cell == "lstm" else None

    def forward(self, u: Tensor, u_c: Tensor | None = None) -> tuple:
        """``u`` (N, F) -> L states; ``u_c`` (N, F), when given, feeds the LSTM c bridge."""
        check_float_tensor("u", u, 2)
        if u.shape[1] != self.input_size:
            raise ValueError(
                f"u must have {self.input_size} features (input_size), got shape {tuple(u.shape)}"
            )
        hs = torch.tanh(self.h(u)).chunk(self.num_layers, dim=-1)  # L x (N, H)
        if self.c is None:
            return tuple(RNNState(h) for h in hs)
        cs = torch.tanh(self.c(u if u_c is None else u_c)).chunk(self.num_layers, dim=-1)
        return tuple(LSTMState(h, c) for h, c in zip(hs, cs))

    def get_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "cell": self.cell,
        }
