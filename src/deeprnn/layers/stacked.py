"""``DeepRNN``: a stack of recurrent layers with everything that goes between them."""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn._validation import (
    check_bool,
    check_choice,
    check_positive_int,
    check_probability,
    close_key_hint,
)
from deeprnn.cells import ACTIVATIONS, CELLS
from deeprnn.cells._base import INITS
from deeprnn.layers._sequence import SequenceLayer, last_step_index
from deeprnn.layers.bidirectional import Bidirectional, check_merge_mode
from deeprnn.layers.feedforward import FeedForward
from deeprnn.layers.norm import MaskedBatchNorm1d
from deeprnn.layers.recurrent import IMPLS, KERAS_OPTIONS, MASKED_OUTPUTS, Recurrent
from deeprnn.layers.regularizers import Constraint, Regularizer, drop_recurrent_weights

#: Keras options set once for the whole stack (input / output dropout are per layer)
STACK_OPTIONS = tuple(k for k in KERAS_OPTIONS if k not in ("input_dropout", "output_dropout"))

NORMS = ("batch", "layer", None)


@dataclass
class LayerSpec:
    """One layer of a :class:`DeepRNN`. Fields left ``None`` take the stack's value."""

    hidden_size: int | None = None
    cell: str | None = None
    bidirectional: bool | None = None
    merge_mode: str | None = "inherit"
    activation: str | None = None
    reset_after: bool | None = None
    layer_norm: bool | None = None
    bias: bool | None = None
    recurrent_dropout: float | None = None
    zoneout: float | None = None
    input_dropout: float | None = None
    output_dropout: float | None = None
    cell_options: dict | None = None

    @classmethod
    def coerce(cls, spec, index: int) -> LayerSpec:
        if isinstance(spec, LayerSpec):
            return spec
        if isinstance(spec, int) and not isinstance(spec, bool):
            return cls(hidden_size=spec)
        if isinstance(spec, dict):
            valid = [f.name for f in fields(cls)]
            for key in spec:
                if key not in valid:
                    raise ValueError(
                        f"layers[{index}] has unknown key {key!r}{close_key_hint(key, valid)}; "
                        f"valid keys: {valid}"
                    )
            return cls(**spec)
        raise TypeError(
            f"layers[{index}] must be a LayerSpec, a dict or an int hidden size, got {type(spec).__name__}"
        )


def _gather_steps(out: Tensor, index: Tensor) -> Tensor:
    """out (N, T, F), index (N,) -> (N, F)."""
    return out.gather(1, index[:, None, None].expand(-1, 1, out.shape[-1])).squeeze(1)


@register
class DeepRNN(SequenceLayer):
    r"""A stack of recurrent layers: mixed cells and sizes, per-layer bidirectionality, and the
    connections and regularisers that go between layers.

    Layer :math:`l` maps :math:`x_l` (N, T, I_l) to :math:`y_l = \mathrm{block}_l(x_l)`; then

    .. math::
        \begin{aligned}
        y_l &\leftarrow y_l + P_l x_l && \text{residual (}l \ge 1\text{)} \\
        y_l &\leftarrow g \odot y_l + (1 - g) \odot P_l x_l,\ g = \sigma(W_g x_l + b_g)
            && \text{highway (}l \ge 1\text{)} \\
        y_l &\leftarrow y_l + W_2\,\mathrm{GELU}(W_1\,\mathrm{LN}(y_l))
            && \text{feed-forward (}\texttt{dim\_feedforward}\text{)} \\
        x_{l+1} &= \mathrm{dropout}(\mathrm{norm}(y_l)) && (l < L - 1)
        \end{aligned}

    with :math:`P_l` the identity, or a bias-free projection when sizes differ; ``norm`` is a
    masked batch norm (statistics over real steps only) or a layer norm.

    Args:
        input_size: I, features of each step.
        layers: one entry per layer — an int (hidden size), a dict or a :class:`LayerSpec`
            (``cell``, ``hidden_size``, ``bidirectional``, ``merge_mode``, ``activation``,
            ``reset_after``, ``layer_norm``, ``bias``, ``recurrent_dropout``, ``zoneout``,
            ``input_dropout``, ``output_dropout``, ``cell_options``); omitted fields take the
            stack-wide value below. ``None``: ``num_layers`` layers of ``hidden_size``.
        cell: ``"lstm"``, ``"gru"``, ``"rnn"``, ``"minimal_gru"``, or a linear recurrence that
            trains in parallel over time: ``"mingru"``, ``"minlstm"``, ``"lru"`` (see
            :mod:`deeprnn.cells.parallel`; the papers' deep stack is ``residual=True,
            norm="layer"``).
        hidden_size: H of every layer (with ``num_layers``), or the default of ``layers``.
        num_layers: how many layers of ``hidden_size`` (when ``layers`` is not given).
        bidirectional: a backward copy of every layer (the per-layer default).
        merge_mode: how the two directions' outputs are merged: ``"concat"``, ``"sum"``,
            ``"mul"``, ``"ave"`` or ``None`` (last layer only: returns a tuple).
        activation: SimpleRNN nonlinearity (``"tanh"``, ``"relu"`` ...).
        reset_after: GRU variant (True: Keras 2 / cuDNN, reset applied after the matmul).
        layer_norm: use the layer-normalised LSTM / GRU cells.
        bias: gate biases.
        dropout: between layers (not after the last), as in torch: a one-layer stack drops
            nothing. For Keras' ``dropout`` (on each layer's inputs) use ``input_dropout``.
        recurrent_dropout: variational dropout on the recurrent input, see :class:`Recurrent`.
        weight_dropout: DropConnect on every recurrent matrix :math:`W_{hh}` (AWD-LSTM's weight
            drop, Merity et al. 2018): one mask per call, the same at every step and for every
            row, training only (:func:`~deeprnn.layers.regularizers.drop_recurrent_weights`).
            Not for the linear recurrences, which have no :math:`W_{hh}`.
        zoneout: zoneout probability on the state, see :class:`Recurrent`.
        residual: add each layer's input to its output around layers 2..L.
        dim_feedforward: a position-wise feed-forward block after every layer, with its own
            residual and pre-layer-norm (:class:`FeedForward`, width ``dim_feedforward``): the
            channel mixing between the linear recurrences of Feng et al. 2024 / Orvieto et al.
            2023, whose cells mix channels only through their gates. ``None``: no block.
        highway: gate each layer's output against its input around layers 2..L.
        norm: ``"batch"`` (masked), ``"layer"`` or ``None``, between layers.
        go_backwards: every unidirectional layer scans from the end.
        masked_output: ``"zero"`` or ``"carry"``, see :class:`Recurrent`.
        init: ``"keras"`` (Glorot / orthogonal / zero biases, forget bias 1) or ``"torch"``.
        impl: ``"auto"``, ``"torch"``, ``"fused"``, ``"parallel"`` or ``"loop"``, see
            :class:`Recurrent`.
        checkpoint_steps: activation checkpointing over chunks of this many steps.
        batch_first: input (N, T, I) when True (as in Keras), else (T, N, I).
        return_sequences: return the outputs of every step, or (N, F) at each row's last real
            step when False.
        return_state: also return the final :class:`~deeprnn.States`.
        stateful: carry the final states into the next call (``reset_states()`` clears them).
        input_dropout: dropout on each layer's inputs (Keras ``dropout``).
        output_dropout: dropout on each layer's outputs, a fresh mask per step.
        cell_options: extra keyword arguments of the cell class, e.g. ``{"candidate":
            "identity"}`` (minGRU / minLSTM) or ``{"r_min": 0.5, "r_max": 0.99}`` (LRU).
        input_dropout_same_mask: one ``input_dropout`` mask per sequence (Keras) or a fresh one
            per step (TF1 ``DropoutWrapper``).
        kernel_regularizer: penalty on every layer's input weights (``"l1"``, ``"l2"``,
            ``0.01``, an :class:`~deeprnn.layers.L1L2` ...), see
            :mod:`deeprnn.layers.regularizers`.
        recurrent_regularizer: penalty on the recurrent weights.
        bias_regularizer: penalty on the biases.
        activity_regularizer: penalty on each layer's output (sequences between layers, the
            returned output last).
        kernel_constraint: projection of the input weights after each optimizer step
            (``"non_neg"``, ``"max_norm"``, a :class:`~deeprnn.layers.MaxNorm` ...).
        recurrent_constraint: the same for the recurrent weights.
        bias_constraint: the same for the biases.
        kernel_initializer: Keras initializer name for the input weights (``None``: ``init``).
        recurrent_initializer: for the recurrent weights.
        bias_initializer: for the biases.
        learn_initial_state: a trainable initial state instead of zeros.

    Returns the last layer's outputs (N, T, F) — or (N, F) at each row's last real step — and,
    with ``return_state``, :class:`~deeprnn.States` for every layer and direction.

    >>> net = DeepRNN(16, layers=[dict(cell="lstm", hidden_size=32, bidirectional=True),
    ...                           dict(cell="gru", hidden_size=24), dict(cell="rnn", hidden_size=8)])
    >>> out, states = net(torch.randn(4, 10, 16), lengths=torch.tensor([10, 2, 0, 5]))
    >>> out.shape, states.layout
    (torch.Size([4, 10, 8]), (2, 1, 1))
    """

    def __init__(
        self,
        input_size: int,
        layers: list | None = None,
        *,
        cell: str = "lstm",
        hidden_size: int | None = None,
        num_layers: int | None = None,
        bidirectional: bool = False,
        merge_mode: str | None = "concat",
        activation: str = "tanh",
        reset_after: bool = True,
        layer_norm: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        highway: bool = False,
        norm: str | None = None,
        dim_feedforward: int | None = None,
        go_backwards: bool = False,
        masked_output: str = "zero",
        init: str = "keras",
        impl: str = "auto",
        checkpoint_steps: int | None = None,
        batch_first: bool = True,
        return_sequences: bool = True,
        return_state: bool = True,
        stateful: bool = False,
        input_dropout: float = 0.0,
        output_dropout: float = 0.0,
        cell_options: dict | None = None,
        input_dropout_same_mask: bool = True,
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
        given = locals()
        keras_options = {k: given[k] for k in STACK_OPTIONS}
        super().__init__(
            batch_first=batch_first,
            return_sequences=return_sequences,
            return_state=return_state,
            stateful=stateful,
        )
        self.keras_options = keras_options
        self.input_size = check_positive_int("input_size", input_size)
        defaults = LayerSpec(
            hidden_size=hidden_size,
            cell=cell,
            bidirectional=bidirectional,
            merge_mode=merge_mode,
            activation=activation,
            reset_after=reset_after,
            layer_norm=layer_norm,
            bias=bias,
            recurrent_dropout=recurrent_dropout,
            zoneout=zoneout,
            input_dropout=input_dropout,
            output_dropout=output_dropout,
            cell_options=cell_options,
        )
        if layers is None:
            if hidden_size is None:
                raise ValueError("pass hidden_size (with num_layers) or layers, got neither")
            layers = [LayerSpec()] * check_positive_int(
                "num_layers", 1 if num_layers is None else num_layers
            )
        elif hidden_size is not None or num_layers is not None:
            raise ValueError("pass either layers or hidden_size/num_layers, not both")
        if not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError(f"layers must be a non-empty list, got {layers!r}")
        self.specs = [
            self._resolve(LayerSpec.coerce(s, i), defaults, i, len(layers))
            for i, s in enumerate(layers)
        ]
        self.dropout = check_probability("dropout", dropout)
        self.weight_dropout = check_probability("weight_dropout", weight_dropout)
        self.residual = check_bool("residual", residual)
        self.highway = check_bool("highway", highway)
        if residual and highway:
            raise ValueError("residual and highway are alternatives; got both True")
        if dim_feedforward is not None:
            check_positive_int("dim_feedforward", dim_feedforward)
        self.dim_feedforward = dim_feedforward
        self.norm = norm
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
        self.go_backwards = check_bool("go_backwards", go_backwards)
        self.masked_output = check_choice("masked_output", masked_output, MASKED_OUTPUTS)
        self.init = check_choice("init", init, INITS)
        self.impl = check_choice("impl", impl, IMPLS)
        if checkpoint_steps is not None:
            check_positive_int("checkpoint_steps", checkpoint_steps)
        self.checkpoint_steps = checkpoint_steps
        self._build()
        linear = [type(c).__name__ for c in self._cells() if getattr(c, "scan_kind", "")]
        if self.weight_dropout and linear:
            raise ValueError(
                f"weight_dropout must be 0 with {linear[0]} (a linear recurrence has no "
                f"recurrent matrix to drop), got {weight_dropout}; use dropout or input_dropout"
            )
        self._dropping = False  # inside forward's functional_call with dropped weights

    # -- construction ------------------------------------------------------------------------
    @staticmethod
    def _resolve(spec: LayerSpec, defaults: LayerSpec, i: int, n: int) -> LayerSpec:
        merged = {}
        for f in fields(LayerSpec):
            value = getattr(spec, f.name)
            inherit = value == "inherit" if f.name == "merge_mode" else value is None
            merged[f.name] = getattr(defaults, f.name) if inherit else value
        r = LayerSpec(**merged)
        where = f"layers[{i}]"
        if r.hidden_size is None:
            raise ValueError(f"{where}: hidden_size is required")
        check_positive_int(f"{where}.hidden_size", r.hidden_size)
        check_choice(f"{where}.cell", r.cell, CELLS)
        check_bool(f"{where}.bidirectional", r.bidirectional)
        check_merge_mode(r.merge_mode)
        if r.merge_mode is None and r.bidirectional and i != n - 1:
            raise ValueError(f"{where}: merge_mode=None is only allowed on the last layer")
        check_choice(f"{where}.activation", r.activation, ACTIVATIONS)
        check_bool(f"{where}.reset_after", r.reset_after)
        check_bool(f"{where}.layer_norm", r.layer_norm)
        check_bool(f"{where}.bias", r.bias)
        check_probability(f"{where}.recurrent_dropout", r.recurrent_dropout)
        check_probability(f"{where}.zoneout", r.zoneout)
        check_probability(f"{where}.input_dropout", r.input_dropout)
        check_probability(f"{where}.output_dropout", r.output_dropout)
        if r.cell_options is not None:
            if not isinstance(r.cell_options, dict):
                raise ValueError(
                    f"{where}.cell_options must be a dict or None, got {r.cell_options!r}"
                )
            params = inspect.signature(CELLS[r.cell][0]).parameters
            fixed = ("input_size", "hidden_size", "bias", "init")
            for key in r.cell_options:
                if key not in params or key in fixed:
                    known = [k for k in params if k not in fixed]
                    raise ValueError(
                        f"{where}.cell_options has {key!r}, not an option of cell {r.cell!r}; "
                        f"its options: {known}"
                    )
        if r.layer_norm and CELLS[r.cell][1] is None:
            raise ValueError(
                f"{where}: layer_norm is available for 'lstm' and 'gru', got cell {r.cell!r}"
            )
        if r.layer_norm and r.cell == "gru" and not r.reset_after:
            raise ValueError(
                f"{where}: the layer-norm GRU is reset-after only; got reset_after=False"
            )
        return r

    def _make_cell(self, spec: LayerSpec, input_size: int):
        plain, normed = CELLS[spec.cell]
        cls = normed if spec.layer_norm else plain
        kwargs: dict[str, Any] = {"bias": spec.bias, "init": self.init}
        if spec.cell == "rnn":
            kwargs["activation"] = spec.activation
        if spec.cell == "gru" and not spec.layer_norm:
            kwargs["reset_after"] = spec.reset_after
        kwargs.update(spec.cell_options or {})
        return cls(input_size, spec.hidden_size, **kwargs)

    def _build(self) -> None:
        self.blocks = nn.ModuleList()
        self.skips = nn.ModuleList()  # residual / highway projections, for layers 1..L-1
        self.gates = nn.ModuleList()  # highway gates
        self.norms = nn.ModuleList()  # between layers 0..L-2
        self.feedforwards = nn.ModuleList()  # after every layer (dim_feedforward)
        size = self.input_size
        for i, spec in enumerate(self.specs):
            rec = Recurrent(
                self._make_cell(spec, size),
                go_backwards=self.go_backwards,
                recurrent_dropout=spec.recurrent_dropout,
                zoneout=spec.zoneout,
                masked_output=self.masked_output,
                impl=self.impl,
                checkpoint_steps=self.checkpoint_steps,
                input_dropout=spec.input_dropout,
                output_dropout=spec.output_dropout,
                **self.keras_options,
            )
            block = Bidirectional(rec, merge_mode=spec.merge_mode) if spec.bidirectional else rec
            self.blocks.append(block)
            out = block.output_size
            mixing = self.residual or self.highway or self.dim_feedforward
            if mixing and spec.bidirectional and spec.merge_mode is None:
                raise ValueError(
                    f"layers[{i}]: residual/highway/dim_feedforward need a merged output, "
                    "got merge_mode=None"
                )
            if self.dim_feedforward:
                self.feedforwards.append(FeedForward(out, self.dim_feedforward))
            if i > 0 and (self.residual or self.highway):
                self.skips.append(
                    nn.Identity() if size == out else nn.Linear(size, out, bias=False)
                )
                if self.highway:
                    gate = nn.Linear(size, out)
                    nn.init.constant_(gate.bias, -1.0)  # start close to the carry path
                    self.gates.append(gate)
            if i < len(self.specs) - 1 and self.norm is not None:
                self.norms.append(
                    MaskedBatchNorm1d(out) if self.norm == "batch" else nn.LayerNorm(out)
                )
            size = out
        self.output_size = size
        self.layout = tuple(2 if s.bidirectional else 1 for s in self.specs)
        self.drop = nn.Dropout(self.dropout)

    def _cells(self):
        return [c for b in self.blocks for c in b._cells()]

    def _recurrents(self):
        return [r for b in self.blocks for r in b._recurrents()]

    def _penalised(self):
        # Keras: each layer's activity penalty is on its output — sequences between layers
        last = len(self.blocks) - 1
        seq = [i < last or self.return_sequences for i in range(len(self.blocks))]
        return [(r, seq[i]) for i, b in enumerate(self.blocks) for r in b._recurrents()]

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: Tensor, lengths=None, mask=None, initial_state=None):
        if not (self.weight_dropout and self.training) or self._dropping:
            return super().forward(x, lengths, mask, initial_state)
        dropped = drop_recurrent_weights(self, self.weight_dropout)  # one mask for the call
        self._dropping = True
        try:
            kwargs = {"lengths": lengths, "mask": mask, "initial_state": initial_state}
            return torch.func.functional_call(self, dropped, (x,), kwargs, strict=False)
        finally:
            self._dropping = False

    def _run(self, x: Tensor, mask: Tensor | None, states: list):
        finals: list = []
        last = len(self.blocks) - 1
        summary = None
        offset = 0
        for i, block in enumerate(self.blocks):
            n = self.layout[i]
            y, summary, fin = block._run(x, mask, states[offset : offset + n])
            offset += n
            finals.extend(fin)
            if i > 0 and (self.residual or self.highway):
                skip = self.skips[i - 1](x)
                if self.highway:
                    g = torch.sigmoid(self.gates[i - 1](x))
                    y = g * y + (1 - g) * skip
                else:
                    y = y + skip
            if self.dim_feedforward:
                y = self.feedforwards[i](y)
            if i < last:
                if self.norm == "batch":
                    y = self.norms[i](y, mask)
                elif self.norm == "layer":
                    y = self.norms[i](y)
                if self.dropout and self.training:
                    # the same seed gives the same mask whichever kernel produced y (layouts differ)
                    y = self.drop(y.contiguous())
            if mask is not None and self.masked_output == "zero" and not isinstance(y, tuple):
                y = y * mask[..., None]
            x = y
        if (last > 0 and (self.residual or self.highway)) or self.dim_feedforward:
            summary = self._summary_from_outputs(x, mask)
        return x, summary, finals

    def _summary_from_outputs(self, out: Tensor, mask: Tensor | None) -> Tensor:
        """The output at each row's last real step (first, for a backward-only stack)."""
        batch, steps = out.shape[:2]
        backwards = self.go_backwards and not self.specs[-1].bidirectional
        index = last_step_index(mask, batch, steps, backwards, out.device)
        if mask is None:
            return _gather_steps(out, index)
        return _gather_steps(out, index) * mask.any(dim=1, keepdim=True)

    # -- config ----------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "layers": [asdict(s) for s in self.specs],
            "dropout": self.dropout,
            "weight_dropout": self.weight_dropout,
            "residual": self.residual,
            "highway": self.highway,
            "norm": self.norm,
            "dim_feedforward": self.dim_feedforward,
            "go_backwards": self.go_backwards,
            "masked_output": self.masked_output,
            "init": self.init,
            "impl": self.impl,
            "checkpoint_steps": self.checkpoint_steps,
            **self._base_config(),
            **{k: v for k, v in self._recurrents()[0].keras_config().items() if k in STACK_OPTIONS},
        }

    def extra_repr(self) -> str:
        opts = {
            k: getattr(self, k)
            for k in ("dropout", "weight_dropout", "residual", "highway", "norm", "dim_feedforward")
            if getattr(self, k)
        }
        return ", ".join(f"{k}={v!r}" for k, v in opts.items())
