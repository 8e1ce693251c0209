"""The public calling convention shared by every recurrent layer.

Symbols used in every docstring: N batch size, T (or L) time steps, I input features,
H hidden size, D directions (1 or 2), F output features.

``layer(x, lengths=None, mask=None, initial_state=None)``:

* ``x``: (N, T, I) with ``batch_first=True`` (the default), else (T, N, I), with T >= 1 (an
  input with no time steps is a ``ValueError``, as in torch and Keras; a row with no real
  steps is fine: give it length 0) and the dtype of the layer's parameters (a
  ``TypeError`` otherwise, except under ``torch.autocast``);
* ``lengths``: (N,) integers in [0, T] for post-padded batches; or
* ``mask``: (N, T) bool, True at real steps — any padding side, always batch-first (like
  torch's ``key_padding_mask``);
* ``initial_state``: :class:`~deeprnn.States`, a list of per-(layer, direction) states, or a
  single state / ``h`` tensor for a one-layer, one-direction layer. Batch-first, (N, H) each.

Without ``lengths`` and ``mask``, the mask attached to ``x`` by the module that produced it
(``deeprnn.Masking``, ``deeprnn.Embedding(mask_zero=True)``, an earlier deeprnn layer) is used;
see :mod:`deeprnn.layers.masking`.

Returns ``output`` — (N, T, F) with ``return_sequences=True`` (zeros at masked steps, and the
mask attached for the next layer), else (N, F), the output at each row's last real step (zeros
for an empty row) — and, with ``return_state=True``, ``(output, states)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin
from deeprnn._validation import (
    check_bool,
    check_float_tensor,
    check_lengths,
    check_mask,
    check_same_dtype,
)
from deeprnn.layers.masking import attach_mask, get_mask, strip_mask
from deeprnn.states import States

_TUPLE_HINT = (
    "x must be a torch.Tensor, got tuple: the module before this one returned "
    "(output, states), as deeprnn layers do by default. In nn.Sequential build that layer with "
    "return_state=False, as in deeprnn.LSTM(..., return_state=False), stack layers with "
    "deeprnn.DeepRNN / num_layers instead, or take out[0]"
)


def lengths_to_mask(lengths: Tensor, steps: int) -> Tensor:
    """(N,) lengths -> (N, T) bool mask, True at the first ``lengths[n]`` steps.

    Internal and unchecked (no data-dependent checks, so torch.compile keeps one graph); the
    public, validating version is :func:`deeprnn.data.lengths_to_mask`.
    """
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def last_step_index(mask: Tensor | None, batch: int, steps: int, backwards: bool, device) -> Tensor:
    """(N,) index of each row's last real step in scan order (the first for a backward scan);
    0 or T-1 for an empty row, whose summary is zeroed anyway."""
    if mask is None:
        return torch.full((batch,), 0 if backwards else steps - 1, device=device)
    pos = torch.arange(steps, device=device)
    if backwards:
        return torch.where(mask, pos, steps).amin(dim=1).clamp(max=steps - 1)
    return torch.where(mask, pos, -1).amax(dim=1).clamp(min=0)


class SequenceLayer(ConfigMixin, nn.Module):
    """Base of ``Recurrent``, ``Bidirectional`` and ``DeepRNN``: validation, layouts, state.

    Subclasses define ``input_size``, ``layout`` (directions per layer), ``_cells()`` (one cell
    per (layer, direction), layer-major) and ``_run(x, mask, states) -> (out, summary, finals)``
    on batch-first tensors.
    """

    layout: tuple[int, ...]
    input_size: int

    def __init__(
        self,
        *,
        batch_first: bool = True,
        return_sequences: bool = True,
        return_state: bool = True,
        stateful: bool = False,
    ):
        super().__init__()
        self.batch_first = check_bool("batch_first", batch_first)
        self.return_sequences = check_bool("return_sequences", return_sequences)
        self.return_state = check_bool("return_state", return_state)
        self.stateful = check_bool("stateful", stateful)
        self._stored: States | None = None

    # -- to implement ------------------------------------------------------------------------
    def _cells(self) -> list[nn.Module]:  # pragma: no cover
        raise NotImplementedError

    def _run(self, x: Tensor, mask: Tensor | None, states: list):  # pragma: no cover
        raise NotImplementedError

    def _recurrents(self) -> list[nn.Module]:  # pragma: no cover
        """The ``Recurrent`` layers, one per (layer, direction), in the order of ``_cells()``."""
        raise NotImplementedError

    # -- states --------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, device=None, dtype=None) -> States:
        """The states used when no ``initial_state`` is passed, for every (layer, direction):
        zeros, or the learned ones of layers built with ``learn_initial_state=True``."""
        return States(
            [r.default_state(batch_size, device, dtype) for r in self._recurrents()], self.layout
        )

    def _coerce_initial_state(self, initial_state, batch: int) -> list:
        cells = self._cells()
        if isinstance(initial_state, Tensor) or (
            isinstance(initial_state, tuple) and hasattr(initial_state, "_fields")
        ):
            initial_state = [initial_state]
        if not isinstance(initial_state, Sequence):
            raise TypeError(
                f"initial_state must be States, a list of states or a tensor, got {type(initial_state).__name__}"
            )
        if len(initial_state) != len(cells):
            raise ValueError(
                f"initial_state must hold {len(cells)} states (one per layer and direction, "
                f"layout {self.layout}), got {len(initial_state)}"
            )
        return [
            cell.coerce_state(s, batch, name=f"initial_state[{i}]")
            for i, (cell, s) in enumerate(zip(cells, initial_state))
        ]

    def reset_states(self, mask: Tensor | None = None) -> None:
        """Forget the carried state of a stateful layer: all rows, or rows where ``mask``."""
        if mask is None or self._stored is None:
            self._stored = None
            return
        batch = self._stored[0].h.shape[0]
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (batch,):
            shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(f"mask must be a bool tensor of shape ({batch},), got {shape}")
        keep = ~mask.to(self._stored[0].h.device)[:, None]  # (N, 1)
        ref = self._stored[0].h
        fresh = self.initial_state(batch, ref.device, ref.dtype)  # zeros or the learned states
        self._stored = States(
            [
                type(s)(*(torch.where(keep, t, f.detach()) for t, f in zip(s, f0)))
                for s, f0 in zip(self._stored, fresh)
            ],
            self.layout,
        )

    @property
    def states(self) -> States | None:
        """The carried states of a stateful layer (``None`` before the first call)."""
        return self._stored

    # -- streaming ---------------------------------------------------------------------------
    def stream(self, chunks, initial_state=None):
        """Run over an arbitrarily long input given as consecutive chunks, in constant memory.

        ``chunks`` yields tensors shaped like ``x`` (same batch, any number of steps); each
        chunk's output is yielded as soon as it is computed, with the state carried to the next
        chunk under ``torch.no_grad()``. Only forward scans can stream: a backward scan needs
        the end of the sequence first. The layer's own ``stateful`` storage is left untouched.

        >>> import deeprnn
        >>> lstm = deeprnn.LSTM(4, 8, num_layers=2).eval()
        >>> chunks = (torch.randn(2, 100, 4) for _ in range(10))
        >>> sum(out.shape[1] for out in lstm.stream(chunks))
        1000
        """
        if any(d == 2 for d in self.layout) or getattr(self, "go_backwards", False):
            raise ValueError(
                "stream needs a forward-only layer; bidirectional and go_backwards layers see the whole sequence"
            )
        state = initial_state
        with torch.no_grad():
            for chunk in chunks:
                saved = (self.return_sequences, self.return_state, self.stateful)
                self.return_sequences, self.return_state, self.stateful = True, True, False
                try:
                    out, state = self.forward(chunk, initial_state=state)
                finally:
                    self.return_sequences, self.return_state, self.stateful = saved
                yield out

    # -- the call ----------------------------------------------------------------------------
    def forward(self, x: Tensor, lengths=None, mask=None, initial_state=None):
        if isinstance(x, tuple) and not hasattr(x, "_fields"):  # not a PackedSequence
            raise TypeError(_TUPLE_HINT)
        check_float_tensor("x", x, 3)
        if lengths is None and mask is None:
            mask = get_mask(x)  # attached by Masking / Embedding / the layer before
        x = strip_mask(x)  # the recurrence runs on a plain tensor
        given = tuple(x.shape)  # in the caller's layout, for messages
        if not self.batch_first:
            x = x.transpose(0, 1)  # (T, N, I) -> (N, T, I)
        batch, steps, features = x.shape
        if features != self.input_size:
            raise ValueError(
                f"x must have {self.input_size} features (input_size) in its last dimension, "
                f"got shape {given}"
            )
        if steps == 0:
            raise ValueError(f"x must have at least one time step, got shape {given}")
        dtype = check_same_dtype("x", x, self)  # of the states: the parameters' dtype
        if lengths is not None and mask is not None:
            raise ValueError("pass lengths or mask, not both")
        if lengths is not None:
            mask = lengths_to_mask(check_lengths(lengths, batch, steps, x.device), steps)
        elif mask is not None:
            mask = check_mask(mask, batch, steps, x.device)
        if initial_state is not None:
            states = self._coerce_initial_state(initial_state, batch)
        elif self.stateful and self._stored is not None:
            stored_batch = self._stored[0].h.shape[0]
            if stored_batch != batch:
                raise ValueError(
                    f"stateful layer carries states for batch size {stored_batch}, got x with batch "
                    f"size {batch}; call reset_states() before changing the batch size"
                )
            states = list(self._stored)
        else:
            states = list(self.initial_state(batch, x.device, dtype))
        states = [type(s)(*(t.to(dtype=dtype) for t in s)) for s in states]
        out, summary, finals = self._run(x, mask, states)
        finals = States(finals, self.layout)
        if self.stateful:
            self._stored = finals.detach()
        output = out if self.return_sequences else summary
        if self.return_sequences and not self.batch_first:
            output = (
                tuple(o.transpose(0, 1) for o in output)
                if isinstance(output, tuple)
                else output.transpose(0, 1)
            )
        if self.return_sequences and mask is not None:  # the mask flows on to the next layer
            if isinstance(output, tuple):
                output = tuple(attach_mask(o, mask) for o in output)
            else:
                output = attach_mask(output, mask)
        return (output, finals) if self.return_state else output

    # -- Keras-style penalties and constraints -------------------------------------------------
    def _penalised(self) -> list[tuple[nn.Module, bool]]:
        """(Recurrent, whether its output counts as a sequence) for the activity penalty."""
        return [(r, self.return_sequences) for r in self._recurrents()]

    def regularization_loss(self) -> Tensor:
        """The layer's penalties (Keras ``sum(layer.losses)``): kernel, recurrent and bias
        regularizers on the current weights, plus the activity regularizer on the outputs of
        the last call. A 0-dim tensor, 0 when nothing is regularised."""
        ref = self._cells()[0].weight_hh
        total = ref.new_zeros(())
        for rec, sequences in self._penalised():
            total = total + rec.weight_penalty() + rec.activity_penalty(sequences)
        return total

    def apply_constraints(self) -> None:
        """Project the constrained weights in place; call after each ``optimizer.step()``."""
        for rec in self._recurrents():
            rec.apply_constraints()

    def _base_config(self) -> dict:
        return {
            "batch_first": self.batch_first,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "stateful": self.stateful,
        }
