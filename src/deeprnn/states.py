"""Recurrent state containers: one documented layout for every layer.

Every state tensor is **batch-first**: ``h`` and ``c`` have shape ``(N, H)`` whatever
``batch_first`` says about the input (torch keeps ``h_n`` as ``(L*D, N, H)``; Keras returns an
undocumented list). A layer returns one state per (layer, direction), layer-major, forward
before backward — the order torch uses for ``h_n`` — wrapped in :class:`States`, which knows the
layout and picks a layer or a direction by name.

>>> import torch, deeprnn
>>> lstm = deeprnn.LSTM(8, 16, num_layers=2, bidirectional=True)
>>> out, states = lstm(torch.randn(4, 10, 8))
>>> states.select(layer=-1, direction="backward").h.shape
torch.Size([4, 16])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["LSTMState", "RNNState", "State", "States"]


class RNNState(NamedTuple):
    """State of a SimpleRNN or GRU cell: the hidden state ``h`` of shape (N, H)."""

    h: Tensor


class LSTMState(NamedTuple):
    """State of an LSTM cell: hidden state ``h`` and cell state ``c``, each (N, H)."""

    h: Tensor
    c: Tensor


State = RNNState | LSTMState

_DIRECTIONS = {"forward": 0, "fwd": 0, "backward": 1, "bwd": 1}


def _direction_index(direction: int | str) -> int:
    if isinstance(direction, str):
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
        return _DIRECTIONS[direction]
    if direction not in (0, 1):
        raise ValueError(f"direction must be 0, 1, 'forward' or 'backward', got {direction!r}")
    return int(direction)


class States(tuple):
    """The final states of a stack: one :data:`State` per (layer, direction), layer-major.

    ``layout[l]`` is the number of directions (1 or 2) of layer ``l``; ``len(states)`` equals
    ``sum(layout)``. It is a plain tuple too, so ``for s in states`` and ``states[0]`` work.
    """

    layout: tuple[int, ...]

    def __new__(cls, states: Sequence[State], layout: Sequence[int]):
        layout = tuple(int(d) for d in layout)
        if sum(layout) != len(states):
            raise ValueError(
                f"layout {layout} describes {sum(layout)} states, got {len(states)} states"
            )
        obj = super().__new__(cls, states)
        obj.layout = layout
        return obj

    def __getnewargs__(self):  # copy / pickle support for the tuple subclass
        return (tuple(self), self.layout)

    @property
    def num_layers(self) -> int:
        return len(self.layout)

    def _offset(self, layer: int) -> int:
        n = self.num_layers
        if not -n <= layer < n:
            raise IndexError(f"layer must be in [{-n}, {n - 1}], got {layer}")
        layer %= n
        return sum(self.layout[:layer])

    def layer(self, layer: int) -> tuple[State, ...]:
        """The states of one layer: ``(forward,)`` or ``(forward, backward)``."""
        start = self._offset(layer)
        return tuple(self[start : start + self.layout[layer % self.num_layers]])

    def select(self, layer: int = -1, direction: int | str = "forward") -> State:
        """The state of one layer and direction (``'forward'``/``'backward'`` or 0/1)."""
        d = _direction_index(direction)
        states = self.layer(layer)
        if d >= len(states):
            raise ValueError(f"layer {layer} is unidirectional; it has no backward state")
        return states[d]

    def direction(self, direction: int | str) -> tuple[State, ...]:
        """One direction's state of every layer that has that direction."""
        d = _direction_index(direction)
        return tuple(s[d] for s in (self.layer(i) for i in range(self.num_layers)) if d < len(s))

    @property
    def last(self) -> tuple[State, ...]:
        """The last layer's states (``(forward,)`` or ``(forward, backward)``)."""
        return self.layer(-1)

    def detach(self) -> States:
        return self.map(lambda t: t.detach())

    def map(self, fn) -> States:
        """Apply ``fn`` to every tensor, keeping the structure."""
        return States([type(s)(*(fn(t) for t in s)) for s in self], self.layout)

    def to_torch(self) -> Tensor | tuple[Tensor, Tensor]:
        """Stack into torch's ``h_n`` (and ``c_n``) layout ``(num_layers * D, N, H)``."""
        sizes = {s.h.shape[-1] for s in self}
        if len(sizes) > 1:
            raise ValueError(f"to_torch needs one hidden size in every layer, got {sorted(sizes)}")
        h = torch.stack([s.h for s in self])  # (L*D, N, H)
        if isinstance(self[0], LSTMState):
            return h, torch.stack([s.c for s in self])
        return h

    def __repr__(self) -> str:
        body = ", ".join(
            f"{type(s).__name__}("
            + ", ".join(f"{k}={tuple(t.shape)}" for k, t in s._asdict().items())
            + ")"
            for s in self
        )
        return f"States(layout={self.layout}, [{body}])"
