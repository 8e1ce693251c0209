"""``Recurrent(cell)``: one layer, one direction. It owns the time loop and every sequence
option; the cell only ever sees one step."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn._validation import (
    check_bool,
    check_choice,
    check_positive_int,
    check_probability,
)
from deeprnn.cells import RecurrentCell
from deeprnn.layers._sequence import SequenceLayer, last_step_index
from deeprnn.layers.regularizers import (
    KINDS,
    Constraint,
    Regularizer,
    check_initializer,
    get_constraint,
    get_regularizer,
    initialize,
    serialize,
)

IMPLS = ("auto", "torch", "fused", "parallel", "loop")
MASKED_OUTPUTS = ("zero", "carry")
WEIGHT_KINDS = ("kernel", "recurrent", "bias")
#: the Keras-style options every recurrent layer takes, with their defaults (today's behaviour)
KERAS_OPTIONS: dict[str, Any] = {
    "input_dropout": 0.0,
    "input_dropout_same_mask": True,
    "output_dropout": 0.0,
    "kernel_regularizer": None,
    "recurrent_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "recurrent_constraint": None,
    "bias_constraint": None,
    "kernel_initializer": None,
    "recurrent_initializer": None,
    "bias_initializer": None,
    "learn_initial_state": False,
}


@register
class Recurrent(SequenceLayer):
    r"""Run a cell over a sequence (Keras ``RNN(cell)``).

    For :math:`t = 1 \dots T` (or :math:`T \dots 1` with ``go_backwards``):

    .. math::
        (y_t, s_t) = \text{cell}(x_t, s_{t-1}) \text{ if } m_t \text{ else } (0, s_{t-1})

    so a masked step carries the state through unchanged and outputs zeros
    (``masked_output="carry"`` repeats the previous output instead, as Keras does). The final
    state is the state after each row's last real step; an empty row keeps its initial state.
    With ``go_backwards`` the scan starts at each row's last real step — padding is skipped,
    not read — and outputs stay aligned with the input: ``out[:, t]`` belongs to ``x[:, t]``
    (Keras returns them reversed).

    Args:
        cell: a :class:`~deeprnn.cells.RecurrentCell`.
        go_backwards: scan from the end.
        recurrent_dropout: variational dropout on :math:`h_{t-1}` where it enters
            :math:`W_{hh}`: one mask per sequence, the same at every step (Gal & Ghahramani
            2016), off in eval.
        zoneout: probability of keeping each unit of the previous state (Krueger et al. 2016);
            in eval the expectation :math:`p\,s_{t-1} + (1-p)\,s_t`.
        masked_output: ``"zero"`` or ``"carry"``.
        impl: ``"auto"`` picks the fastest implementation that runs the configuration:
            ``"torch"`` (torch's fused cuDNN / oneDNN op: plain LSTM, reset-after GRU,
            tanh/relu SimpleRNN, no recurrent dropout in training, no zoneout), else
            ``"fused"`` (deeprnn's kernel with hand-written BPTT, :mod:`deeprnn.kernels`), else
            ``"loop"``, the readable Python loop every kernel is tested against. The linear
            recurrences (:class:`~deeprnn.cells.MinGRUCell`, ``MinLSTMCell``, ``LRUCell``)
            have no torch op: ``"fused"`` is their compiled CPU scan, ``"parallel"`` the
            associative scan in torch (:mod:`deeprnn.kernels.parallel`). The choice is
            made per call by :func:`deeprnn.kernels.choose`; ``deeprnn.kernels.explain(model,
            x)`` runs a model once and says what each recurrent layer ran and why.
        checkpoint_steps: activation checkpointing over time: keep the states every this many
            steps and recompute the rest in the backward pass (memory O(T/C + C) instead of
            O(T), about one extra forward in time). Training only.
        input_dropout: dropout on the layer's inputs :math:`x_t` (Keras' ``dropout``, TF1
            ``DropoutWrapper(input_keep_prob=1 - p)``), training only.
        input_dropout_same_mask: one (N, I) mask per sequence, the same at every step (Keras);
            ``False`` draws a fresh mask at every step (TF1's default).
        output_dropout: dropout on the outputs :math:`y_t` (not on the state), a fresh mask at
            every step (TF1 ``DropoutWrapper(output_keep_prob=1 - p)``); the last-step summary
            is the dropped output of that step. Training only.
        kernel_regularizer: penalty on ``weight_ih`` (``"l1"``, ``"l2"``, ``0.01``, an
            :class:`~deeprnn.layers.L1L2` ...), see :mod:`deeprnn.layers.regularizers`; read
            the penalties with :meth:`regularization_loss`.
        recurrent_regularizer: penalty on ``weight_hh``.
        bias_regularizer: penalty on the biases.
        activity_regularizer: penalty on the layer's output of the last call.
        kernel_constraint: projection of ``weight_ih`` after each optimizer step
            (``"non_neg"``, ``"max_norm"``, a :class:`~deeprnn.layers.MaxNorm` ...).
        recurrent_constraint: the same for ``weight_hh``.
        bias_constraint: the same for the biases.
        kernel_initializer: Keras initializer name for ``weight_ih`` (``None``: the cell's).
        recurrent_initializer: for ``weight_hh``.
        bias_initializer: for the biases.
        learn_initial_state: a trainable initial state :math:`s_0` (``initial_h`` and, for an
            LSTM, ``initial_c``, each (H,), starting at zero), used when no ``initial_state``
            is passed.
        batch_first: input (N, T, I) when True (as in Keras), else (T, N, I).
        return_sequences: return the outputs of every step, or (N, H) at each row's last real
            step when False.
        return_state: also return the final :class:`~deeprnn.States`.
        stateful: carry the final states into the next call (``reset_states()`` clears them).

    >>> from deeprnn.cells import LSTMCell
    >>> layer = Recurrent(LSTMCell(8, 16), return_state=False)
    >>> layer(torch.randn(4, 10, 8), lengths=torch.tensor([10, 3, 0, 7])).shape
    torch.Size([4, 10, 16])
    """

    def __init__(
        self,
        cell: RecurrentCell,
        *,
        go_backwards: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        masked_output: str = "zero",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        batch_first: bool = True,
        return_sequences: bool = True,
        return_state: bool = True,
        stateful: bool = False,
        input_dropout: float = 0.0,
        input_dropout_same_mask: bool = True,
        output_dropout: float = 0.0,
        kernel_regularizer: Regularizer | str | float | None = None,
        recurrent_regularizer: Regularizer | str | float | None = None,
        bias_regularizer: Regularizer | str | float | None = None,
        activity_regularizer: Regularizer | str | float | None = None,
        kernel_constraint: Constraint | str | None = None,
        recurrent_constraint: Constraint | str | None = None,
        bias_constraint: Constraint | str | None = None,
        kernel_initializer: str | None = None,
        recurrent_initializer: str | None = None,
        bias_initializer: str | None = None,
        learn_initial_state: bool = False,
    ):
        super().__init__(
            batch_first=batch_first,
            return_sequences=return_sequences,
            return_state=return_state,
            stateful=stateful,
        )
        if not isinstance(cell, RecurrentCell):
            raise TypeError(f"cell must be a deeprnn RecurrentCell, got {type(cell).__name__}")
        self.cell = cell
        self.input_size = cell.input_size
        self.hidden_size = cell.hidden_size
        self.output_size = cell.hidden_size
        self.layout = (1,)
        self.go_backwards = check_bool("go_backwards", go_backwards)
        self.recurrent_dropout = check_probability("recurrent_dropout", recurrent_dropout)
        if self.recurrent_dropout and getattr(cell, "scan_kind", ""):
            raise ValueError(
                f"recurrent_dropout must be 0 for {type(cell).__name__} (it has no recurrent "
                f"matrix to drop into), got {recurrent_dropout}; use input_dropout or zoneout"
            )
        self.zoneout = check_probability("zoneout", zoneout)
        self.masked_output = check_choice("masked_output", masked_output, MASKED_OUTPUTS)
        self.impl = check_choice("impl", impl, IMPLS)
        if self.impl == "parallel" and not getattr(cell, "scan_kind", ""):
            raise ValueError(
                f"impl='parallel' runs the linear recurrences (mingru, minlstm, lru), not "
                f"{type(cell).__name__}; use impl='auto', 'torch', 'fused' or 'loop'"
            )
        if checkpoint_steps is not None:
            check_positive_int("checkpoint_steps", checkpoint_steps)
        self.checkpoint_steps = checkpoint_steps
        self._probe = None  # set by deeprnn.GradientProbe: called as probe(t, dL/dh_t)
        self.input_dropout = check_probability("input_dropout", input_dropout)
        self.input_dropout_same_mask = check_bool(
            "input_dropout_same_mask", input_dropout_same_mask
        )
        self.output_dropout = check_probability("output_dropout", output_dropout)
        given = dict(
            kernel=(kernel_regularizer, kernel_constraint, kernel_initializer),
            recurrent=(recurrent_regularizer, recurrent_constraint, recurrent_initializer),
            bias=(bias_regularizer, bias_constraint, bias_initializer),
        )
        self.regularizers = {
            k: get_regularizer(f"{k}_regularizer", r) for k, (r, _, _) in given.items()
        }
        self.constraints = {
            k: get_constraint(f"{k}_constraint", c) for k, (_, c, _) in given.items()
        }
        self.initializers = {
            k: check_initializer(f"{k}_initializer", i, k) for k, (_, _, i) in given.items()
        }
        self.activity_regularizer = get_regularizer("activity_regularizer", activity_regularizer)
        self._activity: tuple[Tensor, Tensor] | None = None  # (out, summary) of the last call
        self._initialize()
        self.learn_initial_state = check_bool("learn_initial_state", learn_initial_state)
        if self.learn_initial_state:
            for name in cell.state_type._fields:  # initial_h (and initial_c), (H,) each
                ref = cell.weight_hh
                zeros = torch.zeros(cell.hidden_size, device=ref.device, dtype=ref.dtype)
                self.register_parameter(f"initial_{name}", nn.Parameter(zeros))

    def _cells(self) -> list[RecurrentCell]:
        return [self.cell]

    def _recurrents(self) -> list[Recurrent]:
        return [self]

    # -- Keras per-weight options ------------------------------------------------------------
    def _weights(self):
        """(kind, parameter) for the cell's kernel, recurrent kernel and biases."""
        for name, p in self.cell.named_parameters(recurse=False):
            if name in KINDS and p is not None:
                yield KINDS[name], p

    def _initialize(self) -> None:
        if not any(self.initializers.values()):
            return
        for kind, p in self._weights():
            if self.initializers[kind] is not None:
                initialize(p, self.initializers[kind])
        if self.initializers["bias"] is not None and self.cell.init == "keras":
            self.cell._reset_gate_biases()  # LSTM forget gate 1: Keras' unit_forget_bias

    def default_state(self, batch_size: int, device=None, dtype=None):
        """Zeros, or the learned initial state repeated over ``batch_size`` rows."""
        if not self.learn_initial_state:
            return self.cell.initial_state(batch_size, device, dtype)
        fields = self.cell.state_type._fields
        return self.cell.state_type(
            *(
                getattr(self, f"initial_{f}")
                .to(device=device, dtype=dtype)[None]
                .repeat(batch_size, 1)  # (N, H)
                for f in fields
            )
        )

    def weight_penalty(self) -> Tensor:
        """Kernel, recurrent and bias regularizers on the current weights (0-dim)."""
        total = self.cell.weight_hh.new_zeros(())
        for kind, p in self._weights():
            if self.regularizers[kind] is not None:
                total = total + self.regularizers[kind](p)
        return total

    def activity_penalty(self, sequences: bool | None = None) -> Tensor:
        """The activity regularizer on the last call's output, over the batch size (Keras):
        the (N, T, H) sequence when ``sequences`` (default: ``return_sequences``), else the
        (N, H) last-step output."""
        if self.activity_regularizer is None or self._activity is None:
            return self.cell.weight_hh.new_zeros(())
        out, summary = self._activity
        sequences = self.return_sequences if sequences is None else sequences
        y = out if sequences else summary
        return self.activity_regularizer(y) / max(1, y.shape[0])

    def regularization_loss(self) -> Tensor:
        return self.weight_penalty() + self.activity_penalty()

    def __getstate__(self):
        # the last call's outputs are part of a graph: never copied or pickled with the layer
        state = dict(super().__getstate__())
        state["_activity"] = None
        return state

    def apply_constraints(self) -> None:
        """Project the constrained weights in place (call after each ``optimizer.step()``)."""
        with torch.no_grad():
            for kind, p in self._weights():
                if self.constraints[kind] is not None:
                    p.copy_(self.constraints[kind](p))

    # -- regularisers ----------------------------------------------------------------------
    def _recurrent_mask(self, batch: int, like: Tensor) -> Tensor | None:
        """(N, H) inverted-dropout mask, sampled once per call and reused at every step."""
        p = self.recurrent_dropout
        if not self.training or p == 0.0:
            return None
        keep = torch.empty(batch, self.hidden_size, device=like.device, dtype=like.dtype)
        return keep.bernoulli_(1.0 - p) / (1.0 - p)

    def _drop_input(self, x: Tensor) -> Tensor:
        """Keras ``dropout``: inverted dropout on x (N, T, I), one mask per sequence or per step."""
        p = self.input_dropout
        if not self.training or p == 0.0:
            return x
        shape = (x.shape[0], 1, x.shape[2]) if self.input_dropout_same_mask else x.shape
        keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - p)
        return x * keep / (1.0 - p)  # (N, T, I)

    def _drop_output(self, out: Tensor, summary: Tensor, mask: Tensor | None):
        """TF1 ``output_keep_prob``: a fresh mask per step; the summary keeps its step's mask."""
        p = self.output_dropout
        if not self.training or p == 0.0:
            return out, summary
        keep = torch.empty_like(out).bernoulli_(1.0 - p) / (1.0 - p)  # (N, T, H)
        batch, steps = out.shape[:2]
        index = last_step_index(mask, batch, steps, self.go_backwards, out.device)  # (N,)
        last = keep.gather(1, index[:, None, None].expand(-1, 1, keep.shape[-1])).squeeze(1)
        return out * keep, summary * last

    def _zoneout_masks(self, steps: int, state) -> tuple[Tensor, ...] | None:
        """(T, N, H) keep-masks per state tensor, drawn up front (training only)."""
        if not self.training or not self.zoneout:
            return None
        return tuple(torch.rand(steps, *s.shape, device=s.device) < self.zoneout for s in state)

    def _zoneout(self, old, new, keeps, t: int):
        if keeps is not None:
            return type(new)(*(torch.where(k[t], o, n) for k, o, n in zip(keeps, old, new)))
        return type(new)(*(torch.lerp(n, o, self.zoneout) for o, n in zip(old, new)))

    # -- implementations ---------------------------------------------------------------------
    def _run(self, x: Tensor, mask: Tensor | None, states: list):
        from deeprnn.kernels.dispatch import choose

        state = states[0]
        x = self._drop_input(x)
        choice = choose(self, x, mask, state)  # which implementation, and why
        rec_mask = None if choice.impl == "torch" else self._recurrent_mask(x.shape[0], x)
        keeps = None if choice.impl == "torch" else self._zoneout_masks(x.shape[1], state)
        chunk = self.checkpoint_steps
        if chunk and self.training and torch.is_grad_enabled() and x.shape[1] > chunk:
            out, state = self._scan_checkpointed(choice, x, mask, state, rec_mask, keeps, chunk)
        else:
            out, state = self._scan(choice, x, mask, state, rec_mask, keeps)
        summary = state.h if mask is None else state.h * mask.any(dim=1, keepdim=True)  # (N, H)
        out, summary = self._drop_output(out, summary, mask)
        if self.activity_regularizer is not None:
            self._activity = (out, summary)
        return out, summary, [state]

    def _scan(self, choice, x: Tensor, mask: Tensor | None, state, rec_mask, keeps):
        """One pass of the chosen implementation (a :class:`~deeprnn.kernels.Choice`):
        ``(out (N, T, H), final state)``."""
        if choice.impl == "torch":
            from deeprnn.kernels.torch_rnn import torch_scan

            out, finals = torch_scan([self], x, mask, [state])
            return out, finals[0]
        if choice.kernel in ("compiled_scan", "triton_scan", "parallel_scan"):
            from deeprnn.kernels.parallel import parallel_scan

            return parallel_scan(self, x, mask, state, choice.kernel)
        if choice.impl == "fused":
            from deeprnn.kernels.fused import fused_scan

            return fused_scan(self, x, mask, state, rec_mask, keeps, choice.kernel)
        return self._run_loop(x, mask, state, rec_mask, keeps)

    def _scan_checkpointed(self, choice, x, mask, state, rec_mask, keeps, chunk: int):
        """Activation checkpointing over time: keep only the states between chunks of ``chunk``
        steps and recompute each chunk's activations during the backward pass."""
        from torch.utils.checkpoint import checkpoint

        steps = x.shape[1]
        starts = list(range(0, steps, chunk))
        if self.go_backwards:
            starts.reverse()
        outs = {}
        state_type = type(state)
        for start in starts:
            sl = slice(start, min(start + chunk, steps))
            m = None if mask is None else mask[:, sl]
            kp = None if keeps is None else tuple(k[sl] for k in keeps)

            def run(xc, *st, m=m, kp=kp):
                out, new = self._scan(choice, xc, m, state_type(*st), rec_mask, kp)
                return out, *new

            out, *new = checkpoint(run, x[:, sl], *state, use_reentrant=False)
            state = state_type(*new)
            outs[start] = out
        return torch.cat([outs[s] for s in sorted(outs)], dim=1), state

    def _run_loop(self, x: Tensor, mask: Tensor | None, state, rec_mask, keeps):
        """The readable reference loop: one ``cell.step`` per time step."""
        batch, steps, _ = x.shape
        xp = self.cell.project_input(x)  # (N, T, G*H): the input half of every gate, one GEMM
        carry = self.masked_output == "carry"
        prev = x.new_zeros(batch, self.hidden_size)  # last output, for masked_output="carry"
        outputs: list[Tensor | None] = [None] * steps
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            h, new = self.cell.step(xp[:, t], state, rec_mask)
            if self.zoneout:
                new = self._zoneout(state, new, keeps, t)
                h = new.h
            if mask is not None:
                m = mask[:, t, None]  # (N, 1)
                new = type(new)(*(torch.where(m, n, o) for n, o in zip(new, state)))
                h = torch.where(m, new.h, prev if carry else torch.zeros_like(new.h))
            state = new
            if self._probe is not None and state.h.requires_grad:
                state.h.register_hook(lambda g, t=t: self._probe(self, t, g))
            outputs[t] = h
            prev = h
        if steps:
            out = torch.stack(outputs, dim=1)  # (N, T, H)
        else:
            out = x.new_zeros(batch, 0, self.hidden_size)
        return out, state

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "cell": {"class": type(self.cell).__name__, "config": self.cell.get_config()},
            "go_backwards": self.go_backwards,
            "recurrent_dropout": self.recurrent_dropout,
            "zoneout": self.zoneout,
            "masked_output": self.masked_output,
            "impl": self.impl,
            "checkpoint_steps": self.checkpoint_steps,
            **self._base_config(),
            **self.keras_config(),
        }

    def keras_config(self) -> dict[str, Any]:
        """The Keras-style options (:data:`KERAS_OPTIONS`), JSON-serialisable."""
        return {
            "input_dropout": self.input_dropout,
            "input_dropout_same_mask": self.input_dropout_same_mask,
            "output_dropout": self.output_dropout,
            **{f"{k}_regularizer": serialize(self.regularizers[k]) for k in WEIGHT_KINDS},
            "activity_regularizer": serialize(self.activity_regularizer),
            **{f"{k}_constraint": serialize(self.constraints[k]) for k in WEIGHT_KINDS},
            **{f"{k}_initializer": self.initializers[k] for k in WEIGHT_KINDS},
            "learn_initial_state": self.learn_initial_state,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        from deeprnn._config import registered_classes

        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, dict):
            cell = registered_classes()[cell["class"]].from_config(cell["config"])
        return cls(cell, **config)

    def extra_repr(self) -> str:
        opts = [f"go_backwards={self.go_backwards}"] if self.go_backwards else []
        opts += [f"recurrent_dropout={self.recurrent_dropout}"] if self.recurrent_dropout else []
        opts += [f"zoneout={self.zoneout}"] if self.zoneout else []
        opts += [f"input_dropout={self.input_dropout}"] if self.input_dropout else []
        opts += [f"output_dropout={self.output_dropout}"] if self.output_dropout else []
        opts += ["learn_initial_state=True"] if self.learn_initial_state else []
        return ", ".join(opts)
