"""``deeprnn.summary``: the Keras-style table of layers, output shapes and parameters."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeprnn.layers._sequence import SequenceLayer


def _is_row(module: nn.Module) -> bool:
    """A module that reports its own rows: deeprnn layers and modules without children."""
    return isinstance(module, SequenceLayer) or not any(True for _ in module.children())


def _describe(block: nn.Module) -> str:
    from deeprnn.layers.bidirectional import Bidirectional

    if isinstance(block, Bidirectional):
        return f"Bidirectional({_describe(block.forward_layer)})"
    cell = getattr(block, "cell", None)
    return type(cell).__name__.removesuffix("Cell") if cell is not None else type(block).__name__


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _rows_for(name: str, module: nn.Module, out) -> list[tuple[str, str, str, int]]:
    """One row per recurrent layer of a deeprnn stack; one row for anything else."""
    blocks = getattr(module, "blocks", None)
    if not isinstance(module, SequenceLayer) or blocks is None:
        return [(name, _describe(module), _shape_of(out), _n_params(module))]
    out_t = out[0] if isinstance(out, tuple) and module.return_state else out
    seq = isinstance(out_t, torch.Tensor) and out_t.dim() == 3
    steps = out_t.shape[1 if module.batch_first else 0] if seq else None
    rows = []
    for i, block in enumerate(blocks):
        shape = (
            (None, steps, block.output_size)
            if seq or i < len(blocks) - 1
            else (None, block.output_size)
        )
        rows.append((f"{name}.blocks.{i}", _describe(block), str(shape), _n_params(block)))
    rest = _n_params(module) - sum(_n_params(b) for b in blocks)
    if rest:
        rows.append((f"{name}.connections", "skip/norm", "-", rest))
    return rows


def _shape_of(out) -> str:
    if isinstance(out, torch.Tensor):
        return str((None, *out.shape[1:]))
    if isinstance(out, (tuple, list)) and out:
        return _shape_of(out[0])
    return "?"


def summary(
    model: nn.Module,
    input_size: Sequence[int] | None = None,
    *,
    input_data=None,
    dtype: torch.dtype = torch.float32,
    print_fn=print,
) -> str:
    """Print and return a table: layer, type, output shape, parameters; then the totals.

    Args:
        model: any module containing deeprnn layers.
        input_size: ``(T, I)`` of one example (a batch of one is run), or give
            ``input_data`` (a tensor, or a tuple of positional inputs) for other inputs such as
            token ids.

    Totals: trainable and non-trainable parameters, as Keras reports them.
    """
    if input_data is None:
        if input_size is None:
            raise ValueError("pass input_size=(T, I) or input_data")
        if len(input_size) != 2 or not all(isinstance(s, int) and s > 0 for s in input_size):
            raise ValueError(
                f"input_size must be (T, I) with positive ints, got {tuple(input_size)}"
            )
        steps, features = input_size
        if isinstance(model, SequenceLayer) and not model.batch_first:
            input_data = torch.zeros(steps, 1, features, dtype=dtype)
        else:
            input_data = torch.zeros(1, steps, features, dtype=dtype)
    inputs = input_data if isinstance(input_data, tuple) else (input_data,)
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    seen: set[int] = set()

    def visit(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if _is_row(child):
                if id(child) in seen:
                    continue
                seen.add(id(child))

                def hook(mod, args, out, full=full):
                    rows.extend(_rows_for(full, mod, out))

                hooks.append(child.register_forward_hook(hook))
            else:
                visit(full, child)

    if _is_row(model):
        name = type(model).__name__.lower()
        hooks.append(
            model.register_forward_hook(lambda mod, a, out: rows.extend(_rows_for(name, mod, out)))
        )
    else:
        visit("", model)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    header = ("Layer", "Type", "Output Shape", "Param #")
    body = [(a, b, c, f"{d:,}") for a, b, c, d in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths[:3]) + f"  {{:>{widths[3]}}}"
    rule = "=" * (sum(widths) + 6)
    text = [f"Model: {type(model).__name__}", rule, line.format(*header), rule]
    text += [line.format(*r) for r in body]
    text += [
        rule,
        f"Total params: {trainable + frozen:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {frozen:,}",
        rule,
    ]
    out = "\n".join(text)
    if print_fn is not None:
        print_fn(out)
    return out
