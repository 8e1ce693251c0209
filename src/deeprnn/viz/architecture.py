"""Architecture diagrams: walk a model's module tree and draw (or list) its layers.

:func:`describe` turns any model — a :class:`~deeprnn.DeepRNN` / ``LSTM`` / ``GRU`` /
``SimpleRNN`` stack, a :class:`~deeprnn.Bidirectional` layer, a task model of
:mod:`deeprnn.tasks`, a :class:`~deeprnn.Seq2Seq` — into a flat list of :class:`Block` in data
flow order (the order modules are registered, which is how every deeprnn model is written).
:func:`architecture_text` prints it; :func:`plot_architecture` draws it: one box per layer with
its cell type and sizes, bidirectional layers as a forward and a backward box side by side,
residual / highway connections as bypass arrows, norm and dropout as thin boxes between layers,
and an encoder / decoder column pair joined by the attention memory for sequence-to-sequence
models.

>>> import deeprnn
>>> net = deeprnn.DeepRNN(8, layers=[dict(cell="lstm", hidden_size=16, bidirectional=True),
...                                  dict(cell="gru", hidden_size=8)], residual=True)
>>> print(architecture_text(net).splitlines()[2].split()[:3])
['blocks.0', 'Bidirectional', 'LSTM']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from deeprnn.viz._mpl import pyplot, save

#: box colours by category
COLORS = {
    "rnn": "#cfe2f3",
    "embedding": "#e6e6e6",
    "linear": "#e4d7f5",
    "attention": "#f8d0cf",
    "norm": "#fff2cc",
    "dropout": "#f3f3f3",
    "pool": "#d9ead3",
    "other": "#fce5cd",
}
_ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU, nn.Softmax)


@dataclass
class Block:
    """One box of the diagram.

    Attributes:
        name: the module path (``encoder.rnn.blocks.0``).
        kind: what it is (``LSTM``, ``Bidirectional GRU``, ``Embedding``, ``Dropout`` ...).
        sizes: input → output sizes as text (``16 → 2×32 → 64 (concat)``).
        notes: extra options (``recurrent dropout 0.25``, ``layer norm`` ...).
        category: ``rnn``, ``embedding``, ``linear``, ``attention``, ``norm``, ``dropout``,
            ``pool`` or ``other`` (the colour).
        bidirectional: drawn as a forward and a backward box.
        skip: ``"residual"`` / ``"highway"`` (+ projection) connection around this block.
        small: a thin box (norm, dropout, activation).
        column: ``"encoder"`` / ``"decoder"`` inside a sequence-to-sequence model, else None.
    """

    name: str
    kind: str
    sizes: str = ""
    notes: list[str] = field(default_factory=list)
    category: str = "other"
    bidirectional: bool = False
    skip: str | None = None
    small: bool = False
    column: str | None = None

    def line(self) -> str:
        """The block as one text line (without the name)."""
        parts = [self.kind]
        if self.sizes:
            parts.append(self.sizes)
        if self.bidirectional:
            parts.append("[forward →, backward ←]")
        notes = list(self.notes) + ([f"+ {self.skip} connection"] if self.skip else [])
        if notes:
            parts.append("; ".join(notes))
        return "  ".join(parts)


# -- walking the module tree -----------------------------------------------------------------


def _cell_name(cell) -> str:
    return type(cell).__name__.removesuffix("Cell")


def _rnn_block(module, name: str, column: str | None) -> Block:
    """A Recurrent or Bidirectional layer."""
    from deeprnn.layers.bidirectional import Bidirectional

    bidi = isinstance(module, Bidirectional)
    layer = module.forward_layer if bidi else module
    cell = layer.cell
    kind = _cell_name(cell)
    size_in, hidden = layer.input_size, layer.hidden_size
    if bidi:
        merge = module.merge_mode or "tuple"
        sizes = f"{size_in} → 2×{hidden} → {module.output_size} ({merge})"
        if module.merge_mode is None:
            sizes = f"{size_in} → 2×{hidden} (forward, backward)"
        kind = f"Bidirectional {kind}"
    else:
        sizes = f"{size_in} → {hidden}"
    notes = []
    if getattr(cell, "activation", "tanh") != "tanh":
        notes.append(f"activation {cell.activation}")
    if getattr(cell, "reset_after", True) is False:
        notes.append("reset before")
    if layer.recurrent_dropout:
        notes.append(f"recurrent dropout {layer.recurrent_dropout:g}")
    if layer.zoneout:
        notes.append(f"zoneout {layer.zoneout:g}")
    if layer.go_backwards and not bidi:
        notes.append("backwards ←")
    return Block(name, kind, sizes, notes, "rnn", bidirectional=bidi, column=column)


def _stack(net, name: str, column: str | None, out: list[Block]) -> None:
    """Every layer of a DeepRNN, with the connections and regularisers between them."""
    last = len(net.blocks) - 1
    join = f"{name}." if name else ""
    for i, layer in enumerate(net.blocks):
        block = _rnn_block(layer, f"{join}blocks.{i}", column)
        if i > 0 and (net.residual or net.highway):
            skip = "highway" if net.highway else "residual"
            proj = net.skips[i - 1]
            if isinstance(proj, nn.Linear):
                skip += f" (projection {proj.in_features}→{proj.out_features})"
            block.skip = skip
        out.append(block)
        if i < last:
            if len(net.norms) > i:
                norm = net.norms[i]
                kind = "LayerNorm" if isinstance(norm, nn.LayerNorm) else "BatchNorm (masked)"
                out.append(
                    Block(f"{join}norms.{i}", kind, "", [], "norm", small=True, column=column)
                )
            if net.dropout:
                out.append(
                    Block(
                        f"{join}drop",
                        f"Dropout {net.dropout:g}",
                        "",
                        [],
                        "dropout",
                        small=True,
                        column=column,
                    )
                )


def _leaf(module: nn.Module, name: str, column: str | None) -> Block | bool | None:
    """A block for a module drawn as one box; False to leave it out; None to look inside."""
    from deeprnn.attention._base import AttentionBase
    from deeprnn.layers.norm import MaskedBatchNorm1d

    if isinstance(module, nn.Embedding):
        sizes = f"{module.num_embeddings} → {module.embedding_dim}"
        return Block(name, "Embedding", sizes, [], "embedding", column=column)
    if isinstance(module, nn.Linear):
        sizes = f"{module.in_features} → {module.out_features}"
        return Block(name, "Linear", sizes, [], "linear", column=column)
    if isinstance(module, nn.Conv1d):
        sizes = f"{module.in_channels} → {module.out_channels}"
        return Block(
            name, "Conv1D", sizes, [f"kernel {module.kernel_size[0]}"], "linear", column=column
        )
    if isinstance(module, nn.Dropout):
        if not module.p:
            return False
        return Block(name, f"Dropout {module.p:g}", "", [], "dropout", small=True, column=column)
    if isinstance(module, nn.Identity):
        return False
    if isinstance(module, (nn.LayerNorm, MaskedBatchNorm1d, nn.BatchNorm1d)):
        kind = "LayerNorm" if isinstance(module, nn.LayerNorm) else "BatchNorm"
        return Block(name, kind, "", [], "norm", small=True, column=column)
    if isinstance(module, _ACTIVATIONS):
        return Block(name, type(module).__name__, "", [], "other", small=True, column=column)
    if isinstance(module, AttentionBase):
        sizes = " ".join(
            f"{label} {getattr(module, attr)}"
            for label, attr in (
                ("query", "query_size"),
                ("key", "key_size"),
                ("units", "attention_size"),
            )
            if getattr(module, attr, None)
        )
        return Block(name, type(module).__name__, sizes, [], "attention", column=column)
    kind = type(module).__name__
    if kind == "Pool":
        return Block(
            name, f"Pool ({module.kind})", f"→ {module.output_size}", [], "pool", column=column
        )
    if kind == "CRF":
        return Block(
            name, "CRF", f"{module.num_tags} tags", ["Viterbi decoding"], "pool", column=column
        )
    if kind == "Bridge":
        return Block(
            name, "Bridge (encoder state → decoder state)", "", [], "linear", column=column
        )
    if not any(True for _ in module.children()):
        n = sum(p.numel() for p in module.parameters())
        return (
            Block(name, kind, f"{n:,} params" if n else "", [], "other", column=column)
            if n
            else False
        )
    return None


def _walk(module: nn.Module, name: str, column: str | None, out: list[Block]) -> None:
    from deeprnn.layers.bidirectional import Bidirectional
    from deeprnn.layers.recurrent import Recurrent
    from deeprnn.layers.stacked import DeepRNN
    from deeprnn.seq2seq.decoder import AttentionDecoder
    from deeprnn.seq2seq.encoder import Encoder

    try:
        from torchmetrics import Metric
    except ImportError:  # pragma: no cover
        Metric = ()
    if isinstance(module, Metric) or type(module).__module__.startswith("torchmetrics"):
        return
    if isinstance(module, Encoder):
        column = "encoder"
    elif isinstance(module, AttentionDecoder):
        column = "decoder"
    if isinstance(module, DeepRNN):
        _stack(module, name, column, out)
        return
    if isinstance(module, (Bidirectional, Recurrent)):
        out.append(_rnn_block(module, name or type(module).__name__.lower(), column))
        return
    leaf = _leaf(module, name, column) if name else None
    if leaf is False:
        return
    if isinstance(leaf, Block):
        out.append(leaf)
        return
    for child_name, child in module.named_children():
        _walk(child, f"{name}.{child_name}" if name else child_name, column, out)


def describe(model: nn.Module, example=None) -> list[Block]:
    """The layers of ``model`` as :class:`Block` s, in data-flow order.

    Without ``example`` that is the order the modules are registered in. With ``example`` the
    model is run once and the blocks are put in the order their modules are first called: a
    model that declares its convolutions before its norms (``convs``, ``norms``) but calls them
    conv, norm, conv, norm is drawn as called. ``example`` is a tuple of positional inputs, a
    dict of keyword inputs, or a function of no argument that runs the model (for a wrapper
    around it); a block never called keeps its place after the block declared before it.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    out: list[Block] = []
    _walk(model, "", None, out)
    if not out:
        raise ValueError(f"{type(model).__name__} has no layers to describe")
    if example is not None:
        from deeprnn.viz._call_order import in_call_order

        out = in_call_order(model, out, example)
    return out


def _title(model: nn.Module) -> str:
    n = sum(p.numel() for p in model.parameters())
    return f"{type(model).__name__}: {n:,} parameters"


def architecture_text(model: nn.Module, example=None) -> str:
    """One line per layer: module path, kind (cell type, direction), sizes, options.

    Inside a sequence-to-sequence model the lines are grouped under ``[encoder]`` and
    ``[decoder]``. ``example``: see :func:`describe` (the lines in the order the layers run).
    """
    blocks = describe(model, example)
    width = max(len(b.name) for b in blocks)
    lines = [_title(model), "-" * len(_title(model))]
    column = None
    for b in blocks:
        if b.column != column and b.column is not None:
            lines.append(f"[{b.column}]")
        column = b.column
        lines.append(f"{b.name:<{width}}  {b.line()}")
    return "\n".join(lines)


# -- drawing -------------------------------------------------------------------------------------

_W = 6.0  # box width (data units)
_GAP = 0.5


def _height(b: Block) -> float:
    if b.small:
        return 0.42
    return 1.45 if b.bidirectional else 0.95


def _draw_block(ax, b: Block, cx: float, top: float) -> float:
    """Draw ``b`` with its top edge at ``top``; returns its bottom edge."""
    from matplotlib.patches import FancyBboxPatch

    h = _height(b)
    bottom = top - h
    box = FancyBboxPatch(
        (cx - _W / 2, bottom),
        _W,
        h,
        boxstyle="round,pad=0.02,rounding_size=0.12",
        fc=COLORS.get(b.category, COLORS["other"]),
        ec="0.35",
        lw=0.9,
    )
    ax.add_patch(box)
    if b.small:
        ax.text(cx, bottom + h / 2, b.kind, ha="center", va="center", fontsize=8, color="0.2")
        return bottom
    ax.text(cx, top - 0.22, b.kind, ha="center", va="center", fontsize=9.5, weight="bold")
    ax.text(
        cx - _W / 2 + 0.1, top - 0.2, b.name, ha="left", va="center", fontsize=6.5, color="0.45"
    )
    detail = "   ".join(x for x in [b.sizes, "; ".join(b.notes)] if x)
    if b.bidirectional:
        ax.text(cx, top - 0.48, detail, ha="center", va="center", fontsize=7.5)
        for side, label, arrow in ((-1, "forward", "->"), (1, "backward", "<-")):
            x0 = cx + side * _W / 4
            inner = FancyBboxPatch(
                (x0 - _W / 4 + 0.2, bottom + 0.12),
                _W / 2 - 0.4,
                0.55,
                boxstyle="round,pad=0.01,rounding_size=0.08",
                fc="white",
                ec="0.5",
                lw=0.7,
            )
            ax.add_patch(inner)
            ax.annotate(
                "",
                xy=(x0 + 0.75, bottom + 0.32),
                xytext=(x0 - 0.75, bottom + 0.32),
                arrowprops={"arrowstyle": arrow, "color": "tab:blue", "lw": 1.4},
            )
            ax.text(
                x0,
                bottom + 0.55,
                f"{label} (t = {'1 → T' if side < 0 else 'T → 1'})",
                ha="center",
                va="center",
                fontsize=7,
            )
    else:
        ax.text(cx, bottom + 0.28, detail, ha="center", va="center", fontsize=8)
    return bottom


def _arrow(ax, x0, y0, x1, y1, **kw) -> None:
    props = {"arrowstyle": "-|>", "color": "0.3", "lw": 1.0, "shrinkA": 0, "shrinkB": 0}
    props.update(kw)
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=props)


def _link(ax, where: dict, src: Block, dst: Block, label: str, dy: float, **kw) -> None:
    """An arrow from ``src`` in the left column to ``dst`` in the right one, labelled midway."""
    t0, b0 = where[src.name]
    t1, b1 = where[dst.name]
    _arrow(ax, 3.9 + _W / 2, (t0 + b0) / 2, 7.6 + 3.9 - _W / 2, (t1 + b1) / 2, **kw)
    mid = (t0 + b0 + t1 + b1) / 4 + dy
    ax.text(7.6, mid, label, color=kw.get("color", "0.3"), fontsize=8, ha="center")


def _draw_column(ax, blocks: list[Block], cx: float, top: float) -> dict[str, tuple]:
    """Draw blocks top to bottom; returns ``{name: (top, bottom)}``."""
    where: dict[str, tuple] = {}
    y = top
    prev_bottom = None
    for b in blocks:
        if prev_bottom is not None:
            _arrow(ax, cx, prev_bottom, cx, y)
        bottom = _draw_block(ax, b, cx, y)
        where[b.name] = (y, bottom)
        if b.skip:
            y_in = y + _GAP / 2  # the layer's input, on the arrow above it
            y_out = bottom - _GAP / 2  # added to its output below it
            xl = cx - _W / 2 - 0.45
            ax.plot([cx, xl, xl], [y_in, y_in, y_out], color="tab:green", lw=1.2)
            _arrow(ax, xl, y_out, cx - 0.12, y_out, color="tab:green", lw=1.2)
            ax.text(
                cx,
                y_out,
                "+",
                ha="center",
                va="center",
                fontsize=9,
                color="tab:green",
                weight="bold",
                bbox={"boxstyle": "circle,pad=0.05", "fc": "white", "ec": "tab:green"},
            )
            ax.text(
                xl - 0.1,
                (y_in + y_out) / 2,
                b.skip,
                rotation=90,
                ha="right",
                va="center",
                fontsize=7,
                color="tab:green",
            )
        prev_bottom = bottom
        y = bottom - _GAP
    return where


def _column_height(blocks: list[Block]) -> float:
    return sum(_height(b) for b in blocks) + _GAP * max(len(blocks) - 1, 0)


def plot_architecture(
    model: nn.Module, path: str | Path, title: str | None = None, *, example=None
) -> Path:
    """Draw the layers of ``model`` (see :func:`describe`) to a PNG at ``path``.

    Boxes show each layer's cell type and input → hidden → output sizes; bidirectional layers
    get a forward and a backward box; residual/highway connections are green bypass arrows;
    norm and dropout between layers are thin boxes. A sequence-to-sequence model is drawn as an
    encoder and a decoder column, the encoder's outputs feeding the decoder's attention.
    ``example``: inputs to run the model on once, so the boxes follow the order the layers are
    called in (see :func:`describe`); without it, the order they are declared in.
    """
    plt = pyplot()
    blocks = describe(model, example)
    columns: dict[str | None, list[Block]] = {}
    for b in blocks:
        key = "encoder" if b.column is None and any(x.column for x in blocks) else b.column
        columns.setdefault(key, []).append(b)
    keys = list(columns)
    height = max(_column_height(c) for c in columns.values()) + 1.2
    width = 7.6 * len(keys)
    fig, ax = plt.subplots(figsize=(width * 0.82, max(2.2, height * 0.62)))
    ax.set_xlim(0, width)
    ax.set_ylim(-0.3, height)
    ax.axis("off")
    where: dict[str, tuple] = {}
    for j, key in enumerate(keys):
        cx = 7.6 * j + 3.9
        if key is not None:
            ax.text(cx, height - 0.35, key, ha="center", va="center", fontsize=10, style="italic")
        where.update(_draw_column(ax, columns[key], cx, height - 0.7))
    if len(keys) == 2:  # the encoder outputs are the decoder attention's memory
        enc_rnn = [b for b in columns[keys[0]] if b.category == "rnn"]
        attn = [b for b in columns[keys[1]] if b.category == "attention"]
        if enc_rnn and attn:
            _link(ax, where, enc_rnn[-1], attn[0], "memory", 0.25, color="tab:red", lw=1.3,
                  connectionstyle="arc3,rad=-0.15")  # fmt: skip
        bridge = [b for b in columns[keys[0]] if b.kind.startswith("Bridge")]
        dec_rnn = [b for b in columns[keys[1]] if b.category == "rnn"]
        if bridge and dec_rnn:  # the encoder's final states initialise the decoder
            _link(ax, where, bridge[0], dec_rnn[0], "initial state", -0.3, color="tab:purple",
                  lw=1.1, ls="--", connectionstyle="arc3,rad=0.1")  # fmt: skip
    ax.set_title(title or _title(model), fontsize=11)
    fig.tight_layout()
    return save(fig, path)
