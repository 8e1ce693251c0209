"""What every cell shares: parameter creation, initialisation, the one-step contract.

A cell computes **one time step**. Its ``forward`` is split in two so that a layer can do the
input half for every step in one GEMM before its loop (Keras and haste do the same):

* ``project_input(x)``: ``(..., I) -> (..., G*H)``, the input term of every gate;
* ``step(xp_t, state, recurrent_mask=None)``: ``(N, G*H)`` plus the state -> ``(h_t, state_t)``,
  itself ``pointwise(xp_t, recurrent_projection(h_{t-1}), state)``: one GEMM, then
  elementwise work — the split the fused kernels in :mod:`deeprnn.kernels` rely on.

``cell(x_t, state)`` is ``step(project_input(x_t), state)``. ``recurrent_mask`` (N, H), the
recurrent-dropout mask, multiplies ``h_{t-1}`` only where it enters ``W_hh``.

Weights use torch's layout and gate order: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H).
Default initialisation matches Keras: Glorot-uniform ``weight_ih``, orthogonal ``weight_hh``
(QR with sign fix), zero biases (LSTM forget gate 1); ``init="torch"`` gives torch's
``U(-1/sqrt(H), 1/sqrt(H))`` for every parameter.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import ConfigMixin
from deeprnn._validation import (
    check_bool,
    check_choice,
    check_fits_in_memory,
    check_float_tensor,
    check_positive_int,
)
from deeprnn.states import LSTMState, RNNState

INITS = ("keras", "torch")

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,  # negative_slope 0.01, torch's default
    "sigmoid": torch.sigmoid,
    "identity": lambda x: x,
}


def get_activation(name: str):
    check_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


class RecurrentCell(ConfigMixin, nn.Module):
    """Base class of the cells. Subclasses set ``num_gates`` and implement ``step``."""

    num_gates: int = 1
    state_type: type = RNNState
    has_cell_state: bool = False

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, init: str = "keras"):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.use_bias = check_bool("bias", bias)
        self.init = check_choice("init", init, INITS)
        gh = self.num_gates * hidden_size
        if torch.empty(0).device.type != "meta":  # a meta build (loading) allocates nothing
            check_fits_in_memory(
                "hidden_size" if hidden_size >= input_size else "input_size",
                max(hidden_size, input_size),
                gh * (input_size + hidden_size + 2),
                f"the weights of one {type(self).__name__}",
            )
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))  # (G*H, I)
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))  # (G*H, H)

    # -- initialisation -------------------------------------------------------------------
    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if name.startswith("ln_"):  # layer-norm gain 1, shift 0 under either scheme
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)
            elif self.init == "torch":
                nn.init.uniform_(p, -bound, bound)
            elif name == "weight_ih":
                nn.init.xavier_uniform_(p)  # Keras glorot_uniform on the (I, G*H) kernel
            elif name == "weight_hh":
                nn.init.orthogonal_(p)  # Keras orthogonal on the (H, G*H) recurrent kernel
            else:
                nn.init.zeros_(p)
        if self.init == "keras":
            self._reset_gate_biases()

    def _reset_gate_biases(self) -> None:
        """Hook for cells with non-zero default biases (LSTM forget gate)."""

    # -- the one-step contract -------------------------------------------------------------
    def initial_state(self, batch_size: int, device=None, dtype=None):
        """Zeros state for ``batch_size`` rows, on the cell's device and dtype by default."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
            raise ValueError(f"batch_size must be a non-negative int, got {batch_size!r}")
        device = device if device is not None else self.weight_hh.device
        dtype = dtype if dtype is not None else self.weight_hh.dtype
        zeros = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        if self.has_cell_state:
            return LSTMState(zeros, zeros.clone())
        return RNNState(zeros)

    def project_input(self, x: Tensor) -> Tensor:
        """Input term of every gate, ``(..., I) -> (..., G*H)``; includes the input bias."""
        return F.linear(x, self.weight_ih, self._input_bias())

    def _input_bias(self) -> Tensor | None:
        """The bias added with ``W_ih x`` (``bias``, or ``bias_ih`` for two-bias cells)."""
        return (
            getattr(self, "bias_ih", None)
            if "bias_ih" in self._parameters
            else getattr(self, "bias", None)
        )

    #: which hand-written BPTT the fused kernel uses ("lstm", "gru", "rnn", "minimal_gru"), or
    #: None: the kernel differentiates ``pointwise`` with autograd, one step at a time.
    fused_kind: str | None = None

    def recurrent_projection(self, h: Tensor) -> Tensor:
        """``W_hh h`` (plus ``bias_hh`` for two-bias cells): (N, H) -> (N, G*H)."""
        return F.linear(h, self.weight_hh, getattr(self, "bias_hh", None))

    def pointwise(self, xp: Tensor, hp: Tensor, state):  # pragma: no cover
        """The elementwise part of a step, given both projections."""
        raise NotImplementedError

    def step(self, xp: Tensor, state, recurrent_mask: Tensor | None = None):
        return self.pointwise(
            xp, self.recurrent_projection(recurrent_input(state.h, recurrent_mask)), state
        )

    def forward(self, x: Tensor, state=None, recurrent_mask: Tensor | None = None):
        """One step: ``x`` (N, I) and ``state`` -> ``(h, new_state)``; ``state=None`` is zeros."""
        check_float_tensor("x", x, 2)
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have {self.input_size} features (input_size), got shape {tuple(x.shape)}"
            )
        if state is None:
            state = self.initial_state(x.shape[0], device=x.device, dtype=x.dtype)
        state = self.coerce_state(state, x.shape[0])
        return self.step(self.project_input(x), state, recurrent_mask)

    def coerce_state(self, state, batch_size: int, name: str = "state"):
        """Accept a NamedTuple, a plain tuple or (for h-only cells) a tensor; check shapes."""
        if isinstance(state, Tensor):
            state = (state,)
        if not isinstance(state, (tuple, list)):
            raise TypeError(
                f"{name} must be a {self.state_type.__name__} or tuple of tensors, got {type(state).__name__}"
            )
        fields = self.state_type._fields
        if len(state) != len(fields):
            raise ValueError(
                f"{name} must have {len(fields)} tensor(s) {fields} for {type(self).__name__}, got {len(state)}"
            )
        want = (batch_size, self.hidden_size)
        for field, t in zip(fields, state):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}.{field} must be a tensor, got {type(t).__name__}")
            if tuple(t.shape) != want:
                raise ValueError(
                    f"{name}.{field} must have shape {want} (N, H), got {tuple(t.shape)}"
                )
        return self.state_type(*state)

    # -- config ----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "bias": self.use_bias,
            "init": self.init,
        }

    def extra_repr(self) -> str:
        extras = {
            k: v for k, v in self.get_config().items() if k not in ("input_size", "hidden_size")
        }
        return f"{self.input_size}, {self.hidden_size}, " + ", ".join(
            f"{k}={v!r}" for k, v in extras.items()
        )


def recurrent_input(h: Tensor, recurrent_mask: Tensor | None) -> Tensor:
    """``h_{t-1}`` as it enters ``W_hh``: masked by recurrent dropout when a mask is given."""
    return h if recurrent_mask is None else h * recurrent_mask


def add_layer_norms(cell: nn.Module, sizes: dict[str, int], bias: bool) -> None:
    """Register ``ln_{name}_weight`` (and ``ln_{name}_bias`` when ``bias``) for each size."""
    for name, size in sizes.items():
        cell.register_parameter(f"ln_{name}_weight", nn.Parameter(torch.empty(size)))
        shift = nn.Parameter(torch.empty(size)) if bias else None
        cell.register_parameter(f"ln_{name}_bias", shift)
